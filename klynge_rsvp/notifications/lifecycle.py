"""Mail when a gathering changes (moved, postponed, new date, cancelled) and the reminders.

Confirmed registrants have the gathering in their calendar, so their mail carries the calendar
part the table in docs/calendar.md prescribes; people on the waiting list have no entry and get the
same news without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from .. import calendars
from ..formatting import long_date
from ..links import absolute_url
from ..mail.outbox import ComposedMail
from ..models import Registration, RegistrationStatus
from .message import in_registrants_language, to_registrant


def _has_seat(registration: Registration) -> bool:
    return registration.status == RegistrationStatus.CONFIRMED


def reconfirm_links(registration: Registration) -> dict[str, str]:
    """The one-click answers: each opens a page with the answer chosen and one button."""
    return {
        "yes_url": absolute_url("manage.reconfirm", token=registration.token, svar="ja"),
        "no_url": absolute_url("manage.reconfirm", token=registration.token, svar="nei"),
    }


@dataclass(frozen=True)
class ShownChange:
    """One change as the reader sees it, in their language."""

    label: str
    before: str
    after: str


def _shown(change) -> ShownChange:
    # A lifecycle.Difference is lazy (label and times follow the current language): read it
    # here, inside the reader's language.
    return ShownChange(str(change.label), str(change.before), str(change.after))


@in_registrants_language
def compose_moved(registration: Registration, *, changes: Sequence, message: str,
                  position: int | None, now: datetime) -> ComposedMail:
    """Time or place changed: what changed, in words, and the updated invitation (REQUEST)."""
    shown = [_shown(change) for change in changes]
    kinds = {change.kind for change in changes}
    time, place = "time" in kinds, "place" in kinds
    title = registration.gathering.title
    if time and not place:
        subject = _("Ny tid: %(title)s", title=title)
    elif place and not time:
        subject = _("Nytt sted: %(title)s", title=title)
    else:
        subject = _("Ny tid og nytt sted: %(title)s", title=title)
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_moved", registration, subject, now=now,
        calendar=calendars.invitation(registration, now=now) if seat else None,
        method="REQUEST" if seat else None,
        changes=shown, message=message, position=position, has_seat=seat,
    )


@in_registrants_language
def compose_postponed(registration: Registration, *, message: str, position: int | None,
                      now: datetime) -> ComposedMail:
    """Postponed indefinitely: the calendar entry is removed (CANCEL, "Utsatt: …")."""
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_postponed", registration,
        _("Utsatt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.postponement(registration, now=now) if seat else None,
        method="CANCEL" if seat else None,
        message=message, position=position, has_seat=seat,
    )


@in_registrants_language
def compose_rescheduled(registration: Registration, *, message: str, position: int | None,
                        now: datetime) -> ComposedMail:
    """A postponed gathering has a new date: a new invitation (new UID) and "are you coming?"."""
    seat = _has_seat(registration)
    title = registration.gathering.title
    return to_registrant(
        "gathering_rescheduled", registration,
        _("Ny dato: %(title)s – kan du fortsatt komme?", title=title) if seat
        else _("Ny dato: %(title)s", title=title), now=now,
        calendar=calendars.invitation(registration, now=now) if seat else None,
        method="REQUEST" if seat else None,
        message=message, position=position, has_seat=seat,
        deadline=registration.gathering.reconfirm_deadline, **reconfirm_links(registration),
    )


@in_registrants_language
def compose_cancelled(registration: Registration, *, message: str, position: int | None,
                      was_postponed: bool, now: datetime) -> ComposedMail:
    """Cancelled by the organisers: the calendar entry is cancelled (CANCEL)."""
    seat = _has_seat(registration)
    return to_registrant(
        "gathering_cancelled", registration,
        _("Avlyst: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.withdrawal(registration, now=now) if seat else None,
        method="CANCEL" if seat else None,
        message=message, position=position, has_seat=seat, was_postponed=was_postponed,
    )


@in_registrants_language
def compose_reminder(registration: Registration, *, now: datetime) -> ComposedMail:
    """Soon: the practical details and the current invitation once more (REQUEST)."""
    gathering = registration.gathering
    return to_registrant(
        "reminder", registration,
        _("Påminnelse: %(title)s %(date)s", title=gathering.title,
          date=long_date(gathering.starts_at)), now=now,
        calendar=calendars.invitation(registration, now=now,
                                      answered=calendars.standing_answer(registration)),
        method="REQUEST",
        asked=registration.reconfirmation.value == "pending", **reconfirm_links(registration),
    )


@in_registrants_language
def compose_reconfirm_reminder(registration: Registration, *, now: datetime) -> ComposedMail:
    """No answer by the deadline: are you still coming on the new date? (REQUEST as it stands)"""
    return to_registrant(
        "reconfirm_reminder", registration,
        _("Kan du fortsatt komme? %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        **reconfirm_links(registration),
    )


@in_registrants_language
def compose_feedback_survey(registration: Registration, *, closes_at: datetime,
                            now: datetime) -> ComposedMail:
    """After the gathering, to a checked-in person: the short survey (no calendar part: the
    gathering is over and nothing in the calendar changes)."""
    gathering = registration.gathering
    return to_registrant(
        "feedback_survey", registration,
        _("Hva syntes du om %(title)s?", title=gathering.title), now=now,
        survey_url=absolute_url("feedback.survey", token=registration.token),
        closes_on=long_date(closes_at),
    )
