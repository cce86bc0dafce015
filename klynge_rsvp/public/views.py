"""Routes for participants."""

from email.utils import parseaddr

from flask import Response, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound

from .. import calendars, gatherings, rsvp
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db, limiter
from ..i18n import current_language
from . import bp
from .forms import MAX_COLLEAGUES, RegistrationForm


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
@limiter.limit(lambda: current_app.config["REGISTRATION_RATE_LIMIT"])
def register(slug):
    """Register the visitor (and any colleagues) for a gathering."""
    gathering = gatherings.get_public_or_404(slug)
    form = RegistrationForm()
    if form.add_colleague.data:
        if len(form.colleagues) < MAX_COLLEAGUES:
            form.colleagues.append_entry()
        return _gathering_page(gathering, form, focus_colleague=True)
    if form.validate_on_submit():
        try:
            outcomes = rsvp.register(gathering, form.to_request(current_language()), now=utcnow())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            # The receipt names no manage link: that goes only to each person's inbox, so
            # typing someone else's address never hands you their registration. (Read before
            # the commit, which would expire them: reading them after it would take the
            # database's write lock again.)
            receipt = {
                "gathering": gathering.id,
                "outcomes": [[o.registration.id, o.already_registered] for o in outcomes],
            }
            receipt_url = url_for(".receipt", slug=gathering.slug)
            db.session.commit()  # the registrations and their mail commit together
            session["receipt"] = receipt
            return redirect(receipt_url, 303)
    return _gathering_page(gathering, form, status=422)


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
    """What became of the registration this browser just submitted."""
    gathering = gatherings.get_public_or_404(slug)
    stored = session.get("receipt") or {}
    if stored.get("gathering") != gathering.id:
        return redirect(url_for(".gathering", slug=slug))
    outcomes = rsvp.outcomes_by_id(gathering, stored["outcomes"])
    response = Response(render_template("public/receipt.html", gathering=gathering,
                                        outcomes=outcomes))
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
