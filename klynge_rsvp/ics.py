"""iCalendar (RFC 5545/5546) invitations, cancellations and feeds: data in, bytes out."""

import calendar
import functools
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//Klynge RSVP//NONSGML v1//NB"
METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
STATUSES = frozenset({"CONFIRMED", "CANCELLED", "TENTATIVE"})
PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# Controls that RFC 5545 TEXT cannot carry (s3.3.11: CONTROL excludes them); \t and \n are kept.
_TEXT_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])

# A parameter value cannot hold DQUOTE (RFC 5545 s3.1); icalendar's RFC 6868 escapes (^^, ^n,
# ^') are unknown to vobject and others, and its parser reads a backslash as an escape.
_COMMON_NAME_REPLACEMENTS = str.maketrans({'"': "'", "\\": "/", "^": None, "\n": " ", "\t": " "})

# (naive UTC instant, offset before, offset after, tzname after)
Transition = tuple[datetime, timedelta, timedelta, str]


@dataclass(frozen=True)
class Conference:
    """RFC 7986 CONFERENCE: a meeting link for video and audio, with a short label."""

    url: str
    label: str


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    summary: str
    description: str
    location: str
    start: datetime
    end: datetime
    status: str | None  # None: no STATUS (a notice that is neither confirmed nor cancelled)
    sequence: int
    organizer_email: str
    organizer_name: str
    url: str | None = None
    timezone: str = "Europe/Oslo"
    transparent: bool = False  # TRANSP:TRANSPARENT, the time stays free (else OPAQUE)
    # When the event's data last changed (LAST-MODIFIED); a feed also uses it as DTSTAMP.
    last_modified: datetime | None = None
    # An online meeting to join (RFC 7986 CONFERENCE): only in a personal invitation.
    conference: Conference | None = None


@dataclass(frozen=True)
class Attendee:
    """The one ATTENDEE of a personal REQUEST or CANCEL: `partstat` None writes none (nothing
    is claimed); `rsvp` asks the person's calendar program for an answer (RSVP=TRUE)."""

    email: str
    name: str
    partstat: str | None = "NEEDS-ACTION"
    rsvp: bool = True


def clean_text(value: str) -> str:
    """Normalise CR/CRLF to LF and strip C0 controls (except tab and LF) and DEL from TEXT.

    A typed backslash before a capital N becomes backslash-n: icalendar's escaping reads the
    two characters "\\N" as RFC 5545's escaped line break, and would turn them into one.
    """
    return _without_controls(value).replace("\\N", "\\n")


def _without_controls(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_TEXT_CONTROLS)


def build_calendar(event: CalendarEvent, *, method: str, dtstamp: datetime,
                   attendee: Attendee | None = None) -> bytes:
    """One VCALENDAR (METHOD, VTIMEZONE, VEVENT) as UTF-8 CRLF bytes; text passes clean_text."""
    if method not in METHODS:
        raise ValueError(f"unknown METHOD {method!r}")
    if method == "CANCEL" and event.status != "CANCELLED":
        raise ValueError("METHOD CANCEL needs an event with STATUS CANCELLED")
    if method == "PUBLISH" and attendee is not None:
        raise ValueError("METHOD PUBLISH must not carry an ATTENDEE")
    if method != "PUBLISH" and attendee is None:
        raise ValueError(f"METHOD {method} needs an ATTENDEE")
    vevent = _vevent(event, dtstamp)
    if attendee is not None:
        vevent.add("attendee", _attendee(attendee))
    return _serialised(*_calendar(method, [event], [vevent]))


def attendee_line(attendee: Attendee) -> bytes:
    """The ATTENDEE content line, folded and CRLF-ended, exactly as build_calendar writes it."""
    return _ANY_EVENT.content_line("ATTENDEE", _attendee(attendee)).to_ical() + b"\r\n"


_ANY_EVENT = icalendar.Event()  # for its content_line(), which is what to_ical() writes with


def build_feed(events: list[CalendarEvent], *, name: str, dtstamp: datetime | None = None,
               refresh_interval: timedelta | None = None) -> bytes:
    """A PUBLISH calendar of many VEVENTs with one VTIMEZONE per zone used and no ATTENDEE.

    Each event's DTSTAMP is its `last_modified` (else `dtstamp`): the instant its published
    description was made, so the same events give the same bytes, and an HTTP validator
    (ETag) of the feed changes exactly when the feed does. `refresh_interval` becomes
    REFRESH-INTERVAL (RFC 7986) and X-PUBLISHED-TTL (its older equivalent, read by Apple
    Calendar and Outlook): how often a subscriber should fetch the feed again.
    """
    uids = [event.uid for event in events]
    if len(set(uids)) != len(uids):
        raise ValueError("duplicate UID in feed")
    stamps = [event.last_modified or dtstamp for event in events]
    if None in stamps:
        raise ValueError("a feed event needs last_modified, or build_feed a dtstamp")
    cal, zones = _calendar("PUBLISH", events,
                           [_vevent(event, stamp) for event, stamp in zip(events, stamps, strict=True)])
    if clean_text(name):
        cal.add("x-wr-calname", clean_text(name))
    if refresh_interval is not None:
        if refresh_interval <= timedelta(0):
            raise ValueError("the refresh interval must be positive")
        cal.add("refresh-interval", icalendar.vDuration(refresh_interval),
                parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", icalendar.vDuration(refresh_interval))
    return _serialised(cal, zones)


def vtimezone(tzid: str, years: range | None = None) -> icalendar.Timezone:
    """A VTIMEZONE for `tzid` as yearly RRULEs, derived from zoneinfo's rules in `years.start`.

    Why RRULEs: the RDATE list icalendar generates is read with summer time an hour off by
    Thunderbird and vobject, while FREQ=YEARLY rules are what every engine handles. Raises
    ValueError when the zone's transitions in some year of `years` do not follow the rule
    (rules changed in between, or a zone with other than two transitions a year).
    """
    if years is None:
        this_year = datetime.now(UTC).year
        years = range(this_year, this_year + 1)
    zone = _zone(tzid)
    timezone = icalendar.Timezone()
    timezone.add("tzid", tzid)
    transitions = _transitions(zone, years.start)
    rules = _yearly_rules(tzid, years.start, transitions)
    for month, ordinal, weekday, wall_time, before, after, tzname in rules:
        daylight = after > before
        observance = icalendar.TimezoneDaylight() if daylight else icalendar.TimezoneStandard()
        first = _nth_weekday(1970, month, ordinal, weekday)
        observance.add("dtstart", datetime.combine(first, wall_time))
        observance.add("tzoffsetfrom", before)
        observance.add("tzoffsetto", after)
        observance.add("tzname", tzname)
        observance.add("rrule", {"freq": "yearly", "bymonth": month,
                                 "byday": f"{ordinal}{WEEKDAYS[weekday]}"})
        timezone.add_component(observance)
    if not rules:
        midyear = datetime(years.start, 7, 1, tzinfo=UTC).astimezone(zone)
        observance = icalendar.TimezoneStandard()
        observance.add("dtstart", datetime.combine(date(1970, 1, 1), time()))  # local wall time
        observance.add("tzoffsetfrom", midyear.utcoffset())
        observance.add("tzoffsetto", midyear.utcoffset())
        observance.add("tzname", midyear.tzname())
        timezone.add_component(observance)
    for year in years:
        expected = {(datetime.combine(_nth_weekday(year, m, n, wd), t), b, a)
                    for m, n, wd, t, b, a, _ in rules}
        actual = {(instant + b, b, a) for instant, b, a, _ in _transitions(zone, year)}
        if actual != expected:
            raise ValueError(f"{tzid}: the transitions of {year} differ from the rules of "
                             f"{years.start}")
    return timezone


@functools.lru_cache(maxsize=512)
def _transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """The offset changes of `zone` during `year`."""
    found = []
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    stop = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    step = 6 * 3600  # no real zone changes its offset twice within six hours

    def offset(timestamp: int) -> timedelta:
        return datetime.fromtimestamp(timestamp, zone).utcoffset()

    for low in range(start, stop, step):
        high = low + step
        before, after = offset(low), offset(high)
        if before == after:
            continue
        while high - low > 1:  # bisect to the first second of the new offset
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == before else (low, middle)
        instant = datetime.fromtimestamp(high, UTC)
        tzname = instant.astimezone(zone).tzname()
        found.append((instant.replace(tzinfo=None), before, after, tzname))
    return tuple(found)


def _yearly_rules(tzid: str, year: int, transitions: tuple[Transition, ...]) -> list[tuple]:
    """(month, ordinal, weekday, wall time, before, after, tzname) per transition of `year`."""
    if not transitions:
        return []
    there_and_back = len(transitions) == 2 and transitions[0][1:3] == transitions[1][2:0:-1]
    if not there_and_back:
        raise ValueError(f"{tzid}: no yearly daylight saving rule in {year}")
    rules = []
    for instant, before, after, tzname in transitions:
        wall = instant + before  # RFC 5545: observance DTSTART is local time in TZOFFSETFROM
        last_day = calendar.monthrange(wall.year, wall.month)[1]
        ordinal = -1 if wall.day + 7 > last_day else (wall.day - 1) // 7 + 1
        rules.append((wall.month, ordinal, wall.weekday(), wall.time(), before, after, tzname))
    return rules


def _nth_weekday(year: int, month: int, ordinal: int, weekday: int) -> date:
    """The `ordinal`-th (or with -1 the last) `weekday` (0 = Monday) of the month."""
    if ordinal > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (ordinal - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _calendar(method: str, events: list[CalendarEvent], vevents: list[icalendar.Event]
              ) -> tuple[icalendar.Calendar, list[tuple[str, int, int]]]:
    """The VCALENDAR with its VEVENTs, and the VTIMEZONEs it needs as (tzid, first year, last
    year): `_serialised` writes them, before the first VEVENT."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    years_by_zone: dict[str, set[int]] = {}
    for event, vevent in zip(events, vevents, strict=True):
        if any("TZID" in vevent[name].params for name in ("DTSTART", "DTEND")):
            years_by_zone.setdefault(event.timezone, set()).update(_years(event))
    for vevent in vevents:
        cal.add_component(vevent)
    return cal, [(tzid, min(years), max(years)) for tzid, years in sorted(years_by_zone.items())]


def _serialised(cal: icalendar.Calendar, zones: list[tuple[str, int, int]]) -> bytes:
    """`cal` as bytes with its VTIMEZONEs where icalendar writes subcomponents added first:
    the same bytes as adding them with add_component, but each zone is written once per
    process instead of once per mail (a third of writing an invitation)."""
    written = cal.to_ical()
    if not zones:
        return written
    first_event = written.index(b"BEGIN:VEVENT\r\n")
    return (written[:first_event] + b"".join(_vtimezone_bytes(*zone) for zone in zones)
            + written[first_event:])


@functools.lru_cache(maxsize=64)
def _vtimezone_bytes(tzid: str, first_year: int, last_year: int) -> bytes:
    return vtimezone(tzid, range(first_year, last_year + 1)).to_ical()


def _vevent(event: CalendarEvent, dtstamp: datetime) -> icalendar.Event:
    if event.status is not None and event.status not in STATUSES:
        raise ValueError(f"unknown STATUS {event.status!r}")
    if not isinstance(event.sequence, int) or event.sequence < 0:
        raise ValueError(f"SEQUENCE must be a non-negative integer, got {event.sequence!r}")
    if _aware(event.end, "end") <= _aware(event.start, "start"):
        raise ValueError("end must be after start (RFC 5545 s3.8.2.2)")
    vevent = icalendar.Event()
    vevent.add("uid", _verbatim(event.uid, "UID"))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", _aware(dtstamp, "dtstamp").astimezone(UTC).replace(microsecond=0))
    _add_local_time(vevent, "dtstart", event.start, event.timezone)
    _add_local_time(vevent, "dtend", event.end, event.timezone)
    for name, text in (("summary", event.summary), ("description", event.description),
                       ("location", event.location)):
        if clean_text(text):  # libical drops the whole property, with an error, when empty
            vevent.add(name, clean_text(text))
    if event.status is not None:
        vevent.add("status", event.status)
    vevent.add("transp", "TRANSPARENT" if event.transparent else "OPAQUE")
    if event.last_modified is not None:
        vevent.add("last-modified",
                   _aware(event.last_modified, "last_modified").astimezone(UTC).replace(microsecond=0))
    if event.url is not None:
        vevent.add("url", _verbatim(event.url, "URL"))
    if event.conference is not None:
        label = _without_controls(event.conference.label).translate(_COMMON_NAME_REPLACEMENTS)
        vevent.add("conference", icalendar.vUri(_verbatim(event.conference.url, "CONFERENCE")),
                   parameters={"VALUE": "URI", "FEATURE": ["VIDEO", "AUDIO"],
                               **({"LABEL": label} if label else {})})
    vevent.add("organizer", _address(event.organizer_email, event.organizer_name))
    return vevent


def _add_local_time(vevent: icalendar.Event, name: str, instant: datetime, tzid: str) -> None:
    local = instant.astimezone(_zone(tzid))
    if tzid == "UTC" or local.utcoffset() != local.replace(fold=0).utcoffset():
        # The repeated hour after the autumn change: a TZID wall time means its first
        # occurrence (RFC 5545 s3.3.5), so the second one can only be written in UTC.
        # icalendar writes TZID=UTC as ...Z anyway; either way no VTIMEZONE is referenced.
        vevent.add(name, local.astimezone(UTC))
    else:
        vevent.add(name, local.replace(tzinfo=None), parameters={"TZID": tzid})


def _attendee(attendee: Attendee) -> icalendar.vCalAddress:
    if attendee.partstat is not None and attendee.partstat not in PARTSTATS:
        raise ValueError(f"unknown PARTSTAT {attendee.partstat!r}")
    address = _address(attendee.email, attendee.name)
    address.params["ROLE"] = "REQ-PARTICIPANT"
    if attendee.partstat is not None:
        address.params["PARTSTAT"] = attendee.partstat
    address.params["RSVP"] = "TRUE" if attendee.rsvp else "FALSE"
    return address


def _address(email: str, name: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{_verbatim(email, 'email address')}")
    common_name = _without_controls(name).translate(_COMMON_NAME_REPLACEMENTS)
    if common_name:
        address.params["CN"] = common_name
    return address


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime; it must be timezone-aware")
    return value


def _verbatim(value: str, what: str) -> str:
    """Values that identify something are rejected rather than silently altered."""
    if not value or any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValueError(f"{what} must be non-empty without whitespace or control characters")
    return value


def _zone(tzid: str) -> ZoneInfo:
    try:
        return ZoneInfo(tzid)
    except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {tzid!r}") from error


def _years(event: CalendarEvent) -> range:
    zone = _zone(event.timezone)
    start_year = _aware(event.start, "start").astimezone(zone).year
    return range(start_year, _aware(event.end, "end").astimezone(zone).year + 1)
