"""figure_snapshots: the overview's reach figures, stored by the worker

Revision ID: 0029_figure_snapshots
Revises: 0028_mail_templates
Create Date: 2026-12-06 21:00:00

The overview's reach (distinct people and organisations by sector) reads every registration
that still holds an address, so the first overview in a minute took 4–5 times as long with
100,000 registrations as with 1,000 (issue 20, target 3). The worker now stores the figures once
a minute (`figure_snapshots`, one row per kind of figure) and the overview reads them
(docs/decisions/0038). Counts only: nothing here is personal data.
"""
from alembic import op
import sqlalchemy as sa


revision = '0029_figure_snapshots'
down_revision = '0028_mail_templates'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'figure_snapshots',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_figure_snapshots')),
    )


def downgrade():
    op.drop_table('figure_snapshots')
