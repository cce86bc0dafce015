"""A gathering as a calendar event, and the calendar part of each registrant's mail."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parseaddr

from flask import current_app

from . import ics
from .formatting import when
from .links import absolute_url
from .models import Gathering, GatheringStatus, Registration


def uid_for_generation(first_uid: str, generation: int) -> str:
    """The UID of a gathering's `generation`-th calendar identity.

    Generation 1 is the UID made with the gathering ("<uuid>@<host>"); after an indefinite
    postponement the new date comes with a new UID "<uuid>-r<generation>@<host>" (DESIGN.md).
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
                    status: str | None = None, summary_prefix: str = "") -> ics.CalendarEvent:
    """The gathering as it now stands, as a calendar event."""
    organizer_name, organizer_email = organizer()
    page = absolute_url("public.gathering", slug=gathering.slug)
    description = "\n\n".join(part for part in [
        gathering.theme,
        gathering.description,
        f"Arrangør: {gathering.host}" if gathering.host else "",
        page,
    ] if part)
    if status is None:
        status = "CANCELLED" if gathering.status in (
            GatheringStatus.CANCELLED, GatheringStatus.POSTPONED) else "CONFIRMED"
    return ics.CalendarEvent(
        uid=gathering.ical_uid,
        summary=summary_prefix + gathering.title,
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


def invitation(registration: Registration, *, now: datetime) -> bytes:
    """METHOD:REQUEST for this registrant alone, at their current SEQUENCE."""
    event = gathering_event(registration.gathering, sequence=registration.ical_sequence,
                            status="CONFIRMED")
    return ics.build_calendar(event, method="REQUEST", dtstamp=now,
                              attendee=_attendee(registration, "ACCEPTED"))


def cancellation(registration: Registration, *, now: datetime) -> bytes:
    """METHOD:CANCEL for this registrant alone, at their current SEQUENCE."""
    event = gathering_event(registration.gathering, sequence=registration.ical_sequence,
                            status="CANCELLED")
    return ics.build_calendar(event, method="CANCEL", dtstamp=now,
                              attendee=_attendee(registration, "DECLINED"))


def published(gathering: Gathering, *, now: datetime) -> bytes:
    """METHOD:PUBLISH with no attendee: the .ics download."""
    return ics.build_calendar(gathering_event(gathering), method="PUBLISH", dtstamp=now)


def _attendee(registration: Registration, partstat: str) -> ics.Attendee:
    return ics.Attendee(email=registration.email, name=registration.name, partstat=partstat)


def describe_when(gathering: Gathering) -> str:
    """The gathering's date and time in words."""
    return when(gathering.starts_at, gathering.ends_at)
