"""questions: organisers' own questions per gathering, their choices and the answers

Revision ID: 0025_questions
Revises: 0024_participation_modes
Create Date: 2026-12-06 11:45:00

Four new tables (docs/decisions/0032). `questions` and `question_choices` belong to a
gathering; `answers` (one per registration and question) and `answer_choices` (the choices
chosen, by the choice's id, so renaming a choice keeps them) belong to a registration and go
with it. No existing rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0025_questions'
down_revision = '0024_participation_modes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('short_text', 'long_text', 'one_choice', 'several_choices', 'yes_no',
                              name='question_kind', native_enum=False, create_constraint=True,
                              length=20), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('help_text', sa.String(length=500), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'],
                            name=op.f('fk_questions_gathering_id_gatherings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questions_gathering_id'), ['gathering_id'], unique=False)
    op.create_table('question_choices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'],
                            name=op.f('fk_question_choices_question_id_questions'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_choices'))
    )
    with op.batch_alter_table('question_choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_choices_question_id'), ['question_id'],
                              unique=False)
    op.create_table('answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                            name=op.f('fk_answers_registration_id_registrations'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'],
                            name=op.f('fk_answers_question_id_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('registration_id', 'question_id', name=op.f('uq_answers_registration_id'))
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answers_registration_id'), ['registration_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_answers_question_id'), ['question_id'], unique=False)
    op.create_table('answer_choices',
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('choice_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'],
                            name=op.f('fk_answer_choices_answer_id_answers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['choice_id'], ['question_choices.id'],
                            name=op.f('fk_answer_choices_choice_id_question_choices'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('answer_id', 'choice_id', name=op.f('pk_answer_choices'))
    )
    with op.batch_alter_table('answer_choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_choices_choice_id'), ['choice_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('answer_choices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_choices_choice_id'))
    op.drop_table('answer_choices')
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answers_question_id'))
        batch_op.drop_index(batch_op.f('ix_answers_registration_id'))
    op.drop_table('answers')
    with op.batch_alter_table('question_choices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_choices_question_id'))
    op.drop_table('question_choices')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questions_gathering_id'))
    op.drop_table('questions')
