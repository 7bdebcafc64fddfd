"""payouts: batches of approved claims (SEPA credit transfers) and their lines

Reviewed by hand: the two partial unique indexes are rule 4 in the database (a claim is
in at most one open payout and is paid at most once); autogenerate would not write
their WHERE clauses for both dialects.

Revision ID: c3f5a9d1e201
Revises: 96ba0fff2ac3
Create Date: 2026-11-24 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f5a9d1e201'
down_revision = '96ba0fff2ac3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'payouts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column(
            'status',
            sa.Enum('open', 'executed', 'cancelled', name='status', native_enum=False,
                    create_constraint=True, length=9),
            nullable=False,
        ),
        sa.Column('reference', sa.String(length=35), nullable=False),
        sa.Column('requested_execution_date', sa.Date(), nullable=False),
        sa.Column('debtor_name', sa.String(length=70), nullable=False),
        sa.Column('debtor_iban', sa.String(length=34), nullable=False),
        sa.Column('debtor_bic', sa.String(length=11), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('executed_on', sa.Date(), nullable=True),
        sa.Column('bank_reference', sa.String(length=100), nullable=False),
        sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('executed_by_id', sa.Integer(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_payouts_project_id_projects')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payouts_created_by_id_users')),
        sa.ForeignKeyConstraint(['executed_by_id'], ['users.id'], name=op.f('fk_payouts_executed_by_id_users')),
        sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_payouts_cancelled_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
        sa.UniqueConstraint('reference', name=op.f('uq_payouts_reference')),
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_status'), ['status'], unique=False)

    op.create_table(
        'payout_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payout_id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('budget_line_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('creditor_name', sa.String(length=70), nullable=False),
        sa.Column('creditor_iban', sa.String(length=34), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'paid', 'failed', 'cancelled', name='status', native_enum=False,
                    create_constraint=True, length=9),
            nullable=False,
        ),
        sa.Column(
            'claim_decision',
            sa.Enum('draft', 'submitted', 'approved', 'partially_approved', 'rejected', 'needs_info',
                    'paid', name='claim_decision', native_enum=False, create_constraint=True,
                    length=18),
            nullable=False,
        ),
        sa.Column('failure_reason', sa.String(length=500), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('amount_cents > 0', name=op.f('ck_payout_lines_amount_positive')),
        sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_payout_lines_payout_id_payouts')),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_payout_lines_claim_id_claims')),
        sa.ForeignKeyConstraint(
            ['budget_line_id'], ['budget_lines.id'], name=op.f('fk_payout_lines_budget_line_id_budget_lines')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_lines')),
        sa.UniqueConstraint('end_to_end_id', name=op.f('uq_payout_lines_end_to_end_id')),
        sa.UniqueConstraint('payout_id', 'claim_id', name=op.f('uq_payout_lines_payout_id_claim_id')),
    )
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_lines_payout_id'), ['payout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_lines_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(
            'uq_payout_lines_pending_claim', ['claim_id'], unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            'uq_payout_lines_paid_claim', ['claim_id'], unique=True,
            sqlite_where=sa.text("status = 'paid'"),
            postgresql_where=sa.text("status = 'paid'"),
        )


def downgrade():
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_lines_paid_claim')
        batch_op.drop_index('uq_payout_lines_pending_claim')
        batch_op.drop_index(batch_op.f('ix_payout_lines_claim_id'))
        batch_op.drop_index(batch_op.f('ix_payout_lines_payout_id'))
    op.drop_table('payout_lines')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_status'))
        batch_op.drop_index(batch_op.f('ix_payouts_project_id'))
    op.drop_table('payouts')
