"""Organisers' own questions per gathering (issue 16): asked of every person on the registration
form (colleagues too), answered again on the manage page, shown to the organisers, exported,
and erased with the registration (docs/decisions/0032-questions-per-gathering.md).

Services take `now`, flush but never commit, and raise DomainError. A change that would lose
answers (removing a question that has them, removing a choice someone chose, a new kind the
answers cannot be kept in) raises `LosesAnswers` with the count, and is done only when asked
again with `confirmed=True`. Renaming a question or a choice keeps its answers: they point at
the choice's id.

The forms get the question fields from `with_questions`, which makes a subclass of the form
with one field per question (and the same in each colleague row), so the forms themselves
stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import FieldList, FormField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from . import history
from .errors import DomainError
from .extensions import db
from .fields import no_invisible_characters, normalise_newlines, plain_text, single_line, strip
from .models import (
    Answer,
    AnswerChoice,
    Gathering,
    Organiser,
    Question,
    QuestionChoice,
    QuestionKind,
    Registration,
)
from .stored_text import person as stored_person
from .stored_text import said

SHORT_TEXT_MAX = 300
LONG_TEXT_MAX = 2000
MAX_QUESTIONS = 30
MAX_CHOICES = 30
YES, NO = "yes", "no"
# The kinds whose answers can be kept when a question changes between them.
_FAMILIES = {
    QuestionKind.SHORT_TEXT: "text", QuestionKind.LONG_TEXT: "text",
    QuestionKind.ONE_CHOICE: "choice", QuestionKind.SEVERAL_CHOICES: "choice",
    QuestionKind.YES_NO: "yes_no",
}
CHOICE_KINDS = frozenset({QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES})

# A person's answer to one question as the forms give it: a text ("yes"/"no" for yes_no), or
# the ids of the choices chosen.
Value = str | list[int]


class LosesAnswers(DomainError):
    """The change would lose answers; it is done only when confirmed."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(_("Endringen sletter %(count)s svar. Bekreft at du vil gjøre den.",
                           count=count))


@dataclass(frozen=True)
class QuestionDetails:
    """A question as the organiser typed it. `choices`: (id of an existing choice or None for
    a new one, label), in order; ignored for kinds without choices."""

    kind: QuestionKind
    label: str
    help_text: str = ""
    required: bool = False
    choices: list[tuple[int | None, str]] = field(default_factory=list)


# --- the questions ----------------------------------------------------------------------------


def questions_of(gathering: Gathering | int) -> list[Question]:
    """A gathering's questions in the order the form asks them (their choices loaded)."""
    gathering_id = gathering if isinstance(gathering, int) else gathering.id
    return list(db.session.scalars(
        sa.select(Question).where(Question.gathering_id == gathering_id)
        .options(sa.orm.selectinload(Question.choices))
        .order_by(Question.position, Question.id)))


def _check(details: QuestionDetails) -> None:
    if not details.label.strip():
        raise DomainError(_("Skriv spørsmålet."))
    if details.kind in CHOICE_KINDS:
        labels = [label.strip() for _id, label in details.choices if label.strip()]
        if len(labels) < 2:
            raise DomainError(_("Et spørsmål med valg må ha minst to valg."))
        if len(labels) > MAX_CHOICES:
            raise DomainError(_("Et spørsmål kan ha høyst %(num)s valg.", num=MAX_CHOICES))
        if len({label.casefold() for label in labels}) != len(labels):
            raise DomainError(_("To av valgene er like. Gi hvert valg sitt eget navn."))


def add(gathering: Gathering, details: QuestionDetails, *, now: datetime,
        by: Organiser | None) -> Question:
    """Add a question at the end of the form (audited)."""
    _check(details)
    existing = questions_of(gathering)
    if len(existing) >= MAX_QUESTIONS:
        raise DomainError(_("En samling kan ha høyst %(num)s spørsmål.", num=MAX_QUESTIONS))
    question = Question(gathering_id=gathering.id, kind=details.kind, label=details.label.strip(),
                        help_text=details.help_text.strip(), required=details.required,
                        position=max((q.position for q in existing), default=0) + 1,
                        created_at=now, updated_at=now)
    if details.kind in CHOICE_KINDS:
        question.choices = [QuestionChoice(position=n, label=label.strip())
                            for n, (_id, label) in enumerate(_named(details.choices), start=1)]
    db.session.add(question)
    db.session.flush()
    history.audit("add_question", by=by, now=now, gathering=gathering,
                  summary=said("question_added", label=question.label))
    return question


def _named(choices: Iterable[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    return [(choice_id, label) for choice_id, label in choices if label.strip()]


def _answers(question: Question) -> list[Answer]:
    return list(db.session.scalars(
        sa.select(Answer).where(Answer.question_id == question.id)
        .options(sa.orm.selectinload(Answer.chosen))))


def _lost_answers(question: Question, details: QuestionDetails) -> list[Answer]:
    """The answers the change would delete or take a choice from."""
    answers = _answers(question)
    if _FAMILIES[question.kind] != _FAMILIES[details.kind]:
        return answers
    if details.kind not in CHOICE_KINDS:
        return []
    kept = {choice_id for choice_id, _label in _named(details.choices) if choice_id is not None}
    lost = []
    for answer in answers:
        chosen = {row.choice_id for row in answer.chosen}
        if chosen - kept or (details.kind == QuestionKind.ONE_CHOICE and len(chosen) > 1):
            lost.append(answer)
    return lost


def answers_lost_by_change(question: Question, details: QuestionDetails) -> int:
    """How many answers the change would delete or take a choice from (for the confirmation)."""
    return len(_lost_answers(question, details))


def update(question: Question, details: QuestionDetails, *, now: datetime,
           by: Organiser | None, confirmed: bool = False) -> int:
    """Change a question; returns how many answers it lost. A renamed question or choice keeps
    its answers; a change that loses answers raises LosesAnswers unless `confirmed`. Audited."""
    _check(details)
    own = {choice.id: choice for choice in question.choices}
    unknown = {choice_id for choice_id, _label in details.choices if choice_id is not None} - set(own)
    if unknown:
        raise DomainError(_("Valgene er endret av noen andre i mellomtiden. Last siden på nytt."))
    lost = _lost_answers(question, details)
    if lost and not confirmed:
        raise LosesAnswers(len(lost))
    family_changed = _FAMILIES[question.kind] != _FAMILIES[details.kind]
    if family_changed:
        _delete_answers(Answer.question_id == question.id)
    elif details.kind in CHOICE_KINDS:
        for answer in lost:  # an answer that loses a choice loses all of it: it was one answer
            db.session.delete(answer)
    question.kind = details.kind
    question.label = details.label.strip()
    question.help_text = details.help_text.strip()
    question.required = details.required
    question.updated_at = now
    if details.kind in CHOICE_KINDS:
        named = _named(details.choices)
        kept_ids = {choice_id for choice_id, _label in named if choice_id is not None}
        for choice_id, choice in own.items():
            if choice_id not in kept_ids:
                question.choices.remove(choice)
        for position, (choice_id, label) in enumerate(named, start=1):
            if choice_id is None:
                question.choices.append(QuestionChoice(position=position, label=label.strip()))
            else:
                own[choice_id].position = position
                own[choice_id].label = label.strip()
    else:
        question.choices.clear()
    db.session.flush()
    db.session.expire(question, ["choices"])
    history.audit("change_question", by=by, now=now, gathering=question.gathering,
                  summary=said("question_changed_answers_lost", label=question.label,
                               count=len(lost)) if lost
                  else said("question_changed", label=question.label))
    return len(lost)


def answer_count(question: Question) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Answer.question_id == question.id))


def remove(question: Question, *, now: datetime, by: Organiser | None,
           confirmed: bool = False) -> int:
    """Remove a question and its answers; returns how many answers went. One with answers
    raises LosesAnswers unless `confirmed`. Audited."""
    count = answer_count(question)
    if count and not confirmed:
        raise LosesAnswers(count)
    gathering, label = question.gathering, question.label
    _delete_answers(Answer.question_id == question.id)
    db.session.delete(question)
    db.session.flush()
    history.audit("remove_question", by=by, now=now, gathering=gathering,
                  summary=said("question_removed_answers_lost", label=label, count=count)
                  if count else said("question_removed", label=label))
    return count


def move(question: Question, direction: int, *, now: datetime, by: Organiser | None) -> bool:
    """Move a question one place up (-1) or down (+1); False when it is already at that end."""
    ordered = questions_of(question.gathering_id)
    index = next(n for n, q in enumerate(ordered) if q.id == question.id)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered, start=1):
        each.position = position
    question.updated_at = now
    db.session.flush()
    history.audit("move_question", by=by, now=now, gathering=question.gathering,
                  summary=said("question_moved", label=question.label, position=other + 1))
    return True


def copy_all(original: Gathering, copy: Gathering, *, now: datetime) -> None:
    """Give `copy` the questions of `original` (a copied gathering, decision 0021): the words
    and choices, no answers."""
    for question in questions_of(original):
        db.session.add(Question(
            gathering_id=copy.id, position=question.position, kind=question.kind,
            label=question.label, help_text=question.help_text, required=question.required,
            created_at=now, updated_at=now,
            choices=[QuestionChoice(position=choice.position, label=choice.label)
                     for choice in question.choices]))
    db.session.flush()


def _delete_answers(condition) -> None:
    # answer_choices go with them (ON DELETE CASCADE; SQLite's foreign keys are on).
    db.session.execute(sa.delete(Answer).where(condition)
                       .execution_options(synchronize_session="fetch"))


# --- the answers ------------------------------------------------------------------------------


def _is_empty(value) -> bool:
    return value is None or value == "" or value == []


def save_answers(registration: Registration, values: dict[int, Value], *, now: datetime,
                 questions: list[Question] | None = None) -> bool:
    """Store a person's answers (question id → text, or choice ids), replacing what they had;
    an empty value removes the answer. Values for other gatherings' questions and unknown
    choices are ignored. Returns whether anything changed."""
    questions = questions if questions is not None else questions_of(registration.gathering_id)
    existing = {answer.question_id: answer for answer in db.session.scalars(
        sa.select(Answer).where(Answer.registration_id == registration.id)
        .options(sa.orm.selectinload(Answer.chosen)))}
    changed = False
    for question in questions:
        if question.id not in values:
            continue
        value = values[question.id]
        answer = existing.get(question.id)
        if question.kind in CHOICE_KINDS:
            valid = {choice.id for choice in question.choices}
            wanted = sorted({int(v) for v in (value or []) if int(v) in valid})
            if question.kind == QuestionKind.ONE_CHOICE:
                wanted = wanted[:1]
            before = sorted(row.choice_id for row in answer.chosen) if answer else []
            if wanted == before:
                continue
            changed = True
            if not wanted:
                db.session.delete(answer)
                continue
            if answer is None:
                answer = Answer(registration_id=registration.id, question_id=question.id,
                                text="", created_at=now, updated_at=now)
                db.session.add(answer)
            answer.chosen = [AnswerChoice(choice_id=choice_id) for choice_id in wanted]
            answer.updated_at = now
        else:
            text = (value or "").strip() if isinstance(value, str) else ""
            if question.kind == QuestionKind.YES_NO and text not in (YES, NO):
                text = ""
            if text == (answer.text if answer else ""):
                continue
            changed = True
            if not text:
                db.session.delete(answer)
                continue
            if answer is None:
                answer = Answer(registration_id=registration.id, question_id=question.id,
                                created_at=now)
                db.session.add(answer)
            answer.text = text
            answer.updated_at = now
    db.session.flush()
    return changed


def change_answers(registration: Registration, values: dict[int, Value], *, now: datetime,
                   by: Organiser | None = None) -> bool:
    """The person (or an organiser for them) changes their answers; recorded in the history.
    Returns whether anything changed."""
    if registration.anonymised_at is not None:
        raise DomainError(_("Opplysningene i denne påmeldingen er slettet og kan ikke endres."))
    if registration.gathering.is_past(now):
        raise DomainError(_("Samlingen er over, og påmeldingen kan ikke lenger endres."))
    changed = save_answers(registration, values, now=now)
    if changed:
        registration.updated_at = now
        history.record(registration, "answers_changed", now=now, by=by)
        if by is not None:
            history.audit("change_registration", by=by, now=now,
                          gathering=registration.gathering,
                          summary=said("registration_answers_changed", person=stored_person(
                              registration.name, registration.email)))
    return changed


def _yes_no(text: str) -> str:
    return _("Ja") if text == YES else _("Nei") if text == NO else text


def answer_text(question: Question, answer: Answer | None) -> str:
    """An answer as a person reads it: the text, "Ja"/"Nei", or the choices joined by ", "."""
    if answer is None:
        return ""
    if question.kind in CHOICE_KINDS:
        chosen = {row.choice_id for row in answer.chosen}
        return ", ".join(choice.label for choice in question.choices if choice.id in chosen)
    if question.kind == QuestionKind.YES_NO:
        return _yes_no(answer.text)
    return answer.text


def answers_of(registration: Registration) -> list[tuple[str, str]]:
    """The registration's answers as (question, answer) in the form's order, every question of
    the gathering included ("" where unanswered). For pages, mail and the organiser API."""
    table = answer_table(registration.gathering_id, [registration.id])
    questions = questions_of(registration.gathering_id)
    row = table.get(registration.id, {})
    return [(question.label, row.get(question.id, "")) for question in questions]


def answers_dict(registration: Registration) -> list[dict]:
    """The answers as plain data (the organiser API, the person's data export): each question
    with its id, kind and label, the answer as text, and the chosen choices' ids."""
    questions = questions_of(registration.gathering_id)
    answers = {answer.question_id: answer for answer in db.session.scalars(
        sa.select(Answer).where(Answer.registration_id == registration.id)
        .options(sa.orm.selectinload(Answer.chosen)))}
    result = []
    for question in questions:
        answer = answers.get(question.id)
        result.append({
            "id": question.id, "kind": question.kind.value, "question": question.label,
            "answer": answer_text(question, answer),
            "choice_ids": sorted(row.choice_id for row in answer.chosen) if answer else [],
        })
    return result


def answer_table(gathering_id: int, registration_ids: Iterable[int] | None = None
                 ) -> dict[int, dict[int, str]]:
    """registration id → question id → the answer as text, for a gathering's list and exports
    (None: all its registrations). Three queries, whatever the number of people."""
    questions = {question.id: question for question in questions_of(gathering_id)}
    if not questions:
        return {}
    select = sa.select(Answer).where(Answer.question_id.in_(questions)) \
        .options(sa.orm.selectinload(Answer.chosen))
    if registration_ids is not None:
        ids = list(registration_ids)
        if not ids:
            return {}
        select = select.where(Answer.registration_id.in_(ids))
    table: dict[int, dict[int, str]] = {}
    for answer in db.session.scalars(select):
        table.setdefault(answer.registration_id, {})[answer.question_id] = answer_text(
            questions[answer.question_id], answer)
    return table


def current_values(registration: Registration) -> dict[int, Value]:
    """What the person answered, as the forms take it (to fill the manage page)."""
    values: dict[int, Value] = {}
    for answer in db.session.scalars(
            sa.select(Answer).where(Answer.registration_id == registration.id)
            .options(sa.orm.selectinload(Answer.chosen))):
        values[answer.question_id] = (sorted(row.choice_id for row in answer.chosen)
                                      if answer.chosen else answer.text)
    return values


@dataclass(frozen=True)
class ChoiceCount:
    label: str
    count: int
    choice_id: int | None = None
    value: str = ""  # "yes"/"no" for a yes/no question


def counts(gathering: Gathering) -> list[tuple[Question, list[ChoiceCount], int]]:
    """For each choice and yes/no question: how many chose each choice, among those with a
    seat or on the waiting list (not the cancelled), and how many answered at all."""
    from .models import RegistrationStatus

    active = sa.select(Registration.id).where(
        Registration.gathering_id == gathering.id,
        Registration.status != RegistrationStatus.CANCELLED)
    result = []
    for question in questions_of(gathering):
        if question.kind in CHOICE_KINDS:
            chosen = dict(db.session.execute(
                sa.select(AnswerChoice.choice_id, sa.func.count())
                .join(Answer, Answer.id == AnswerChoice.answer_id)
                .where(Answer.question_id == question.id, Answer.registration_id.in_(active))
                .group_by(AnswerChoice.choice_id)).all())
            rows = [ChoiceCount(choice.label, chosen.get(choice.id, 0), choice_id=choice.id)
                    for choice in question.choices]
        elif question.kind == QuestionKind.YES_NO:
            said_ = dict(db.session.execute(
                sa.select(Answer.text, sa.func.count())
                .where(Answer.question_id == question.id, Answer.registration_id.in_(active))
                .group_by(Answer.text)).all())
            rows = [ChoiceCount(_("Ja"), said_.get(YES, 0), value=YES),
                    ChoiceCount(_("Nei"), said_.get(NO, 0), value=NO)]
        else:
            continue
        answered = db.session.scalar(sa.select(sa.func.count()).where(
            Answer.question_id == question.id, Answer.registration_id.in_(active)))
        result.append((question, rows, answered))
    return result


def parse_filter(value: str) -> tuple[int, int | str | None] | None:
    """The list's "answer" filter from its query argument: "12" (answered question 12),
    "12:34" (chose choice 34 of question 12), "12:yes"; None for anything else."""
    question, _sep, choice = (value or "").partition(":")
    if not question.isdigit() or len(question) > 9:
        return None
    if not choice:
        return int(question), None
    if choice in (YES, NO):
        return int(question), choice
    if choice.isdigit() and len(choice) <= 9:
        return int(question), int(choice)
    return None


def answering(gathering_id: int, question_id: int, choice: int | str | None = None) -> sa.Select:
    """A select of the ids of the gathering's registrations that answered the question (with
    that choice, or "yes"/"no"), for the list's filter (rsvp.registration_rows' `among`)."""
    select = (sa.select(Answer.registration_id).join(Question, Question.id == Answer.question_id)
              .where(Question.gathering_id == gathering_id, Answer.question_id == question_id))
    if isinstance(choice, int):
        select = select.join(AnswerChoice, AnswerChoice.answer_id == Answer.id) \
            .where(AnswerChoice.choice_id == choice)
    elif isinstance(choice, str):
        select = select.where(Answer.text == choice)
    return select


# --- erasure ----------------------------------------------------------------------------------


def forget_answers(registration_ids: Iterable[int]) -> int:
    """Delete these registrations' answers (erasure, the retention purge); returns how many."""
    ids = list(registration_ids)
    if not ids:
        return 0
    count = db.session.execute(sa.delete(Answer).where(Answer.registration_id.in_(ids))
                               .execution_options(synchronize_session="fetch")).rowcount
    return count or 0


def scrub_text_answers(gathering_id: int, scrub, *, besides: int) -> None:
    """Take an erased person out of what others of the gathering wrote in their answers."""
    for answer in db.session.scalars(
            sa.select(Answer).join(Question, Question.id == Answer.question_id)
            .where(Question.gathering_id == gathering_id, Answer.registration_id != besides,
                   Answer.text != "")):
        cleaned = scrub(answer.text)
        if cleaned != answer.text:
            answer.text = cleaned


# --- the form fields --------------------------------------------------------------------------


def field_name(question: Question) -> str:
    return f"question_{question.id}"


class _Answered:
    """The first validator of a question's field: in a colleague row left blank nothing is
    checked; an empty answer stops the checks, with a message when the question is required.
    `flag`: mark the field required (the person's own fields; a colleague's are required only
    when the row is filled in, as their name is)."""

    def __init__(self, question: Question, *, flag: bool):
        self.required = question.required
        self.choices = {str(choice.id) for choice in question.choices}
        self.kind = question.kind
        self.field_flags = {"required": True} if question.required and flag else {}

    def __call__(self, form, field):
        is_blank = getattr(form, "is_blank", None)
        if is_blank is not None and is_blank():
            field.errors[:] = []
            raise StopValidation()
        if _is_empty(field.data):
            if self.required:
                message = (_("Svar på spørsmålet.") if self.kind in (
                    QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT) else _("Velg et svar."))
                raise StopValidation(message)
            field.errors[:] = []
            raise StopValidation()
        if self.kind in CHOICE_KINDS or self.kind == QuestionKind.YES_NO:
            given = field.data if isinstance(field.data, list) else [field.data]
            allowed = self.choices if self.kind in CHOICE_KINDS else {YES, NO}
            if not set(given) <= allowed:
                raise StopValidation(_("Velg blant svarene som står der."))


def _unbound_field(question: Question, *, flag: bool):
    answered = _Answered(question, flag=flag)
    label = question.label
    if question.kind == QuestionKind.SHORT_TEXT:
        return StringField(label, filters=[strip], validators=[
            answered, Length(max=SHORT_TEXT_MAX, message=_l("Svaret kan være høyst %(max)d tegn.")),
            single_line, no_invisible_characters], render_kw={"autocomplete": "off"})
    if question.kind == QuestionKind.LONG_TEXT:
        return TextAreaField(label, filters=[normalise_newlines], validators=[
            answered, Length(max=LONG_TEXT_MAX, message=_l("Svaret kan være høyst %(max)d tegn.")),
            plain_text])
    if question.kind == QuestionKind.YES_NO:
        return RadioField(label, choices=[SelectChoice(YES, _l("Ja")), SelectChoice(NO, _l("Nei"))],
                          validators=[answered], validate_choice=False)
    choices = [SelectChoice(str(choice.id), choice.label) for choice in question.choices]
    if question.kind == QuestionKind.ONE_CHOICE:
        return RadioField(label, choices=choices, validators=[answered], validate_choice=False)
    return SelectMultipleField(label, choices=choices, validators=[answered], validate_choice=False,
                               widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


def with_questions(form_class: type, questions: list[Question], *, after: str | None = None,
                   colleagues: bool = True) -> type:
    """`form_class` with a field per question (named `question_<id>`), placed in the form's
    order right after the field `after` (so the error summary follows the page), and in each
    colleague row when the form has them. Without questions, the class itself."""
    if not questions:
        return form_class
    base_counter = (getattr(form_class, after).creation_counter if after
                    else max(f.creation_counter for f in _unbound_fields(form_class)))
    attrs = {}
    for n, question in enumerate(questions, start=1):
        unbound = _unbound_field(question, flag=True)
        unbound.creation_counter = base_counter + n / 1000
        attrs[field_name(question)] = unbound
    colleague_list = getattr(form_class, "colleagues", None)
    if colleagues and colleague_list is not None:
        row_class = colleague_list.args[0].args[0]
        row_attrs = {field_name(question): _unbound_field(question, flag=False)
                     for question in questions}
        rows = type(row_class.__name__, (row_class,), row_attrs)
        list_field = FieldList(FormField(rows), **colleague_list.kwargs)
        list_field.creation_counter = colleague_list.creation_counter
        attrs["colleagues"] = list_field
    attrs["questions"] = questions
    return type(form_class.__name__, (form_class,), attrs)


def _unbound_fields(form_class: type):
    for name in dir(form_class):
        value = getattr(form_class, name, None)
        if hasattr(value, "creation_counter") and hasattr(value, "field_class"):
            yield value


def values_from(form, questions: list[Question]) -> dict[int, Value]:
    """The answers typed into a form (or a colleague row), by question id."""
    values: dict[int, Value] = {}
    for question in questions:
        field_ = getattr(form, field_name(question), None)
        if field_ is None:
            continue
        data = field_.data
        if question.kind in CHOICE_KINDS:
            given = data if isinstance(data, list) else ([data] if data else [])
            values[question.id] = [int(v) for v in given if str(v).isdigit()]
        else:
            values[question.id] = data or ""
    return values


def fill(form, values: dict[int, Value], questions: list[Question]) -> None:
    """Put a person's answers into the form's question fields (a GET of the manage page)."""
    for question in questions:
        field_ = getattr(form, field_name(question), None)
        if field_ is None or question.id not in values:
            continue
        value = values[question.id]
        if question.kind == QuestionKind.SEVERAL_CHOICES:
            field_.data = [str(v) for v in value] if isinstance(value, list) else []
        elif question.kind == QuestionKind.ONE_CHOICE:
            field_.data = str(value[0]) if isinstance(value, list) and value else None
        else:
            field_.data = value if isinstance(value, str) else ""


def save_from_form(outcomes, form, questions: list[Question], *, now: datetime) -> None:
    """After a registration form: store each newly registered person's answers (the person's
    own, then each filled colleague row's, in the order rsvp.register was given them). Someone
    already registered keeps their answers: the form may have been filled in by someone else."""
    if not questions:
        return
    people = [form, *[entry.form for entry in form.colleagues if not entry.form.is_blank()]] \
        if hasattr(form, "colleagues") else [form]
    for outcome, source in zip(outcomes, people, strict=False):
        if outcome.already_registered:
            continue
        save_answers(outcome.registration, values_from(source, questions), now=now,
                     questions=questions)
