"""A gathering's programme: timed items with a title, speakers and their organisation.

The services add, change and remove items (`now` passed in, flushed, never committed); the
builders put a programme into plain text lines (the mail and the calendar's DESCRIPTION) and
into schema.org `subEvent`s (the page's JSON-LD). They are pure: no app, no database.

A change to a published gathering's programme sends no mail (docs/calendar.md, "The
programme"): the page and the calendar feed show it at once, and the next mail carries it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from flask_babel import gettext as _

from . import history
from .clock import from_local, to_local
from .errors import DomainError
from .extensions import db
from .models import Gathering, Organiser, ProgrammeItem
from .stored_text import said


@dataclass(frozen=True)
class ItemDetails:
    """What an organiser typed for one item, times already in UTC."""

    starts_at: datetime
    ends_at: datetime | None
    title: str
    speakers: str = ""
    organisation: str = ""


def check_within(gathering: Gathering, details: ItemDetails) -> None:
    """Refuse an item that starts before or ends after the gathering, or ends before it starts."""
    if details.ends_at is not None and details.ends_at <= details.starts_at:
        raise DomainError(_("Punktet må slutte etter at det starter."))
    end = details.ends_at or details.starts_at
    if details.starts_at < gathering.starts_at or end > gathering.ends_at \
            or details.starts_at >= gathering.ends_at:
        raise DomainError(_("Punktet må ligge innenfor samlingens tid."))


def add_item(gathering: Gathering, details: ItemDetails, *, now: datetime,
             by: Organiser | None) -> ProgrammeItem:
    """Add an item to the programme (shown in order of start time)."""
    check_within(gathering, details)
    item = ProgrammeItem(starts_at=details.starts_at, ends_at=details.ends_at,
                         title=details.title, speakers=details.speakers,
                         organisation=details.organisation)
    gathering.programme.append(item)
    gathering.updated_at = now
    history.audit("add_programme_item", by=by, now=now, gathering=gathering,
                  summary=said("programme_item_added", title=details.title))
    db.session.flush()
    db.session.expire(gathering, ["programme"])  # read back in order of start time
    return item


def update_item(item: ProgrammeItem, details: ItemDetails, *, now: datetime,
                by: Organiser | None) -> None:
    """Change an item."""
    gathering = item.gathering
    check_within(gathering, details)
    item.starts_at, item.ends_at = details.starts_at, details.ends_at
    item.title, item.speakers, item.organisation = (details.title, details.speakers,
                                                    details.organisation)
    gathering.updated_at = now
    history.audit("change_programme_item", by=by, now=now, gathering=gathering,
                  summary=said("programme_item_changed", title=details.title))
    db.session.flush()
    db.session.expire(gathering, ["programme"])


def remove_item(item: ProgrammeItem, *, now: datetime, by: Organiser | None) -> None:
    """Remove an item."""
    gathering = item.gathering
    gathering.programme.remove(item)
    gathering.updated_at = now
    history.audit("remove_programme_item", by=by, now=now, gathering=gathering,
                  summary=said("programme_item_removed", title=item.title))
    db.session.flush()


def follow_the_start(gathering: Gathering, starts_at: datetime, zone: tzinfo) -> None:
    """Keep the items where they were in the gathering's day when it gets a new start (a move,
    a new date): 08.15 on a gathering starting 08.00 becomes 09.15 if it now starts 09.00, on
    the new day, by the wall clock (a move across a change to or from summer time keeps 08.15).
    Call before the gathering's own start changes."""
    for item in gathering.programme:
        for name in ("starts_at", "ends_at"):
            instant = getattr(item, name)
            if instant is not None:
                setattr(item, name, _shifted(instant, gathering.starts_at, starts_at, zone))


def copied(items: Iterable[ProgrammeItem], old_start: datetime, new_start: datetime,
           zone: tzinfo) -> list[ProgrammeItem]:
    """New items like `items`, at the same wall-clock place in a day starting at `new_start`
    (a copy of the gathering, gatherings.copy)."""
    return [ProgrammeItem(
        starts_at=_shifted(item.starts_at, old_start, new_start, zone),
        ends_at=None if item.ends_at is None else _shifted(item.ends_at, old_start, new_start, zone),
        title=item.title, speakers=item.speakers, organisation=item.organisation)
        for item in items]


def _shifted(instant: datetime, old_start: datetime, new_start: datetime, zone: tzinfo) -> datetime:
    """`instant` as far from `new_start` by the wall clock as it was from `old_start`."""
    wall = (to_local(instant, zone).replace(tzinfo=None) - to_local(old_start, zone).replace(tzinfo=None)
            + to_local(new_start, zone).replace(tzinfo=None))
    return from_local(wall, zone)


# --- pure builders ---------------------------------------------------------------------------


def who(item: ProgrammeItem) -> str:
    """"Kari Nordmann, Ola Nordmann (Bergen kommune)", "Bergen kommune", or ""."""
    if item.speakers and item.organisation:
        return f"{item.speakers} ({item.organisation})"
    return item.speakers or item.organisation


def text_lines(items: Iterable[ProgrammeItem], clock: Callable[[datetime], str]) -> list[str]:
    """One plain line per item: "08.00–08.30 Innledning – Kari Nordmann (Bergen kommune)".

    `clock` writes an instant as a wall-clock time (formatting.clock_time). No line breaks
    inside a line, so a calendar's DESCRIPTION folds it safely.
    """
    lines = []
    for item in items:
        time = clock(item.starts_at)
        if item.ends_at is not None:
            time += "–" + clock(item.ends_at)
        line = f"{time} {item.title}"
        if who(item):
            line += f" – {who(item)}"
        lines.append(line)
    return lines


def speaker_names(speakers: str) -> list[str]:
    """"Kari Nordmann, Ola Nordmann og Per Hansen" → the three names."""
    parts = re.split(r"\s*(?:,|;|&|\bog\b|\band\b)\s*", speakers)
    return [part for part in (p.strip() for p in parts) if part]


def sub_events(items: Iterable[ProgrammeItem], iso: Callable[[datetime], str]) -> list[dict]:
    """The items as schema.org Events (`subEvent`), speakers as `performer` Persons."""
    events = []
    for item in items:
        event = {"@type": "Event", "name": item.title, "startDate": iso(item.starts_at)}
        if item.ends_at is not None:
            event["endDate"] = iso(item.ends_at)
        performers = []
        for name in speaker_names(item.speakers):
            person = {"@type": "Person", "name": name}
            if item.organisation:
                person["affiliation"] = {"@type": "Organization", "name": item.organisation}
            performers.append(person)
        if performers:
            event["performer"] = performers
        elif item.organisation:
            event["performer"] = [{"@type": "Organization", "name": item.organisation}]
        events.append(event)
    return events
