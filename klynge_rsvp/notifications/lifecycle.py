"""Mail when a gathering changes (moved, postponed, new date, cancelled) and the reminders.

Confirmed registrants have the gathering in their calendar, so their mail carries the calendar
part the table in DESIGN.md prescribes; people on the waiting list have no entry and get the
same news without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .. import calendars
from ..formatting import long_date
from ..links import absolute_url
from ..models import Registration, RegistrationStatus
from ..outbox import ComposedMail
from .message import to_registrant


def _has_seat(registration: Registration) -> bool:
    return registration.status == RegistrationStatus.CONFIRMED


def reconfirm_links(registration: Registration) -> dict[str, str]:
    """The one-click answers: each opens a page with the answer chosen and one button."""
    return {
        "yes_url": absolute_url("manage.reconfirm", token=registration.token, svar="ja"),
        "no_url": absolute_url("manage.reconfirm", token=registration.token, svar="nei"),
    }


def compose_moved(registration: Registration, *, changes: Sequence, message: str,
                  position: int | None, now: datetime) -> ComposedMail:
    """Time or place changed: what changed, in words, and the updated invitation (REQUEST)."""
    labels = {change.label for change in changes}
    what = {frozenset({"Tid"}): "Ny tid", frozenset({"Sted"}): "Nytt sted"}.get(
        frozenset(labels), "Ny tid og nytt sted")
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_moved", registration, f"{what}: {registration.gathering.title}", now=now,
        calendar=calendars.invitation(registration, now=now) if seat else None,
        method="REQUEST" if seat else None,
        changes=changes, message=message, position=position, has_seat=seat,
    )


def compose_postponed(registration: Registration, *, message: str, position: int | None,
                      now: datetime) -> ComposedMail:
    """Postponed indefinitely: the calendar entry is removed (CANCEL, "Utsatt: …")."""
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_postponed", registration, f"Utsatt: {registration.gathering.title}", now=now,
        calendar=calendars.postponement(registration, now=now) if seat else None,
        method="CANCEL" if seat else None,
        message=message, position=position, has_seat=seat,
    )


def compose_rescheduled(registration: Registration, *, message: str, position: int | None,
                        now: datetime) -> ComposedMail:
    """A postponed gathering has a new date: a new invitation (new UID) and "are you coming?"."""
    seat = _has_seat(registration)
    title = registration.gathering.title
    return to_registrant(
        "gathering_rescheduled", registration,
        f"Ny dato: {title} – kan du fortsatt komme?" if seat else f"Ny dato: {title}", now=now,
        calendar=calendars.invitation(registration, now=now) if seat else None,
        method="REQUEST" if seat else None,
        message=message, position=position, has_seat=seat,
        deadline=registration.gathering.reconfirm_deadline, **reconfirm_links(registration),
    )


def compose_cancelled(registration: Registration, *, message: str, position: int | None,
                      was_postponed: bool, now: datetime) -> ComposedMail:
    """Cancelled by the organisers: the calendar entry is cancelled (CANCEL)."""
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_cancelled", registration, f"Avlyst: {registration.gathering.title}", now=now,
        calendar=calendars.withdrawal(registration, now=now) if seat else None,
        method="CANCEL" if seat else None,
        message=message, position=position, has_seat=seat, was_postponed=was_postponed,
    )


def compose_reminder(registration: Registration, *, now: datetime) -> ComposedMail:
    """Soon: the practical details and the current invitation once more (REQUEST)."""
    gathering = registration.gathering
    return to_registrant(
        "reminder", registration,
        f"Påminnelse: {gathering.title} {long_date(gathering.starts_at)}", now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        asked=registration.reconfirmation.value == "pending", **reconfirm_links(registration),
    )


def compose_reconfirm_reminder(registration: Registration, *, now: datetime) -> ComposedMail:
    """No answer by the deadline: are you still coming on the new date? (REQUEST as it stands)"""
    return to_registrant(
        "reconfirm_reminder", registration,
        f"Kan du fortsatt komme? {registration.gathering.title}", now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        **reconfirm_links(registration),
    )
