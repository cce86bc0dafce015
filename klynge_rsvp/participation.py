"""Participation modes: a gathering in person, online or hybrid, and the seats of each mode.

A person attends in the room or online (`AttendanceMode`). An in-person gathering has only the
room, an online one only online; a hybrid one has both, and each person chooses. Seats are
counted per mode, under the gathering's lock (rsvp.lock_gathering), each mode with its own
waiting list: `capacity` is the room's seats (for an online gathering: its online seats),
`online_capacity` a hybrid gathering's online seats (None: no limit). See
docs/decisions/0031-participation-modes.md.

Everything about seats takes a `mode`: the functions here are what rsvp asks per mode.
The meeting link is for confirmed online participants only (`meeting_for`): never on a public
page, in the JSON-LD, the API, the feed or the public .ics.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from .errors import DomainError
from .extensions import db
from .labels import ATTENDANCE_MODE_LABELS, GATHERING_MODE_LABELS
from .models import (
    AttendanceMode,
    Gathering,
    GatheringMode,
    GatheringStatus,
    Registration,
    RegistrationStatus,
)

IN_PERSON, ONLINE = AttendanceMode.IN_PERSON, AttendanceMode.ONLINE

# The ways a person may attend a gathering of each mode.
MODES_OF = {
    GatheringMode.IN_PERSON: (IN_PERSON,),
    GatheringMode.ONLINE: (ONLINE,),
    GatheringMode.HYBRID: (IN_PERSON, ONLINE),
}


def modes_of(gathering: Gathering) -> tuple[AttendanceMode, ...]:
    """How people may attend `gathering`, the room first."""
    return MODES_OF[gathering.mode or GatheringMode.IN_PERSON]


def asks_mode(gathering: Gathering) -> bool:
    """Whether the forms ask each person how they attend (only a hybrid gathering's do)."""
    return gathering.mode == GatheringMode.HYBRID


def mode_for(gathering: Gathering, wanted: str | None) -> AttendanceMode:
    """The mode a person attends in: their choice on a hybrid gathering, else the only one."""
    modes = modes_of(gathering)
    if len(modes) == 1:
        return modes[0]
    if wanted in (None, ""):
        raise DomainError(_("Velg om du deltar i salen eller digitalt."))
    try:
        mode = AttendanceMode(wanted)
    except ValueError:
        raise DomainError(_("Velg om du deltar i salen eller digitalt.")) from None
    return mode


def capacity_in_mode(gathering: Gathering, mode: AttendanceMode) -> int | None:
    """The seats for `mode` (None: no limit); 0 for a mode the gathering does not have."""
    if mode not in modes_of(gathering):
        return 0
    if gathering.mode == GatheringMode.HYBRID and mode == ONLINE:
        return gathering.online_capacity
    return gathering.capacity


def in_mode(gathering: Gathering, mode: AttendanceMode) -> sa.ColumnElement[bool]:
    """A WHERE condition for registrations of `gathering` in `mode`. A gathering with one mode
    counts all its registrations in it, whatever an older mode stored on them says."""
    if len(modes_of(gathering)) == 1:
        return sa.true() if mode in modes_of(gathering) else sa.false()
    return Registration.mode == mode


def confirmed_count_in_mode(gathering: Gathering, mode: AttendanceMode) -> int:
    """Seats taken in `mode`."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            Registration.gathering_id == gathering.id,
            Registration.status == RegistrationStatus.CONFIRMED,
            in_mode(gathering, mode),
        )
    )


def seats_left_in_mode(gathering: Gathering, mode: AttendanceMode) -> int | None:
    """Free seats in `mode`, or None when that mode has no limit (caller holds the lock when
    it gives one away)."""
    capacity = capacity_in_mode(gathering, mode)
    if capacity is None:
        return None
    return max(capacity - confirmed_count_in_mode(gathering, mode), 0)


def seats_left_by_mode(gathering: Gathering) -> dict[AttendanceMode, int | None]:
    """Free seats in each of the gathering's modes (None: no limit)."""
    return {mode: seats_left_in_mode(gathering, mode) for mode in modes_of(gathering)}


def seats_left_overall(gathering: Gathering) -> int | None:
    """Free seats in all modes together; None when some mode has no limit."""
    left = seats_left_by_mode(gathering).values()
    return None if None in left else sum(left)


def capacity_overall(gathering: Gathering) -> int | None:
    """The seats in all modes together; None when some mode has no limit."""
    capacities = [capacity_in_mode(gathering, mode) for mode in modes_of(gathering)]
    return None if None in capacities else sum(capacities)


def counts_by_mode(gathering: Gathering) -> dict[AttendanceMode, dict[RegistrationStatus, int]]:
    """Registrations per mode and status, for the organisers' pages."""
    found = {mode: dict.fromkeys(RegistrationStatus, 0) for mode in modes_of(gathering)}
    rows = db.session.execute(
        sa.select(Registration.mode, Registration.status, sa.func.count())
        .where(Registration.gathering_id == gathering.id)
        .group_by(Registration.mode, Registration.status))
    for mode, status, count in rows:
        mode = mode if mode in found else modes_of(gathering)[0]
        found[mode][status] += count
    return found


def mode_of(registration: Registration) -> AttendanceMode:
    """How this person attends (for a gathering with one mode: that one)."""
    modes = modes_of(registration.gathering)
    return modes[0] if len(modes) == 1 else registration.mode


# --- the meeting link ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Meeting:
    """Where an online participant joins: the link and any details (meeting id, passcode)."""

    url: str
    details: str = ""


def meeting_for(registration: Registration) -> Meeting | None:
    """The meeting link, for a confirmed online participant of a gathering that has one; None
    for everyone else (in the room, on a waiting list, cancelled)."""
    gathering = registration.gathering
    if (registration.status != RegistrationStatus.CONFIRMED or not gathering.meeting_url
            or gathering.status != GatheringStatus.PUBLISHED or mode_of(registration) != ONLINE):
        return None
    return Meeting(gathering.meeting_url, gathering.meeting_details or "")


def check_meeting_url(url: str) -> str:
    """A meeting link as stored: https with a host, no white space; raises DomainError."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if (parts.scheme.lower() != "https" or not parts.hostname or len(url) > 1000
            or any(char.isspace() or ord(char) < 32 for char in url)):
        raise DomainError(_("Møtelenken må være en nettadresse som begynner med https://."))
    return url


def check_capacities(mode: GatheringMode, online_capacity: int | None) -> None:
    """The rules of a gathering's mode and seats; raises DomainError."""
    if online_capacity is not None and online_capacity < 0:
        raise DomainError(_("Antall digitale plasser kan ikke være negativt."))
    if mode not in MODES_OF:
        raise DomainError(_("Velg hvordan samlingen holdes."))


def check_mode_change(gathering: Gathering, new_mode: GatheringMode) -> None:
    """Once people are registered, a gathering's mode may only go from in person to hybrid
    (everyone keeps their seat in the room); anything else would move people between the room
    and online without asking them. Raises DomainError."""
    if new_mode == gathering.mode:
        return
    if gathering.mode == GatheringMode.IN_PERSON and new_mode == GatheringMode.HYBRID:
        return
    registered = db.session.scalar(sa.select(sa.func.count()).where(
        Registration.gathering_id == gathering.id,
        Registration.status != RegistrationStatus.CANCELLED))
    if registered:
        raise DomainError(_("Noen er allerede påmeldt, så samlingen kan bare endres fra fysisk "
                            "til hybrid, ikke til noe annet."))


# --- in templates -------------------------------------------------------------------------------


def gathering_mode_label(mode: GatheringMode) -> str:
    """How a gathering is held, in words ("Digitalt", "Hybrid: i salen eller digitalt")."""
    return str(GATHERING_MODE_LABELS[GatheringMode(mode)])


def attendance_mode_label(mode: AttendanceMode) -> str:
    """How a person attends, in words ("I salen", "Digitalt")."""
    return str(ATTENDANCE_MODE_LABELS[AttendanceMode(mode)])


def init_app(app) -> None:
    app.add_template_filter(gathering_mode_label, "gathering_mode")
    app.add_template_filter(attendance_mode_label, "attendance_mode")
    app.add_template_global(mode_of, "attendance_of")
    app.add_template_global(capacity_overall)
    app.add_template_global(seats_left_by_mode)
