"""Organisers' pages for a gathering's own questions on the registration form (questions.py):
the list with "move up/down" buttons (plain forms: no JavaScript needed), add, change, remove.

A change that would lose answers comes back as a confirmation page that says how many, with
everything typed carried in hidden fields; the second post, with `confirmed`, does it.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import questions
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import (
    no_invisible_characters,
    normalise_newlines,
    plain_text,
    single_line,
    strip,
)
from ..labels import QUESTION_KIND_LABELS
from ..models import Question, QuestionKind
from . import bp
from .gatherings import get_gathering_or_404, me

KIND_CHOICES = [SelectChoice(kind, label) for kind, label in QUESTION_KIND_LABELS.items()]


class QuestionForm(FlaskForm):
    """A question: its words, its kind, whether it must be answered, and its choices (the
    existing ones as fields of their own, added by `for_question`; new ones one per line)."""

    label = StringField(_l("Spørsmålet"), filters=[strip], validators=[
        DataRequired(_l("Skriv spørsmålet.")),
        Length(max=300, message=_l("Spørsmålet kan være høyst 300 tegn.")), single_line,
        no_invisible_characters])
    help_text = StringField(_l("Hjelpetekst (valgfritt)"), filters=[strip], validators=[
        Optional(), Length(max=500, message=_l("Hjelpeteksten kan være høyst 500 tegn.")),
        single_line, no_invisible_characters])
    kind = RadioField(_l("Slags svar"), choices=KIND_CHOICES,
                      validators=[InputRequired(_l("Velg hva slags svar spørsmålet skal ha."))])
    required = BooleanField(_l("Må besvares"))
    new_choices = TextAreaField(_l("Nye valg (ett per linje)"), filters=[normalise_newlines],
                                validators=[Optional(), Length(max=6000, message=_l(
                                    "Teksten kan være høyst 6000 tegn.")), plain_text])
    submit = SubmitField(_l("Lagre spørsmålet"))

    choice_ids: tuple[int, ...] = ()

    @classmethod
    def for_question(cls, question: Question | None) -> type[QuestionForm]:
        """The form with one field per existing choice (`choice_<id>`): renaming one keeps the
        answers that chose it; emptying it removes it."""
        if question is None or not question.choices:
            return cls
        attrs: dict = {"choice_ids": tuple(choice.id for choice in question.choices)}
        for number, choice in enumerate(question.choices, start=1):
            attrs[f"choice_{choice.id}"] = StringField(
                _l("Valg %(number)s", number=number), filters=[strip], validators=[
                    Optional(), Length(max=200, message=_l("Et valg kan være høyst 200 tegn.")),
                    single_line, no_invisible_characters])
        return type("QuestionForm", (cls,), attrs)

    def fill_from(self, question: Question) -> None:
        self.label.data = question.label
        self.help_text.data = question.help_text
        self.kind.data = question.kind.value
        self.required.data = question.required
        for choice in question.choices:
            self[f"choice_{choice.id}"].data = choice.label

    def choice_fields(self):
        return [self[f"choice_{choice_id}"] for choice_id in self.choice_ids]

    def to_details(self) -> questions.QuestionDetails:
        existing = [(choice_id, self[f"choice_{choice_id}"].data or "")
                    for choice_id in self.choice_ids]
        new = [(None, line.strip()) for line in (self.new_choices.data or "").split("\n")
               if line.strip()]
        return questions.QuestionDetails(
            kind=QuestionKind(self.kind.data), label=self.label.data,
            help_text=self.help_text.data or "", required=bool(self.required.data),
            choices=existing + new)


def _question_or_404(gathering_id: int, question_id: int) -> Question:
    question = db.session.get(Question, question_id)
    if question is None or question.gathering_id != gathering_id:
        abort(404)
    return question


def _index(gathering, form, *, status=200):
    return render_template("admin/questions/index.html", gathering=gathering, form=form,
                           questions=questions.questions_of(gathering),
                           kind_labels=QUESTION_KIND_LABELS), status


def _confirm(gathering, *, count: int, action: str, question: Question, status=409):
    """Say how many answers the change loses, and post everything typed again with
    `confirmed`."""
    carried = [(name, value) for name, value in request.form.items(multi=True)
               if name not in ("csrf_token", "confirmed", "submit")]
    return render_template("admin/questions/confirm.html", gathering=gathering,
                           question=question, count=count, action=action, carried=carried,
                           target=request.path), status


@bp.get("/samlinger/<int:gathering_id>/sporsmal", endpoint="questions")
def list_questions(gathering_id):
    """The gathering's questions in the form's order, with a form to add one."""
    return _index(get_gathering_or_404(gathering_id), QuestionForm())


@bp.post("/samlinger/<int:gathering_id>/sporsmal", endpoint="question_add")
def add_question(gathering_id):
    """Add a question at the end; a refused one comes back with everything typed kept."""
    gathering = get_gathering_or_404(gathering_id)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            questions.add(gathering, form.to_details(), now=utcnow(), by=me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Spørsmålet «%(label)s» er lagt til i påmeldingsskjemaet.",
                    label=form.label.data), "success")
            return redirect(url_for(".questions", gathering_id=gathering.id), 303)
    return _index(gathering, form, status=422)


@bp.route("/samlinger/<int:gathering_id>/sporsmal/<int:question_id>/endre",
          methods=["GET", "POST"], endpoint="question_edit")
def edit_question(gathering_id, question_id):
    """Change a question; one that would lose answers asks first, saying how many."""
    gathering = get_gathering_or_404(gathering_id)
    question = _question_or_404(gathering_id, question_id)
    form = QuestionForm.for_question(question)()
    if request.method == "GET":
        form.fill_from(question)
    elif form.validate_on_submit():
        try:
            lost = questions.update(question, form.to_details(), now=utcnow(), by=me(),
                                    confirmed=request.form.get("confirmed") == "1")
        except questions.LosesAnswers as loses:
            db.session.rollback()
            return _confirm(gathering, count=loses.count, action="edit", question=question)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            message = _("Spørsmålet er endret.")
            if lost:
                message += " " + ngettext_lost(lost)
            flash(message, "success")
            return redirect(url_for(".questions", gathering_id=gathering.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/questions/edit.html", gathering=gathering, question=question,
                           form=form), status


def ngettext_lost(count: int) -> str:
    return ngettext("%(num)s svar ble slettet.", "%(num)s svar ble slettet.", count)


@bp.post("/samlinger/<int:gathering_id>/sporsmal/<int:question_id>/fjern",
         endpoint="question_remove")
def remove_question(gathering_id, question_id):
    """Remove a question; one that has answers asks first, saying how many will be lost."""
    gathering = get_gathering_or_404(gathering_id)
    question = _question_or_404(gathering_id, question_id)
    label = question.label
    try:
        lost = questions.remove(question, now=utcnow(), by=me(),
                                confirmed=request.form.get("confirmed") == "1")
    except questions.LosesAnswers as loses:
        db.session.rollback()
        return _confirm(gathering, count=loses.count, action="remove", question=question)
    db.session.commit()
    message = _("Spørsmålet «%(label)s» er fjernet.", label=label)
    if lost:
        message += " " + ngettext_lost(lost)
    flash(message, "success")
    return redirect(url_for(".questions", gathering_id=gathering.id), 303)


@bp.post("/samlinger/<int:gathering_id>/sporsmal/<int:question_id>/flytt",
         endpoint="question_move")
def move_question(gathering_id, question_id):
    """Move a question one place up or down (the list's buttons)."""
    gathering = get_gathering_or_404(gathering_id)
    question = _question_or_404(gathering_id, question_id)
    direction = {"opp": -1, "ned": 1}.get(request.form.get("retning", ""))
    if direction is None:
        abort(400)
    if questions.move(question, direction, now=utcnow(), by=me()):
        db.session.commit()
        flash(_("«%(label)s» er flyttet opp.", label=question.label) if direction < 0
              else _("«%(label)s» er flyttet ned.", label=question.label), "success")
    return redirect(url_for(".questions", gathering_id=gathering.id,
                            _anchor=f"question-{question.id}"), 303)


@bp.app_template_global("question_counts")
def question_counts(gathering):
    """How many chose each choice of the gathering's choice and yes/no questions (the
    gathering's overview)."""
    return questions.counts(gathering)
