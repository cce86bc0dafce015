"""A gathering as a calendar event, and the calendar part of each registrant's mail."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import quote, urlencode

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup

from . import addresses, ics, participation, programme
from .clock import local_zone, to_local
from .formatting import clock_time, when
from .links import absolute_url
from .models import Gathering, GatheringMode, GatheringStatus, Registration
from .names import shown_name


def summary(gathering: Gathering, marked: GatheringStatus | None = None) -> str:
    """The SUMMARY, in the current language: the title, marked "Utsatt: …" or "Avlyst: …" for a
    gathering that will not happen on its date (docs/calendar.md: a postponed gathering's entry is
    cancelled with the summary "Utsatt: …"). The feed and the .ics download carry the marks
    too: a subscribed calendar that ignores STATUS still tells the truth.
    """
    if marked == GatheringStatus.POSTPONED:
        return _("Utsatt: %(title)s", title=gathering.title)
    if marked == GatheringStatus.CANCELLED:
        return _("Avlyst: %(title)s", title=gathering.title)
    return gathering.title


def uid_for_generation(first_uid: str, generation: int) -> str:
    """The UID of a gathering's `generation`-th calendar identity.

    Generation 1 is the UID made with the gathering ("<uuid>@<host>"); after an indefinite
    postponement the new date comes with a new UID "<uuid>-r<generation>@<host>"
    (docs/decisions/0005).
    """
    base, _, host = uid_base(first_uid).partition("@")
    return first_uid if generation == 1 else f"{base}-r{generation}@{host}"


def uid_base(uid: str) -> str:
    """The generation-1 UID behind any generation's UID (for matching calendar replies)."""
    local, at, host = uid.partition("@")
    return re.sub(r"-r\d+$", "", local) + at + host


def organizer() -> tuple[str, str]:
    """(name, address) of the ORGANIZER: the sending address, so replies reach us."""
    name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return name or current_app.config["KLYNGE_NETWORK_NAME"], address


def gathering_event(gathering: Gathering, *, sequence: int | None = None,
                    status: str | None = None,
                    marked: GatheringStatus | None = None) -> ics.CalendarEvent:
    """The gathering as it now stands, as a calendar event (its words in the current language)."""
    organizer_name, organizer_email = organizer()
    page = absolute_url("public.gathering", slug=gathering.slug)
    description = "\n\n".join(part for part in [
        gathering.theme,
        gathering.description,
        programme_text(gathering),
        _("Arrangør: %(host)s", host=gathering.host) if gathering.host else "",
        page,
    ] if part)
    if status is None:
        status = "CANCELLED" if gathering.status in (
            GatheringStatus.CANCELLED, GatheringStatus.POSTPONED) else "CONFIRMED"
    return ics.CalendarEvent(
        uid=gathering.ical_uid,
        summary=summary(gathering, marked),
        description=description,
        location=", ".join(p for p in [gathering.venue_name, gathering.venue_address] if p),
        start=gathering.starts_at,
        end=gathering.ends_at,
        status=status,
        sequence=gathering.ical_sequence if sequence is None else sequence,
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        url=page,
        timezone=current_app.config["KLYNGE_TIMEZONE"],
    )


def programme_text(gathering: Gathering) -> str:
    """"Program:" and one line per item, in the current language; "" without a programme."""
    if not gathering.programme:
        return ""
    return "\n".join([_("Program:"), *programme.text_lines(gathering.programme, clock_time)])


# What each personal calendar message says about the registrant (docs/calendar.md has the table
# and the reasons): a REQUEST asks for an answer unless the person's calendar already gave one
# for this very invitation; a CANCEL asks for nothing.
ANSWERS_KEPT = frozenset({"ACCEPTED", "TENTATIVE"})


def standing_answer(registration: Registration) -> str | None:
    """The answer the person's calendar program gave to the invitation they now hold
    (ACCEPTED or TENTATIVE), or None. Reset whenever a new invitation asks again."""
    answer = registration.calendar_partstat
    return answer if answer in ANSWERS_KEPT else None


def invitation(registration: Registration, *, now: datetime, answered: str | None = None) -> bytes:
    """METHOD:REQUEST for this registrant alone, at their current SEQUENCE.

    A new or changed invitation asks: PARTSTAT=NEEDS-ACTION, RSVP=TRUE (Accept files it,
    Decline gives the seat back). The same invitation sent again (a reminder, the link once
    more) repeats the answer the person already gave (`answered`, see standing_answer) with
    RSVP=FALSE, so their calendar program does not reset it to "not answered".
    """
    event = with_meeting(gathering_event(registration.gathering,
                                         sequence=registration.ical_sequence,
                                         status="CONFIRMED"), registration)
    if answered is not None and answered not in ANSWERS_KEPT:
        raise ValueError(f"an invitation cannot repeat the answer {answered!r}")
    return ics.build_calendar(event, method="REQUEST", dtstamp=now,
                              attendee=_attendee(registration, answered or "NEEDS-ACTION",
                                                 rsvp=answered is None))


def with_meeting(event: ics.CalendarEvent, registration: Registration) -> ics.CalendarEvent:
    """For a confirmed online participant: LOCATION and URL are the meeting link, the
    meeting details are in the DESCRIPTION, and CONFERENCE (RFC 7986) holds the link. Anyone
    else's event is left as it is (in the room: the venue; never the link)."""
    meeting = participation.meeting_for(registration)
    if meeting is None:
        return event
    joining = "\n".join(part for part in [_("Bli med digitalt: %(url)s", url=meeting.url),
                                          meeting.details] if part)
    return dataclasses.replace(
        event, location=meeting.url, url=meeting.url,
        description="\n\n".join(part for part in [joining, event.description] if part),
        conference=ics.Conference(url=meeting.url, label=_("Bli med digitalt")))


def cancellation(registration: Registration, *, now: datetime) -> bytes:
    """METHOD:CANCEL when the registrant cancels: their own decline (PARTSTAT=DECLINED), no
    answer asked (RSVP=FALSE)."""
    event = gathering_event(registration.gathering, sequence=registration.ical_sequence,
                            status="CANCELLED")
    return ics.build_calendar(event, method="CANCEL", dtstamp=now,
                              attendee=_attendee(registration, "DECLINED", rsvp=False))


def postponement(registration: Registration, *, now: datetime) -> bytes:
    """METHOD:CANCEL for an indefinite postponement: STATUS CANCELLED, SUMMARY "Utsatt: …".

    No calendar status means "date unknown", so the entry is removed; the new date will come
    as a new invitation with a new UID (docs/calendar.md). The person declined
    nothing and is asked nothing: no PARTSTAT, RSVP=FALSE.
    """
    event = gathering_event(registration.gathering, sequence=registration.ical_sequence,
                            status="CANCELLED", marked=GatheringStatus.POSTPONED)
    return ics.build_calendar(event, method="CANCEL", dtstamp=now,
                              attendee=_attendee(registration, None, rsvp=False))


def withdrawal(registration: Registration, *, now: datetime) -> bytes:
    """METHOD:CANCEL when the organisers cancel the gathering: no PARTSTAT (the person declined
    nothing), RSVP=FALSE."""
    event = gathering_event(registration.gathering, sequence=registration.ical_sequence,
                            status="CANCELLED")
    return ics.build_calendar(event, method="CANCEL", dtstamp=now,
                              attendee=_attendee(registration, None, rsvp=False))


# How often a subscribed calendar should fetch the feed again (REFRESH-INTERVAL and
# X-PUBLISHED-TTL). An hour: a move or cancellation a day or two ahead reaches subscribers in
# time, and with ETag/Last-Modified a poll that finds nothing new is a 304 without a body.
# Clients treat it as a hint (Google Calendar polls on its own schedule, hours apart).
FEED_REFRESH_INTERVAL = timedelta(hours=1)


def published(gathering: Gathering, *, now: datetime) -> bytes:
    """METHOD:PUBLISH with no attendee: the .ics download (DTSTAMP: made now)."""
    return ics.build_calendar(public_event(gathering), method="PUBLISH", dtstamp=now)


def public_event(gathering: Gathering) -> ics.CalendarEvent:
    """The gathering for everyone (download, feed), as it now stands, with LAST-MODIFIED.

    A cancelled one is STATUS:CANCELLED "Avlyst: …". A postponed one has no date, and
    iCalendar no status for that: STATUS:CANCELLED would be wrong (it is not cancelled) and a
    subscribed Google Calendar ignores it anyway, showing the date as happening. So it stays at
    its UID as a notice on the date it would have been: "Utsatt: …", no STATUS, TRANSP:
    TRANSPARENT (the time is free), a description saying that a new date will come and where.
    The new date arrives under a new UID, and this one leaves the feed (lifecycle.reschedule).
    """
    marked = gathering.status if gathering.status in (
        GatheringStatus.POSTPONED, GatheringStatus.CANCELLED) else None
    event = dataclasses.replace(gathering_event(gathering, marked=marked),
                                last_modified=gathering.updated_at)
    if gathering.status != GatheringStatus.POSTPONED:
        return event
    notice = " ".join([
        _("Samlingen er utsatt på ubestemt tid."),
        _("Den blir ikke holdt denne dagen. Ny dato kommer og blir kunngjort på %(url)s", url=event.url),
    ])
    message = (f"{_('Beskjed fra arrangørene:')} {gathering.status_message}"
               if gathering.status_message else "")
    return dataclasses.replace(event, status=None, transparent=True,
                               description="\n\n".join(p for p in (notice, message) if p))


def feed(gatherings: list[Gathering], *, name: str) -> bytes:
    """METHOD:PUBLISH of many gatherings, each at its current UID and SEQUENCE.

    Each DTSTAMP is the gathering's last change (updated_at), so the feed's bytes change only
    when a gathering in it does (or its name's language): see docs/calendar.md.
    """
    return ics.build_feed([public_event(g) for g in gatherings], name=name,
                          refresh_interval=FEED_REFRESH_INTERVAL)


def _attendee(registration: Registration, partstat: str | None, *, rsvp: bool) -> ics.Attendee:
    return ics.Attendee(email=addresses.for_smtp(registration.email),
                        name=shown_name(registration.name), partstat=partstat, rsvp=rsvp)


def describe_when(gathering: Gathering) -> str:
    """The gathering's date and time in words."""
    return when(gathering.starts_at, gathering.ends_at)


# --- "add to my calendar" links and schema.org, for people without the invitation ------------


def _utc(instant: datetime, pattern: str) -> str:
    return instant.astimezone(UTC).strftime(pattern)


def google_calendar_url(event: ics.CalendarEvent) -> str:
    """A Google Calendar "create event" link with the times in UTC (…Z), so no zone is guessed."""
    dates = f"{_utc(event.start, '%Y%m%dT%H%M%SZ')}/{_utc(event.end, '%Y%m%dT%H%M%SZ')}"
    query = {"action": "TEMPLATE", "text": event.summary, "dates": dates,
             "details": event.description, "location": event.location, "ctz": event.timezone}
    return "https://calendar.google.com/calendar/render?" + urlencode(query, quote_via=quote)


def outlook_calendar_url(event: ics.CalendarEvent) -> str:
    """An Outlook on the web "new event" link; times as ISO 8601 in UTC.

    Spaces are written %20, not +: Outlook shows a + in the text literally.
    """
    query = {"path": "/calendar/action/compose", "rru": "addevent", "subject": event.summary,
             "startdt": _utc(event.start, "%Y-%m-%dT%H:%M:%SZ"),
             "enddt": _utc(event.end, "%Y-%m-%dT%H:%M:%SZ"),
             "body": event.description, "location": event.location}
    return "https://outlook.office.com/calendar/0/deeplink/compose?" + urlencode(query,
                                                                               quote_via=quote)


EVENT_STATUS = {
    GatheringStatus.POSTPONED: "https://schema.org/EventPostponed",
    GatheringStatus.CANCELLED: "https://schema.org/EventCancelled",
}


def event_json_ld(gathering: Gathering, *, page_url: str, organizer_name: str,
                  organizer_url: str, timezone: str) -> dict:
    """The gathering as a schema.org Event (for search engines), as plain data."""
    zone = local_zone(timezone)

    def iso_local(instant: datetime) -> str:
        return to_local(instant, zone).isoformat(timespec="seconds")

    status = EVENT_STATUS.get(gathering.status, "https://schema.org/EventScheduled")
    moved = (gathering.previous_starts_at is not None
             and gathering.previous_starts_at != gathering.starts_at)
    if gathering.status == GatheringStatus.PUBLISHED and moved:
        status = "https://schema.org/EventRescheduled"
    data = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": gathering.title,
        "url": page_url,
        "startDate": iso_local(gathering.starts_at),
        "endDate": iso_local(gathering.ends_at),
        "eventStatus": status,
        "eventAttendanceMode": ATTENDANCE_MODE[gathering.mode],
        "location": _locations(gathering, page_url),
        "organizer": {"@type": "Organization", "name": organizer_name, "url": organizer_url},
        "isAccessibleForFree": True,
        "inLanguage": "nb",
    }
    if gathering.description or gathering.theme:
        data["description"] = gathering.description or gathering.theme
    if gathering.programme:
        data["subEvent"] = programme.sub_events(gathering.programme, iso_local)
    if moved and gathering.status != GatheringStatus.CANCELLED:
        data["previousStartDate"] = iso_local(gathering.previous_starts_at)
    elif gathering.status == GatheringStatus.POSTPONED:  # the date that will not happen
        data["previousStartDate"] = iso_local(gathering.previous_starts_at or gathering.starts_at)
    return data


# schema.org's eventAttendanceMode for each participation mode.
ATTENDANCE_MODE = {
    GatheringMode.IN_PERSON: "https://schema.org/OfflineEventAttendanceMode",
    GatheringMode.ONLINE: "https://schema.org/OnlineEventAttendanceMode",
    GatheringMode.HYBRID: "https://schema.org/MixedEventAttendanceMode",
}


def _locations(gathering: Gathering, page_url: str) -> dict | list[dict]:
    """The room (a Place), online (a VirtualLocation), or both. The VirtualLocation's url is
    the gathering's public page, never the meeting link: that is for confirmed participants."""
    place = {"@type": "Place", "name": gathering.venue_name,
             "address": _postal_address(gathering.venue_address or gathering.venue_name)}
    virtual = {"@type": "VirtualLocation", "url": page_url}
    if gathering.mode == GatheringMode.ONLINE:
        return virtual
    if gathering.mode == GatheringMode.HYBRID:
        return [place, virtual]
    return place


def _postal_address(address: str) -> dict:
    """"Øvre Ole Bulls plass 3, 5012 Bergen" as a PostalAddress (postcode and place split off)."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    result = {"@type": "PostalAddress", "addressCountry": "NO"}
    match = re.fullmatch(r"(\d{4})\s+(.+)", parts[-1]) if parts else None
    if match:
        result["postalCode"], result["addressLocality"] = match.groups()
        parts = parts[:-1]
    if parts:
        result["streetAddress"] = ", ".join(parts)
    return result


def json_ld_script_body(data: dict) -> Markup:
    """`data` as JSON that is safe inside <script>: no "</script>", "<!--" or "&" survives."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return Markup(text)  # noqa: S704 (every markup character is escaped just above)
