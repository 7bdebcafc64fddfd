"""privacy: erasure requests, retention date and pseudonymisation time on users

Reviewed by hand: three nullable columns and an index on the retention date (the purge
command looks for accounts whose retention has ended).

Revision ID: a8e4c1f9d307
Revises: f6d2a7c9e105
Create Date: 2026-11-24 13:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a8e4c1f9d307'
down_revision = 'f6d2a7c9e105'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erasure_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retain_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_retain_until'), ['retain_until'], unique=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_retain_until'))
        batch_op.drop_column('erased_at')
        batch_op.drop_column('retain_until')
        batch_op.drop_column('erasure_requested_at')
