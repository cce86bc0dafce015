"""Routes for participants."""

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Any

from flask import (
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound

from .. import (
    addresses,
    calendars,
    form_mail,
    gatherings,
    organisations,
    participation,
    questions,
    rsvp,
    seat_rules,
)
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..i18n import current_language
from . import bp, limits
from .forms import MAX_COLLEAGUES, RegistrationForm
from .limits import LimitsUnavailable

log = logging.getLogger(__name__)


@bp.get("/")
def index():
    """Upcoming gatherings."""
    now = utcnow()
    upcoming = gatherings.upcoming(now)
    return render_template("public/index.html", gatherings=upcoming, now=now,
                           seats=gatherings.seats_left_by_gathering(upcoming))


@bp.get("/arkiv")
def archive():
    """Gatherings that have been held (and those that never were)."""
    now = utcnow()
    return render_template("public/archive.html", gatherings=gatherings.archive(now), now=now)


@bp.get("/personvern")
def privacy():
    """What we store about participants, why, and for how long."""
    return render_template("public/privacy.html")


# When the accessibility statement was last checked against the service: change it whenever the
# statement is reviewed (the statement shows it; uustatus.no asks for it).
ACCESSIBILITY_REVIEWED = date(2026, 12, 6)


@bp.get("/tilgjengelighet")
def accessibility():
    """The accessibility statement (tilgjengelighetserklæring): what is tested, how to report."""
    contact = parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1]
    reviewed = datetime.combine(ACCESSIBILITY_REVIEWED, time(12), tzinfo=UTC)
    return render_template("public/accessibility.html", contact=contact, reviewed=reviewed,
                           reviewed_iso=ACCESSIBILITY_REVIEWED.isoformat())


def registration_form(gathering, form_class: type[RegistrationForm] = RegistrationForm
                      ) -> RegistrationForm:
    """The registration form with the gathering's own questions (questions.py) for the person
    and in each colleague row, filled from the request when it was posted (`form_class`: the
    framed form's, public/embed.py)."""
    asked = questions.questions_of(gathering)
    form = questions.with_questions(form_class, asked, after="org_number")()
    form.asks_mode = participation.asks_mode(gathering)  # hybrid: each person says how
    return form


@bp.get("/samlinger/<slug>")
def gathering(slug):
    """A gathering and its registration form."""
    gathering = gatherings.get_public_or_404(slug)
    return _gathering_page(gathering, registration_form(gathering))


@bp.post("/samlinger/<slug>")
def register(slug):
    """Register the visitor (and any colleagues) for a gathering.

    The form's limits (public/limits.py) are checked once it is valid, and a form they stop
    comes back with what was typed and a message (429). Adding a colleague row counts nothing.
    """
    gathering = gatherings.get_public_or_404(slug)
    taken = take_form(gathering, registration_form(gathering),
                      functools.partial(_gathering_page, gathering))
    if not isinstance(taken, Registered):
        return taken
    # The receipt says what became of each person, but tells "already registered" only for an
    # address this browser registered itself: to anyone else it reads as a new registration
    # would (docs/decisions/0018-the-receipt-and-known-addresses.md).
    receipt_url = url_for(".receipt", slug=gathering.slug)
    db.session.commit()  # the registrations and their mail commit together
    session["receipt"] = {**_receipt(gathering, taken.wanted, taken.outcomes, taken.full_now,
                                     now=utcnow()),
                          "newsletter": taken.newsletter}
    return redirect(receipt_url, 303)


@dataclass(frozen=True)
class Registered:
    """A registration form taken: who was asked for, what became of each, whether the
    gathering is full now, and whether the newsletter was asked for (not yet committed)."""

    wanted: rsvp.RegistrationRequest
    outcomes: list
    full_now: bool
    newsletter: bool


def take_form(gathering, form: RegistrationForm, page: Callable[..., Any]) -> Registered | Any:
    """The registration form's POST, on the gathering's page and in the framed form
    (public/embed.py) alike: a colleague row added or removed, or the form checked, counted
    against its limits (public/limits.py) and registered with the answers to the organisers'
    questions, flushed but not committed. `page(form, status=…, focus_row=…, removed=…)` draws
    the form again as typed, with what stopped it; its answer is returned as is."""
    if (removing := form.colleague_to_remove()) is not None:
        in_place = form.remove_colleague_row(removing)
        return page(form, focus_row=in_place, removed=True)
    if form.add_colleague.data:  # adding a row counts nothing against the limits
        if len(form.colleagues) < MAX_COLLEAGUES:
            form.colleagues.append_entry()
        added = form.colleagues.entries[-1] if form.colleagues.entries else None
        return page(form, focus_row=int(added.name.rsplit("-", 1)[1]) if added else None)
    if not form.validate_on_submit():
        return page(form, status=422)
    wanted = form.to_request(current_language())
    try:
        budget = _budget(gathering, form)
        if stops := budget.stops():
            return _stopped(form, stops, page)
        now = utcnow()
        outcomes = form_mail.register(gathering, wanted, now=now,
                                      may_resend_link=budget.may_resend_link,
                                      newsletter=form.wants_newsletter())
        # Each newly registered person's answers to the organisers' questions, in the same
        # transaction.
        questions.save_from_form(outcomes, form, getattr(form, "questions", []), now=now)
        if stops := budget.take():  # another request took what was left meanwhile
            db.session.rollback()
            return _stopped(form, stops, page)
    except DomainError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return page(form, status=422)
    except LimitsUnavailable as error:
        db.session.rollback()
        log.error("registration refused: the rate-limit store did not answer: %s", error)
        form.form_errors.append(_("Vi kan ikke ta imot påmeldinger akkurat nå. Det du skrev, er "
                                  "tatt vare på: prøv igjen om litt."))
        return page(form, status=503)
    return Registered(wanted, outcomes, rsvp.seats_left(gathering) == 0,
                      form.wants_newsletter())


def _budget(gathering, form: RegistrationForm) -> limits.FormBudget:
    """What this valid form would count against the form's limits."""
    def recipient(field) -> limits.Recipient:
        return limits.Recipient(field.name, field.data, addresses.key(field.data))

    registrant = recipient(form.email)
    colleagues = [recipient(entry.email) for entry in form.filled_colleagues()]
    return limits.FormBudget(
        gathering.id, client=get_remote_address(), registrant=registrant, colleagues=colleagues,
        suppressed=form_mail.suppressed([r.key for r in [registrant, *colleagues]]))


def _stopped(form: RegistrationForm, stops: list[limits.Stop], page: Callable[..., Any]):
    """The form again, as typed, with what stopped it beside its field or above the form."""
    fields = {field.name: field for field in _fields(form)}
    for stop in stops:
        if stop.field in fields:
            fields[stop.field].errors.append(stop.message)
        else:
            form.form_errors.append(stop.message)
    response = make_response(page(form, status=429))
    if wait := max((stop.retry_after for stop in stops), default=0):
        response.headers["Retry-After"] = str(wait)
    return response


def _fields(form):
    for field in form:
        if field.type == "FieldList":
            for entry in field:
                yield from entry.form
        else:
            yield field


# A receipt bigger than this is cut down to the first address and a count, so the session
# cookie stays far below the 4 KB browsers keep.
_RECEIPT_CHARACTERS = 1500


# The addresses (their keys' digests) this browser has registered for each gathering, kept in
# the signed session so that only this browser is told "you were already registered".
_REGISTERED_HERE = "registered_here"
_REGISTERED_HERE_KEEPS = 20


def _digest(gathering_id: int, key: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{gathering_id}:{key}".encode(), hashlib.sha256).hexdigest()[:16]


def _receipt(gathering, wanted, outcomes, full_now: bool, *, now) -> dict:
    """Who the form was for and what became of each: "confirmed", "waiting" or "known" (was
    registered before, and this browser registered it). An address registered before from
    elsewhere is reported as a newcomer's would be at this moment: the page must not tell a
    stranger which addresses are registered; the truth goes to that inbox."""
    here = session.get(_REGISTERED_HERE) or []
    people = []
    for person, outcome in zip([wanted.person, *wanted.colleagues], outcomes, strict=True):
        digest = _digest(gathering.id, outcome.registration.email_key)
        reason = None
        if not outcome.already_registered:
            state = outcome.registration.status.value
            # seat rules (issue 16): why they wait, put into words when the receipt is shown
            found = seat_rules.why_waiting(outcome.registration, now=now)
            reason = found.to_json() if found is not None and found.code != seat_rules.FULL \
                else None
        elif digest in here:
            state = "known"
        else:
            state = "waiting" if full_now else "confirmed"
        if digest not in here:
            here = [*here, digest][-_REGISTERED_HERE_KEEPS:]
        people.append([person.name, person.email, state, *([reason] if reason else [])])
    session[_REGISTERED_HERE] = here
    # (a waiting person's reason, issue 16, counts too)
    if sum(len(name) + len(email) + sum(len(str(reason)) for reason in rest[1:])
           for name, email, *rest in people) > _RECEIPT_CHARACTERS:
        return {"gathering": gathering.id, "people": people[:1], "more": len(people) - 1}
    return {"gathering": gathering.id, "people": people, "more": 0}


@bp.errorhandler(CSRFError)
def expired_form(error):
    """A registration form whose security token no longer matches (e.g. the browser was closed):
    show it again with everything the person typed, with a fresh token, instead of losing it."""
    if request.endpoint != "public.register":
        return render_template("errors/400.html"), 400
    try:
        gathering = gatherings.get_public_or_404(request.view_args["slug"])
    except NotFound:  # raised in an error handler, a 404 is not handled again (it would be a 500)
        return render_template("errors/404.html"), 404
    form = registration_form(gathering)  # filled from the request; renders a fresh token
    form.form_errors.append(_("Skjemaet var utløpt av sikkerhetsgrunner, så ingenting er sendt ennå. "
                              "Det du skrev, er tatt vare på: se over og send på nytt."))
    return _gathering_page(gathering, form, status=400)


@bp.get("/samlinger/<slug>/kvittering")
def receipt(slug):
    """The registration this browser just submitted: who it was for, and "check your inbox"."""
    gathering = gatherings.get_public_or_404(slug)
    stored = session.get("receipt") or {}
    if stored.get("gathering") != gathering.id or "people" not in stored:
        return redirect(url_for(".gathering", slug=slug))
    # [name, email, what became of them]; a receipt written before the third was kept has two.
    people = [(person[0], person[1], person[2] if len(person) > 2 else None,
               seat_rules.describe(seat_rules.Reason.from_json(person[3], gathering))
               if len(person) > 3 else "")
              for person in stored["people"]]
    all_known = bool(people) and not stored.get("more") and all(
        person[2] == "known" for person in people)
    response = Response(render_template("public/receipt.html", gathering=gathering,
                                        people=people, more=stored.get("more", 0),
                                        all_known=all_known,
                                        newsletter=bool(stored.get("newsletter"))))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/samlinger/<slug>.ics")
def gathering_ics(slug):
    """The gathering as a calendar file (PUBLISH: no invitation, no attendee)."""
    gathering = gatherings.get_public_or_404(slug)
    return Response(
        calendars.published(gathering, now=utcnow()),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{gathering.slug}.ics"'},
    )


# The organisation names the form suggests, kept per app process this many seconds: counting
# who registered from where is a scan of every registration (15–25 ms at 20,000), too much
# for each view of the busiest page. The organisers' organisation pages clear it.
SUGGESTIONS_SECONDS = 60


def _suggestions(now: datetime) -> list[str]:
    kept = current_app.extensions.setdefault("organisation_suggestions", {})
    if kept.get("until") is None or now >= kept["until"]:
        kept.update(names=organisations.suggestions(),
                    until=now + timedelta(seconds=SUGGESTIONS_SECONDS))
    return kept["names"]


def forget_suggestions() -> None:
    """Let the next form page count the suggestions again (after an organiser's change)."""
    current_app.extensions.pop("organisation_suggestions", None)


def _gathering_page(gathering, form, *, status=200, focus_row=None, removed=False):
    """The gathering and its form. `focus_row`: the index of the colleague row whose first
    field takes the focus (the one just added, or the one now where a removed row was);
    `removed` with no such row: the focus goes to "Legg til en kollega"."""
    now = utcnow()
    registration_open = gathering.registration_open(now)
    return render_template(
        "public/gathering.html",
        gathering=gathering,
        form=form,
        now=now,
        registration_open=registration_open,
        focus_row=focus_row,
        removed=removed,
        **form_context(gathering, form, now=now, registration_open=registration_open),
    ), status


def form_context(gathering, form, *, now, registration_open: bool) -> dict:
    """What the form's fields and the seats beside it need (public/_registration_fields.html,
    public/_seats.html), on the gathering's page and in the framed form alike."""
    return {
        "seats_left": rsvp.seats_left(gathering),
        # seat rules (issue 16): "5 plasser holdes av til frivillige organisasjoner til …"
        "seats_held": [seat_rules.held_text(hold, left)
                       for hold, left in seat_rules.open_holds(gathering, now=now)]
        if registration_open else [],
        "seats_by_mode": participation.seats_left_by_mode(gathering),
        "max_colleagues": MAX_COLLEAGUES,
        "colleague_template": form.colleagues.unbound_field.args[0](
            prefix=f"{form.colleagues.name}-__INDEX__-"),
        "questions": getattr(form, "questions", []),
        "organisation_suggestions": _suggestions(now) if registration_open else [],
    }
