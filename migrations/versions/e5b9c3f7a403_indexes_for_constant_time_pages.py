"""indexes for pages whose cost must not grow with the data: a claim's history, the queue

Reviewed by hand: two indexes, nothing else. ``audit_events`` is the largest table and a
detail page reads one object's history from it; the review queue reads submitted claims
oldest first, a page at a time.

Revision ID: e5b9c3f7a403
Revises: a8e4c1f9d307
Create Date: 2026-11-24 13:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5b9c3f7a403'
down_revision = 'a8e4c1f9d307'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_entity', ['entity_type', 'entity_id'], unique=False)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index(
            'ix_claims_status_submitted_at', ['status', 'submitted_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_status_submitted_at')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_entity')
