"""Move, postpone, give a new date, cancel: a form with a message, a preview of the notice as
it will arrive, then one confirming button. And who answered "still coming?" after a new date.

The preview runs the real action inside a savepoint and rolls it back, so what the organiser
sees is exactly what each person will get (text, HTML and calendar part), never a look-alike.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .. import lifecycle
from ..clock import local_zone, to_local, utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import no_invisible_characters, normalise_newlines, plain_text, single_line, strip
from ..mail.parts import read as read_mail
from ..models import Gathering, GatheringStatus, OutboxMessage, RegistrationStatus
from ..security import CONTENT_SECURITY_POLICY
from . import bp
from .gathering_forms import (
    END_OF_DAY,
    ConfirmTimeField,
    NorwegianDateField,
    NorwegianTimeField,
    OccurrenceField,
    WallTimeQuestions,
    combine,
    occurrence_of,
)


def _message(required: bool, hint_label: str) -> TextAreaField:
    presence = InputRequired(_l("Skriv en beskjed til de påmeldte.")) if required else Optional()
    return TextAreaField(hint_label, filters=[normalise_newlines], render_kw={"rows": 6},
                         validators=[presence, plain_text, Length(
                             max=5000, message=_l("Beskjeden kan være høyst 5000 tegn."))])


def _venue(label: str, required: bool, max_length: int) -> StringField:
    presence = InputRequired(_l("Skriv hvor samlingen skal være.")) if required else Optional()
    return StringField(label, filters=[strip], validators=[
        presence, single_line, no_invisible_characters,
        Length(max=max_length, message=_l("Teksten kan være høyst %(max)s tegn.", max=max_length))])


class ChangeForm(WallTimeQuestions, FlaskForm):
    """What every action's form has: the buttons of the three steps, and the questions about a
    typed time the zone skips or has twice (see WallTimeQuestions)."""

    preview = SubmitField(_l("Forhåndsvis varselet"))
    confirm = SubmitField(_l("Bekreft og send"))
    edit = SubmitField(_l("Endre"))

    def __init__(self, *args, zone, **kw):
        super().__init__(*args, **kw)
        self.zone = zone

    def fill(self, gathering: Gathering) -> None:
        """Initial values for a GET."""

    def arguments(self) -> dict:
        """The form as keyword arguments for the lifecycle service."""
        return {"message": self.message.data or ""}

    def wall_times(self) -> dict[str, datetime | None]:
        return {}

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return self.ask_about_wall_times() and valid


class TimeAndPlaceForm(ChangeForm):
    start_date = NorwegianDateField(_l("Ny dato"), validators=[InputRequired(_l("Velg datoen."))])
    start_time = NorwegianTimeField(_l("Starter kl."),
                                    validators=[InputRequired(_l("Skriv når den starter."))])
    start_time_gap = ConfirmTimeField(_l("Starter kl."))
    start_time_occurrence = OccurrenceField(_l("Starter kl."))
    end_time = NorwegianTimeField(_l("Slutter kl."), validators=[InputRequired(_l("Skriv når den slutter."))])
    end_time_gap = ConfirmTimeField(_l("Slutter kl."))
    end_time_occurrence = OccurrenceField(_l("Slutter kl."))
    end_date = NorwegianDateField(_l("Sluttdato (bare hvis den varer over flere dager)"),
                                  validators=[Optional()])
    venue_name = _venue(_l("Sted"), True, 200)
    venue_address = _venue(_l("Adresse (valgfritt)"), False, 300)

    def fill(self, gathering: Gathering) -> None:
        start, end = to_local(gathering.starts_at, self.zone), to_local(gathering.ends_at, self.zone)
        self.start_date.data, self.start_time.data = start.date(), start.time()
        self.end_time.data = end.time()
        self.end_date.data = end.date() if end.date() != start.date() else None
        self.start_time_occurrence.data = occurrence_of(start)
        self.end_time_occurrence.data = occurrence_of(end)
        self.venue_name.data, self.venue_address.data = gathering.venue_name, gathering.venue_address

    def wall_times(self) -> dict[str, datetime | None]:
        return {"start_time": combine(self.start_date.data, self.start_time.data),
                "end_time": combine(self.end_date.data or self.start_date.data, self.end_time.data)}

    def arguments(self) -> dict:
        return {
            **super().arguments(),
            "starts_at": self.instant("start_time"),
            "ends_at": self.instant("end_time"),
            "venue_name": self.venue_name.data, "venue_address": self.venue_address.data or "",
        }


class MoveForm(TimeAndPlaceForm):
    message = _message(False, _l("Beskjed til de påmeldte (valgfritt)"))


class RescheduleForm(TimeAndPlaceForm):
    deadline_date = NorwegianDateField(_l("Svarfrist, dato"),
                                       validators=[InputRequired(_l("Velg en svarfrist."))])
    deadline_time = NorwegianTimeField(_l("Svarfrist, klokkeslett (valgfritt)"), validators=[Optional()])
    deadline_time_gap = ConfirmTimeField(_l("Svarfrist, klokkeslett (valgfritt)"))
    deadline_time_occurrence = OccurrenceField(_l("Svarfrist, klokkeslett (valgfritt)"))
    message = _message(False, _l("Beskjed til de påmeldte (valgfritt)"))

    def fill(self, gathering: Gathering) -> None:
        self.venue_name.data, self.venue_address.data = gathering.venue_name, gathering.venue_address

    def wall_times(self) -> dict[str, datetime | None]:
        return {**super().wall_times(), "deadline_time": combine(
            self.deadline_date.data, self.deadline_time.data or END_OF_DAY)}

    def arguments(self) -> dict:
        return {**super().arguments(), "reconfirm_deadline": self.instant("deadline_time")}


class PostponeForm(ChangeForm):
    message = _message(True, _l("Beskjed til de påmeldte og på nettsiden"))


class CancelForm(ChangeForm):
    message = _message(True, _l("Beskjed til de påmeldte og på nettsiden"))


@dataclass(frozen=True)
class Action:
    """One change an organiser can make; its texts are lazy, shown in the organiser's language."""

    endpoint: str
    title: str
    intro: str
    form: type[ChangeForm]
    run: Callable
    fields: tuple[str, ...]
    confirm_label: str
    done: str
    already: str  # flashed when the confirming request finds the change made (a double click)
    unchanged: str  # the form error when the preview finds nothing to do
    danger: bool = False


TIME_AND_PLACE = ("start_date", "start_time", "end_time", "end_date", "venue_name", "venue_address",
                  # the answers about a time the zone skips or has twice (the preview carries them)
                  "start_time_gap", "start_time_occurrence", "end_time_gap", "end_time_occurrence")

ACTIONS = {
    "move": Action(
        "lifecycle_move", _l("Flytt samlingen"),
        _l("Bruk dette når samlingen får ny tid eller nytt sted som er kjent. Alle med plass får en "
           "oppdatert kalenderinvitasjon som erstatter avtalen i kalenderen deres, og e-posten sier "
           "hva som er endret. De på ventelisten får samme beskjed, uten kalenderinvitasjon. "
           "Påminnelsen kommer før den nye datoen."),
        MoveForm, lifecycle.move, (*TIME_AND_PLACE, "message"),
        _l("Flytt og send varsel"), _l("Samlingen er flyttet."),
        _l("Tid og sted var allerede endret. Ingen fikk varselet to ganger."),
        _l("Tid og sted er de samme som nå. Endre noe, eller gå tilbake.")),
    "postpone": Action(
        "lifecycle_postpone", _l("Utsett på ubestemt tid"),
        _l("Bruk dette når samlingen ikke blir som planlagt og ny dato ikke er bestemt. Påmeldingen "
           "stenges, nettsiden viser «Utsatt på ubestemt tid» med beskjeden din, og samlingen tas ut "
           "av kalenderen til alle med plass. Påmeldingene beholdes, og påminnelser stopper. Når "
           "dere har ny dato, bruker dere «Gi ny dato»."),
        PostponeForm, lifecycle.postpone, ("message",),
        _l("Utsett og send varsel"), _l("Samlingen er utsatt på ubestemt tid."),
        _l("Samlingen var allerede utsatt. Ingen fikk varselet to ganger."),
        _l("Samlingen er allerede utsatt.")),
    "reschedule": Action(
        "lifecycle_reschedule", _l("Gi ny dato"),
        _l("Samlingen får ny dato etter å ha vært utsatt. Alle med plass får en ny "
           "kalenderinvitasjon og blir spurt om de fortsatt kan komme, med ja/nei med ett klikk. "
           "Den som svarer nei, meldes av, og plassen går til ventelisten. Den som ikke har svart "
           "innen svarfristen, får én påminnelse. Påmeldingen åpner igjen."),
        RescheduleForm, lifecycle.reschedule,
        (*TIME_AND_PLACE, "deadline_date", "deadline_time", "deadline_time_gap",
         "deadline_time_occurrence", "message"),
        _l("Gi ny dato og send invitasjoner"), _l("Samlingen har fått ny dato."),
        _l("Samlingen hadde allerede fått denne datoen. Ingen fikk invitasjonen to ganger."),
        _l("Samlingen har allerede fått denne datoen.")),
    "cancel": Action(
        "lifecycle_cancel", _l("Avlys samlingen"),
        _l("Samlingen avlyses for godt. Påmeldingen stenges, nettsiden viser «Avlyst» med beskjeden "
           "din, og samlingen tas ut av kalenderen til alle med plass. Det kan ikke angres."),
        CancelForm, lifecycle.cancel, ("message",),
        _l("Avlys og send varsel"), _l("Samlingen er avlyst."),
        _l("Samlingen var allerede avlyst. Ingen fikk varselet to ganger."),
        _l("Samlingen er allerede avlyst."), danger=True),
}

FIELD_HINTS = {
    "message": _l("Skriv med egne ord hvorfor og hva som skjer videre. Den står i e-posten, og ved "
                  "utsettelse og avlysning også på nettsiden."),
    "venue_address": _l("For eksempel «Øvre Ole Bulls plass 3, 5012 Bergen»."),
    "deadline_date": _l("De som ikke har svart innen fristen, får én påminnelse."),
    "deadline_time": _l("Uten klokkeslett gjelder fristen til kl. 23.59."),
}


def get_gathering_or_404(gathering_id: int) -> Gathering:
    """The gathering, or 404."""
    return db.session.get(Gathering, gathering_id) or abort(404)


@bp.app_template_global()
def lifecycle_actions(gathering: Gathering) -> list[dict]:
    """The changes that can be made to the gathering now, as links (for _actions.html)."""
    names = []
    if gathering.status == GatheringStatus.PUBLISHED and gathering.starts_at > utcnow():
        names = ["move", "postpone", "cancel"]
    elif gathering.status == GatheringStatus.POSTPONED:
        names = ["reschedule", "cancel"]
    return [{"label": ACTIONS[name].title, "danger": ACTIONS[name].danger,
             "url": url_for(f"admin.{ACTIONS[name].endpoint}", gathering_id=gathering.id)}
            for name in names]


@bp.route("/samlinger/<int:gathering_id>/flytt", methods=["GET", "POST"])
def lifecycle_move(gathering_id):
    """Move the gathering to a known new time or place."""
    return _change("move", gathering_id)


@bp.route("/samlinger/<int:gathering_id>/utsett", methods=["GET", "POST"])
def lifecycle_postpone(gathering_id):
    """Postpone the gathering indefinitely."""
    return _change("postpone", gathering_id)


@bp.route("/samlinger/<int:gathering_id>/ny-dato", methods=["GET", "POST"])
def lifecycle_reschedule(gathering_id):
    """Give a postponed gathering a new date and ask everyone whether they still come."""
    return _change("reschedule", gathering_id)


@bp.route("/samlinger/<int:gathering_id>/avlys", methods=["GET", "POST"])
def lifecycle_cancel(gathering_id):
    """Cancel the gathering."""
    return _change("cancel", gathering_id)


@bp.get("/samlinger/<int:gathering_id>/svar-pa-ny-dato")
def reconfirmations(gathering_id):
    """Who answered "still coming?" after the new date: yes, no, not yet."""
    gathering = get_gathering_or_404(gathering_id)
    return render_template("admin/lifecycle/reconfirmations.html", gathering=gathering,
                           answers=lifecycle.reconfirmation_overview(gathering),
                           back_url=_gathering_url(gathering))


def _change(name: str, gathering_id: int):
    """Form → preview → confirm, the same three steps for every action."""
    action = ACTIONS[name]
    gathering = get_gathering_or_404(gathering_id)
    form = action.form(zone=local_zone(current_app.config["KLYNGE_TIMEZONE"]))
    if request.method == "GET":
        form.fill(gathering)
    elif form.validate_on_submit() and not form.edit.data:
        arguments = form.arguments()
        try:
            if form.confirm.data:
                outcome = action.run(gathering, **arguments, now=utcnow(),
                                     by=current_user._get_current_object())
            else:
                previews, outcome = _preview(action, gathering, arguments)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            if form.confirm.data:
                db.session.commit()  # the change, its notices and the audit line together
                flash(f"{action.done} {_notices(outcome.notified)}" if outcome.done
                      else str(action.already), "success" if outcome.done else "info")
                return redirect(_gathering_url(gathering), 303)
            if outcome.done:
                return _render_preview(action, gathering, form, previews, outcome)
            form.form_errors.append(str(action.unchanged))
    return render_template("admin/lifecycle/form.html", action=action, gathering=gathering,
                           form=form, hints=FIELD_HINTS, back_url=_gathering_url(gathering)), \
        422 if form.errors or form.form_errors else 200


def _preview(action: Action, gathering: Gathering, arguments: dict):
    """Run the action in a savepoint, keep the notices it queued, and roll it all back."""
    last_id = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0
    savepoint = db.session.begin_nested()
    try:
        outcome = action.run(gathering, **arguments, now=utcnow(),
                             by=current_user._get_current_object())
        queued = db.session.scalars(  # the action's own notices (not, say, a promotion)
            sa.select(OutboxMessage)
            .where(OutboxMessage.id > last_id, OutboxMessage.kind.startswith("gathering_"))
            .order_by(OutboxMessage.id)
        ).all()
        samples = {}
        for row in queued:
            with_seat = row.registration.status == RegistrationStatus.CONFIRMED
            samples.setdefault("seat" if with_seat else "waiting", read_mail(row.message))
    finally:
        savepoint.rollback()
    return samples, outcome


def _render_preview(action, gathering, form, previews, outcome):
    html = render_template("admin/lifecycle/preview.html", action=action, gathering=gathering,
                           form=form, previews=previews, outcome=outcome,
                           back_url=_gathering_url(gathering))
    # The notices' HTML is shown in sandboxed srcdoc frames, which live under this page's
    # policy: allow exactly the inline styles the emails use (by hash), and nothing else.
    hashes = sorted({h for part in previews.values() for h in _style_hashes(part["html"])})
    policy_ = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", " ".join(["style-src 'self'", *(["'unsafe-hashes'", *hashes]
                                                              if hashes else [])]))
    return html, 200, {"Content-Security-Policy": policy_, "Cache-Control": "no-store"}


class _StyleCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.styles: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.styles.update(value for name, value in attrs if name == "style" and value)


def _style_hashes(html: str) -> set[str]:
    collector = _StyleCollector()
    collector.feed(html)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
            for style in collector.styles}


def _notices(count: int) -> str:
    if count == 0:
        return _("Ingen var påmeldt, så ingen varsler er sendt.")
    return ngettext("%(num)s varsel er lagt i køen for sending.",
                    "%(num)s varsler er lagt i køen for sending.", count)


def _gathering_url(gathering: Gathering) -> str:
    """The gathering's organiser page (helper-built), else the answers overview."""
    if "admin.gathering" in current_app.view_functions:
        return url_for("admin.gathering", gathering_id=gathering.id)
    return url_for("admin.reconfirmations", gathering_id=gathering.id)
