"""mail_templates: a fan-out's notice composed once, filled in per person as it is sent

Revision ID: 0028_mail_templates
Revises: 0027_registration_sort_names
Create Date: 2026-12-06 18:30:00

Queueing 10,000 notices when a gathering was postponed took 5–10 s, most of it filling each
person's details into the merged notice while the organiser waited (issue 20, target 4). The
fan-out now stores each audience's template once (`mail_templates`) and one outbox row per
person pointing to it (`outbox_messages.template_id`, message empty); the sender fills the row
in and stores the bytes as it sends (docs/decisions/0037). No foreign key: the purge removes a
template only when no row points to it, and SQLite could not drop a referencing column in the
downgrade without copying the table.
"""
from alembic import op
import sqlalchemy as sa


revision = '0028_mail_templates'
down_revision = '0027_registration_sort_names'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_templates')),
    )
    op.add_column('outbox_messages', sa.Column('template_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_outbox_messages_template_id'), 'outbox_messages', ['template_id'],
                    unique=False)


def downgrade():
    # A notice still to be filled in would be mail lost without its template: refuse, and say
    # how to go on (the worker fills each one in as it sends it).
    waiting = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM outbox_messages WHERE template_id IS NOT NULL")).scalar()
    if waiting:
        raise RuntimeError(
            f"{waiting} notices are still to be filled in from their templates; run "
            "`flask klynge worker` until the outbox has sent them, then downgrade again.")
    op.drop_index(op.f('ix_outbox_messages_template_id'), table_name='outbox_messages')
    op.execute("ALTER TABLE outbox_messages DROP COLUMN template_id")
    op.drop_table('mail_templates')
