"""Routes behind a participant's manage link."""

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SubmitField
from wtforms.validators import DataRequired, InputRequired

from .. import calendars, form_mail, lifecycle, participation, privacy, questions, rsvp, seat_rules
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..models import Registration, RegistrationStatus
from . import bp
from .forms import CancelForm, DetailsForm, ModeForm, RegisterAgainForm


class NotMeForm(FlaskForm):
    """"Not me, or I don't want this" (CSRF-protected, one button)."""

    submit = SubmitField(_l("Meld meg av og stopp e-posten"))


class EraseForm(FlaskForm):
    """Erase my registration and my data, after saying I understand."""

    confirm = BooleanField(_l("Jeg forstår at påmeldingen og opplysningene mine slettes for godt."),
                           validators=[DataRequired(_l("Kryss av for å bekrefte at du vil slette."))])
    submit = SubmitField(_l("Slett påmeldingen og opplysningene mine"))


def get_registration_or_404(token: str) -> Registration:
    """The registration behind a manage link; an unknown or revoked link is a 404."""
    registration = rsvp.find_by_token(token)
    if registration is None:
        abort(404, description="unknown_link")
    return registration


def _private(response_body, status=200) -> Response:
    response = Response(response_body, status=status)
    # A manage page is one person's: never kept by a shared cache or the browser's history cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>")
def show(token):
    """The person's registration: details, calendar file, change, cancel, register again."""
    registration = get_registration_or_404(token)
    now = utcnow()
    gathering = registration.gathering
    active = registration.status != RegistrationStatus.CANCELLED and not gathering.is_past(now)
    return _private(render_template(
        "manage/show.html",
        registration=registration,
        gathering=gathering,
        position=rsvp.waiting_position(registration),
        waiting_reason=seat_rules.describe(seat_rules.why_waiting(registration, now=now)),
        can_cancel=active,
        can_change=active and registration.anonymised_at is None,
        can_register_again=registration.status == RegistrationStatus.CANCELLED
        and registration.anonymised_at is None and gathering.registration_open(now),
        seats_left=rsvp.seats_left(gathering),
        again_form=RegisterAgainForm(),
        answers=questions.answers_of(registration),
        meeting=participation.meeting_for(registration),
        mode_form=ModeForm(data={"mode": registration.mode.value})
        if participation.asks_mode(gathering) and active and registration.anonymised_at is None
        else None,
    ))


@bp.post("/<token>/deltakelse")
def switch_mode(token):
    """In the room or online, on a hybrid gathering: a seat in the other mode if one is free
    (else, with no seat yet, its waiting list), under the seat lock (rsvp.switch_mode)."""
    registration = get_registration_or_404(token)
    form = ModeForm()
    if not form.validate_on_submit():
        flash(_("Velg om du deltar i salen eller digitalt."), "error")
        return redirect(url_for(".show", token=token), 303)
    try:
        rsvp.switch_mode(registration, form.mode.data, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".show", token=token), 303)
    db.session.commit()
    if registration.status == RegistrationStatus.CONFIRMED:
        flash(_("Endringen er lagret. Du får en oppdatert kalenderinvitasjon på e-post."), "success")
    else:
        flash(_("Endringen er lagret. Du står på ventelisten, og får beskjed på e-post."), "info")
    return redirect(url_for(".show", token=token), 303)


@bp.route("/<token>/avmelding", methods=["GET", "POST"])
def cancel(token):
    """Cancel, after a confirmation page of its own: the GET (the manage page's link, and
    "Jeg kan ikke komme" in mail, which scanners open) only asks; the POST cancels, and a
    freed seat goes to the first on the waiting list."""
    registration = get_registration_or_404(token)
    form = CancelForm()
    now = utcnow()
    past = registration.gathering.is_past(now)
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if past:
            flash(_("Samlingen er over, og påmeldingen kan ikke lenger endres."), "error")
        elif registration.status == RegistrationStatus.CANCELLED:
            flash(_("Du var allerede meldt av."), "info")
        else:
            rsvp.cancel(registration, now=now)
            db.session.commit()
            flash(_("Du er meldt av. Vi har sendt en bekreftelse på e-post."), "success")
        return redirect(url_for(".show", token=token), 303)
    return _private(render_template("manage/cancel.html", registration=registration,
                                    gathering=registration.gathering, form=form, past=past))


@bp.route("/<token>/endre", methods=["GET", "POST"])
def edit(token):
    """Change name, job title, organisation and needs (not the address). The calendar
    invitation is sent again only when the name it shows changed (rsvp.change_details)."""
    registration = get_registration_or_404(token)
    # The organisers' own questions (questions.py), answered again in the same form.
    asked = questions.questions_of(registration.gathering_id)
    form = questions.with_questions(DetailsForm, asked, after="needs", colleagues=False)()
    if request.method == "GET":
        form.fill_from(registration)
        questions.fill(form, questions.current_values(registration), asked)
    elif form.validate_on_submit():
        try:
            now = utcnow()
            changed = rsvp.change_details(registration, form.to_details(), now=now)
            if asked and questions.change_answers(
                    registration, questions.values_from(form, asked), now=now):
                changed = [*changed, "answers"]
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            if not changed:
                flash(_("Du endret ingenting, så ingenting er lagret."), "info")
            elif registration.status == RegistrationStatus.CONFIRMED and "name" in changed:
                flash(_("Endringene er lagret. Du får en oppdatert kalenderinvitasjon på e-post."),
                      "success")
            else:
                flash(_("Endringene er lagret."), "success")
            return redirect(url_for(".show", token=token), 303)
    return _private(render_template("manage/edit.html", registration=registration,
                                    gathering=registration.gathering, form=form,
                                    questions=asked),
                    status=422 if form.errors or form.form_errors else 200)


@bp.post("/<token>/meld-pa-igjen")
def register_again(token):
    """Register again after cancelling: a seat while there are seats, else the waiting list."""
    registration = get_registration_or_404(token)
    form = RegisterAgainForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        rsvp.register_again(registration, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        if registration.status == RegistrationStatus.CONFIRMED:
            flash(_("Du er påmeldt igjen og har plass. Vi har sendt ny kalenderinvitasjon på "
                    "e-post."), "success")
        else:
            flash(_("Samlingen er full, så du står på ventelisten. Vi har sendt deg e-post om "
                    "det."), "success")
    return redirect(url_for(".show", token=token), 303)


@bp.get("/<token>/kalender.ics")
def calendar(token):
    """The gathering as a calendar file."""
    registration = get_registration_or_404(token)
    response = Response(
        calendars.published(registration.gathering, now=utcnow()),
        mimetype="text/calendar",
        headers={"Content-Disposition":
                 f'attachment; filename="{registration.gathering.slug}.ics"'},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>/mine-data.json")
def export(token):
    """Everything stored about this registration, as a JSON download."""
    registration = get_registration_or_404(token)
    body = json.dumps(privacy.export(registration), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json",
                        headers={"Content-Disposition": 'attachment; filename="mine-data.json"'})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<token>/slett", methods=["GET", "POST"])
def erase(token):
    """Confirm, then erase the registration and the personal data in it."""
    registration = get_registration_or_404(token)
    form = EraseForm()
    if form.validate_on_submit():
        privacy.erase(registration, now=utcnow())
        db.session.commit()
        flash(_("Påmeldingen og opplysningene dine er slettet."), "success")
        return redirect(url_for("public.gathering", slug=registration.gathering.slug), 303)
    return _private(render_template("manage/erase.html", registration=registration,
                                    gathering=registration.gathering, form=form,
                                    past=registration.gathering.is_past(utcnow())),
                    status=422 if form.errors else 200)


class ReconfirmForm(FlaskForm):
    """Still coming on the new date? The link in the mail preselects the answer."""

    answer = RadioField(_l("Kan du komme på den nye datoen?"),
                        choices=[SelectChoice("ja", _l("Ja, jeg kommer")),
                                 SelectChoice("nei", _l("Nei, jeg kan ikke komme – meld meg av"))],
                        validators=[InputRequired(_l("Velg ja eller nei."))])
    submit = SubmitField(_l("Send svaret"))


@bp.route("/<token>/ny-dato", methods=["GET", "POST"])
def reconfirm(token):
    """Answer "are you still coming?": a GET only shows the choice (mail scanners open links);
    the answer is recorded by the POST of the one button."""
    registration = get_registration_or_404(token)
    form = ReconfirmForm()
    if request.method == "GET" and request.args.get("svar") in ("ja", "nei"):
        form.answer.data = request.args["svar"]
    if form.validate_on_submit():
        coming = form.answer.data == "ja"
        try:
            outcome = lifecycle.reconfirm(registration, coming=coming, now=utcnow())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            if not outcome.done:
                flash(_("Svaret ditt var allerede registrert."), "success")
            elif coming:
                flash(_("Takk! Vi har notert at du kommer på den nye datoen."), "success")
            else:
                flash(_("Du er meldt av, og plassen går videre. Vi har sendt en bekreftelse på e-post."),
                      "success")
            return redirect(url_for(".show", token=token), 303)
    return _private(render_template("manage/reconfirm.html", registration=registration,
                                    gathering=registration.gathering, form=form),
                    status=422 if form.errors or form.form_errors else 200)


@bp.route("/<token>/ikke-meg", methods=["GET", "POST"])
def not_me(token):
    """The "not me" link in the form's mail: a GET only shows what the button does (mail
    scanners open links); its POST cancels, erases what was typed about the person, and stops
    the form's mail to their address (form_mail.refuse)."""
    registration = get_registration_or_404(token)
    form = NotMeForm()
    if form.validate_on_submit():
        form_mail.refuse(registration, now=utcnow())
        db.session.commit()
        return redirect(url_for(".not_me_done"), 303)
    return _private(render_template("manage/not_me.html", registration=registration,
                                    gathering=registration.gathering, form=form, now=utcnow()),
                    status=400 if request.method == "POST" else 200)


@bp.get("/stoppet")
def not_me_done():
    """After "not me": what was done (the manage link no longer works, so no token here)."""
    return _private(render_template("manage/not_me_done.html"))
