"""The survey after a gathering, at /tilbakemelding/<token> (the link in the survey mail).

A GET only shows the form (or why it cannot be answered); only a POST answers. The rules and
the anonymous storage are in `feedback.py`.
"""

from flask import Blueprint, Response, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .. import feedback
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import normalise_newlines, plain_text
from .views import get_registration_or_404

bp = Blueprint("feedback", __name__)

_LONG = _l("Teksten kan være høyst 2000 tegn.")


class SurveyForm(FlaskForm):
    rating = RadioField(
        _l("Hvor nyttig var samlingen for deg? (1 er lite nyttig, 5 er svært nyttig)"),
        choices=[SelectChoice(str(n), str(n)) for n in range(1, 6)],
        validators=[InputRequired(message=_l("Velg en vurdering fra 1 til 5."))])
    useful = TextAreaField(_l("Hva var nyttig?"), filters=[normalise_newlines],
                           validators=[Optional(), Length(max=feedback.TEXT_LIMIT, message=_LONG),
                                       plain_text])
    change = TextAreaField(_l("Hva bør vi endre?"), filters=[normalise_newlines],
                           validators=[Optional(), Length(max=feedback.TEXT_LIMIT, message=_LONG),
                                       plain_text])
    wishes = TextAreaField(_l("Hvilke temaer ønsker du deg til neste gang?"),
                           filters=[normalise_newlines],
                           validators=[Optional(), Length(max=feedback.TEXT_LIMIT, message=_LONG),
                                       plain_text])
    submit = SubmitField(_l("Send svaret"))


def _page(template: str, status: int = 200, **context) -> Response:
    response = Response(render_template(template, **context), status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/tilbakemelding/<token>", methods=["GET", "POST"])
def survey(token):
    registration = get_registration_or_404(token)
    gathering = registration.gathering
    now = utcnow()
    try:
        feedback.check_can_answer(registration, now=now)
    except DomainError as refusal:
        status = 409 if isinstance(refusal, feedback.AlreadyAnswered) else 403
        return _page("feedback/unavailable.html", status=status, gathering=gathering,
                     reason=str(refusal))
    form = SurveyForm()
    if form.validate_on_submit():
        try:
            feedback.answer(registration, rating=int(form.rating.data),
                            useful=form.useful.data or "", change=form.change.data or "",
                            wishes=form.wishes.data or "", now=now)
        except DomainError as refusal:
            db.session.rollback()
            return _page("feedback/unavailable.html", status=409, gathering=gathering,
                         reason=str(refusal))
        db.session.commit()
        return _page("feedback/thanks.html", gathering=gathering)
    status = 422 if form.errors else 200
    return _page("feedback/survey.html", status=status, form=form, gathering=gathering,
                 closes_at=feedback.closes_at(gathering))
