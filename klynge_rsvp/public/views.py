"""Routes for participants."""

import logging
from email.utils import parseaddr

from flask import Response, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound

from .. import addresses, calendars, form_mail, gatherings, rsvp
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
    return render_template("public/index.html", gatherings=gatherings.upcoming(now), now=now)


@bp.get("/arkiv")
def archive():
    """Gatherings that have been held (and those that never were)."""
    now = utcnow()
    return render_template("public/archive.html", gatherings=gatherings.archive(now), now=now)


@bp.get("/personvern")
def privacy():
    """What we store about participants, why, and for how long."""
    return render_template("public/privacy.html")


@bp.get("/tilgjengelighet")
def accessibility():
    """The accessibility statement (tilgjengelighetserklæring): what is tested, how to report."""
    contact = parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1]
    return render_template("public/accessibility.html", contact=contact)


@bp.get("/samlinger/<slug>")
def gathering(slug):
    """A gathering and its registration form."""
    return _gathering_page(gatherings.get_public_or_404(slug), RegistrationForm())


@bp.post("/samlinger/<slug>")
def register(slug):
    """Register the visitor (and any colleagues) for a gathering.

    The form's limits (public/limits.py) are checked once it is valid, and a form they stop
    comes back with what was typed and a message (429). Adding a colleague row counts nothing.
    """
    gathering = gatherings.get_public_or_404(slug)
    form = RegistrationForm()
    if form.add_colleague.data:
        if len(form.colleagues) < MAX_COLLEAGUES:
            form.colleagues.append_entry()
        return _gathering_page(gathering, form, focus_colleague=True)
    if not form.validate_on_submit():
        return _gathering_page(gathering, form, status=422)
    wanted = form.to_request(current_language())
    try:
        budget = _budget(gathering, form)
        if stops := budget.stops():
            return _stopped(gathering, form, stops)
        form_mail.register(gathering, wanted, now=utcnow(), may_resend_link=budget.may_resend_link)
        if stops := budget.take():  # another request took what was left meanwhile
            db.session.rollback()
            return _stopped(gathering, form, stops)
    except DomainError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _gathering_page(gathering, form, status=422)
    except LimitsUnavailable as error:
        db.session.rollback()
        log.error("registration refused: the rate-limit store did not answer: %s", error)
        form.form_errors.append(_("Vi kan ikke ta imot påmeldinger akkurat nå. Det du skrev, er "
                                  "tatt vare på: prøv igjen om litt."))
        return _gathering_page(gathering, form, status=503)
    # The receipt says only what was typed, the same whether an address was registered before
    # or not: what became of each registration goes only to its own inbox.
    receipt_url = url_for(".receipt", slug=gathering.slug)
    db.session.commit()  # the registrations and their mail commit together
    session["receipt"] = _receipt(gathering, wanted)
    return redirect(receipt_url, 303)


def _budget(gathering, form: RegistrationForm) -> limits.FormBudget:
    """What this valid form would count against the form's limits."""
    def recipient(field) -> limits.Recipient:
        return limits.Recipient(field.name, field.data, addresses.key(field.data))

    registrant = recipient(form.email)
    colleagues = [recipient(entry.email) for entry in form.filled_colleagues()]
    return limits.FormBudget(
        gathering.id, client=get_remote_address(), registrant=registrant, colleagues=colleagues,
        suppressed=form_mail.suppressed([r.key for r in [registrant, *colleagues]]))


def _stopped(gathering, form: RegistrationForm, stops: list[limits.Stop]):
    """The form again, as typed, with what stopped it beside its field or above the form."""
    fields = {field.name: field for field in _fields(form)}
    for stop in stops:
        if stop.field in fields:
            fields[stop.field].errors.append(stop.message)
        else:
            form.form_errors.append(stop.message)
    if any(stop.field in fields for stop in stops):
        # The summary above the form (form.errors does not see errors added after validation).
        form.form_errors.append(_("Rett opp feltene som er merket nedenfor. Det du har skrevet, "
                                  "er tatt vare på."))
    body, status = _gathering_page(gathering, form, status=429)
    wait = max((stop.retry_after for stop in stops), default=0)
    return body, status, {"Retry-After": str(wait)} if wait else {}


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


def _receipt(gathering, wanted) -> dict:
    people = [[p.name, p.email] for p in [wanted.person, *wanted.colleagues]]
    if sum(len(name) + len(email) for name, email in people) > _RECEIPT_CHARACTERS:
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
    form = RegistrationForm()  # filled from the request; renders a fresh token
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
    response = Response(render_template("public/receipt.html", gathering=gathering,
                                        people=stored["people"], more=stored.get("more", 0)))
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


def _gathering_page(gathering, form, *, status=200, focus_colleague=False):
    now = utcnow()
    return render_template(
        "public/gathering.html",
        gathering=gathering,
        form=form,
        now=now,
        registration_open=gathering.registration_open(now),
        seats_left=rsvp.seats_left(gathering),
        focus_colleague=focus_colleague,
        max_colleagues=MAX_COLLEAGUES,
    ), status
