"""Calendars for everyone: the subscribable feed (.ics), "add to my calendar" links and the
schema.org data on gathering pages (template globals, registered with this blueprint)."""

from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from .. import calendars
from ..clock import utcnow
from ..extensions import db
from ..gatherings import VISIBLE
from ..links import absolute_url
from ..models import Gathering, GatheringStatus

bp = Blueprint("feeds", __name__)

FEED_CACHE_SECONDS = 900  # a proxy or client may reuse it this long, then revalidates (ETag)


def feed_gatherings() -> list[Gathering]:
    """Every gathering the public may see, each as it now stands (moved, postponed, cancelled).

    A postponed one stays as a notice on the date it would have been (calendars.public_event);
    when it gets a new date it appears under its new UID instead.
    """
    return list(db.session.scalars(
        sa.select(Gathering).where(Gathering.status.in_(VISIBLE))
        .options(selectinload(Gathering.programme))  # in each DESCRIPTION: one query for all
        .order_by(Gathering.starts_at, Gathering.id)
    ))


@bp.get("/kalender.ics")
def calendar():
    """All gatherings as one calendar to subscribe to (METHOD:PUBLISH, no attendees).

    The bytes depend only on the gatherings and the language (each DTSTAMP is a gathering's
    last change), so the ETag is a hash of them: it changes exactly when the feed does, and a
    calendar asking again with If-None-Match gets 304 without a body. Last-Modified is the
    latest change of a gathering in it, for clients that only send If-Modified-Since.
    """
    gatherings = feed_gatherings()
    name = _("%(network)s: samlinger", network=current_app.config["KLYNGE_NETWORK_NAME"])
    response = Response(calendars.feed(gatherings, name=name), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="samlinger.ics"'
    response.headers["Cache-Control"] = f"public, max-age={FEED_CACHE_SECONDS}"
    response.vary.update(("Accept-Language", "Cookie"))  # the calendar's name follows the language
    response.add_etag()
    response.last_modified = max((g.updated_at for g in gatherings), default=None)
    return response.make_conditional(request)


@bp.app_template_global()
def calendar_feed_url(webcal: bool = True) -> str:
    """The feed's address; webcal:// makes a click open "subscribe" in a calendar program."""
    url = absolute_url("feeds.calendar")
    return urlunsplit(urlsplit(url)._replace(scheme="webcal")) if webcal else url


@bp.app_template_global()
def calendar_links(gathering: Gathering) -> dict[str, str] | None:
    """Google and Outlook "add" links for a gathering that will take place, else None."""
    if gathering.status != GatheringStatus.PUBLISHED or gathering.is_past(utcnow()):
        return None
    event = calendars.public_event(gathering)
    return {
        "google": calendars.google_calendar_url(event),
        "outlook": calendars.outlook_calendar_url(event),
        "ics": url_for("public.gathering_ics", slug=gathering.slug),
    }


def event_data(gathering: Gathering) -> dict:
    """The gathering's schema.org Event as plain data: what the page's JSON-LD says, and what
    the public API (api/) gives for each gathering."""
    config = current_app.config
    return calendars.event_json_ld(
        gathering,
        page_url=absolute_url("public.gathering", slug=gathering.slug),
        organizer_name=gathering.host or config["KLYNGE_NETWORK_NAME"],
        organizer_url=absolute_url("public.index"),
        timezone=config["KLYNGE_TIMEZONE"],
    )


@bp.app_template_global()
def event_json_ld(gathering: Gathering) -> Markup:
    """The gathering's schema.org Event as JSON, safe to put inside <script>."""
    return calendars.json_ld_script_body(event_data(gathering))
