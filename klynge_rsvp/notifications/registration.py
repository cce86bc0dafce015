"""Mail about a person's own registration: confirmed, waiting, promoted, cancelled, again."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from .. import calendars, checkin
from ..models import Registration, RegistrationStatus
from ..outbox import ComposedMail
from .message import in_registrants_language, to_registrant


@in_registrants_language
def compose_confirmation(registration: Registration, *, now: datetime) -> ComposedMail:
    """You have a seat: the invitation (REQUEST)."""
    return to_registrant(
        "confirmation", registration, _("Påmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        **_checkin_qr(registration),
    )


@in_registrants_language
def compose_waiting_list(registration: Registration, *, position: int,
                         now: datetime) -> ComposedMail:
    """You are on the waiting list, at this place. No invitation until a seat is yours."""
    return to_registrant(
        "waiting_list", registration, _("Venteliste: %(title)s", title=registration.gathering.title), now=now,
        position=position,
    )


@in_registrants_language
def compose_promotion(registration: Registration, *, now: datetime) -> ComposedMail:
    """A seat became free and it is yours: the invitation (REQUEST)."""
    return to_registrant(
        "promotion", registration,
        _("Du har fått plass: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        **_checkin_qr(registration),
    )


@in_registrants_language
def compose_cancellation(registration: Registration, *, had_seat: bool,
                         now: datetime) -> ComposedMail:
    """Your registration is cancelled; the calendar entry is removed (CANCEL) if you had one."""
    calendar = calendars.cancellation(registration, now=now) if had_seat else None
    return to_registrant(
        "cancellation", registration, _("Avmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendar, method="CANCEL" if had_seat else None,
    )


@in_registrants_language
def compose_already_registered(registration: Registration, *, position: int | None,
                               now: datetime) -> ComposedMail:
    """Someone registered this address again: the manage link once more, nothing new booked."""
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    return to_registrant(
        "already_registered", registration,
        _("Du er allerede påmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now,
                                      answered=calendars.standing_answer(registration))
        if confirmed else None,
        method="REQUEST" if confirmed else None, position=position,
    )


@in_registrants_language
def compose_new_link(registration: Registration, *, now: datetime) -> ComposedMail:
    """The old manage link was revoked: here is the new one."""
    return to_registrant(
        "new_link", registration,
        _("Ny lenke til påmeldingen: %(title)s", title=registration.gathering.title), now=now,
    )


def _checkin_qr(registration: Registration) -> dict:
    """The QR code an organiser scans at the door, and the link it holds (never the manage link)."""
    url = checkin.scan_url(registration)
    return {"inline_images": {"innsjekk": checkin.qr_png(url)}, "checkin_url": url}
