"""feedback: who was sent the survey after a gathering, and the anonymous answers

Revision ID: 0020_feedback
Revises: 0018_certificates
Create Date: 2026-12-06 10:20:00

Two new tables. `feedback_invitations` marks, per registration, that the survey was sent and
whether it was answered; `feedback_answers` holds the answers with the gathering only, no link
to a registration (docs/decisions/0026). No existing rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_feedback'
down_revision = '0018_certificates'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                            name=op.f('fk_feedback_invitations_registration_id_registrations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_invitations')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_feedback_invitations_registration_id'))
    )
    op.create_table('feedback_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('useful', sa.Text(), nullable=False),
    sa.Column('change', sa.Text(), nullable=False),
    sa.Column('wishes', sa.Text(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_feedback_answers_rating_one_to_five')),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'],
                            name=op.f('fk_feedback_answers_gathering_id_gatherings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_answers'))
    )
    with op.batch_alter_table('feedback_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_answers_gathering_id'), ['gathering_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('feedback_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_answers_gathering_id'))
    op.drop_table('feedback_answers')
    op.drop_table('feedback_invitations')
