"""sign-in security: TOTP two-factor columns, and account activation by e-mail

Reviewed by hand: the TOTP columns are nullable; ``awaiting_activation`` is false for
existing accounts (created by an administrator, or registered before activation
existed), which must keep signing in.

Revision ID: f6d2a7c9e105
Revises: d4a8b2e6f302
Create Date: 2026-11-24 12:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f6d2a7c9e105'
down_revision = 'd4a8b2e6f302'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column('awaiting_activation', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        # The default served existing rows only; the application always sets the value.
        batch_op.alter_column('awaiting_activation', server_default=None)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('awaiting_activation')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_confirmed_at')
        batch_op.drop_column('totp_secret')
