"""Mail about a person's own registration: confirmed, waiting, promoted, cancelled, again."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from .. import calendars, checkin, seat_rules
from ..links import absolute_url
from ..mail.outbox import ComposedMail
from ..models import Registration, RegistrationStatus
from ..names import shown_name
from .message import in_registrants_language, to_registrant

if TYPE_CHECKING:
    from ..rsvp import Person

def _mail(kind: str, registration: Registration, subject: str, *, now: datetime,
          from_form: bool = False, **context) -> ComposedMail:
    """to_registrant, with the greeting's name and (for mail the public form caused) the
    "not me" link."""
    not_me_url = absolute_url("manage.not_me", token=registration.token) if from_form else None
    return to_registrant(kind, registration, subject, now=now,
                         not_me_url=not_me_url,
                         **context)


@in_registrants_language
def compose_confirmation(registration: Registration, *, now: datetime, from_form: bool = False,
                         registrar: Person | None = None) -> ComposedMail:
    """You have a seat: the invitation (REQUEST). `registrar`: the person who typed in this
    colleague's address, named in the mail."""
    return _mail(
        "confirmation", registration, _("Påmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        from_form=from_form, **_registrar(registrar), **_checkin_qr(registration),
    )


@in_registrants_language
def compose_waiting_list(registration: Registration, *, position: int, now: datetime,
                         from_form: bool = False, registrar: Person | None = None,
                         reason: seat_rules.Reason | None = None) -> ComposedMail:
    """You are on the waiting list, at this place. No invitation until a seat is yours.
    `reason`: why, when it is not that the gathering is full (seat rules, issue 16)."""
    return _mail(
        "waiting_list", registration, _("Venteliste: %(title)s", title=registration.gathering.title), now=now,
        position=position, from_form=from_form, **_registrar(registrar),
        waiting_reason=seat_rules.describe(reason)
        if reason is not None and reason.code != seat_rules.FULL else "",
    )


@in_registrants_language
def compose_promotion(registration: Registration, *, now: datetime) -> ComposedMail:
    """A seat became free and it is yours: the invitation (REQUEST)."""
    return _mail(
        "promotion", registration,
        _("Du har fått plass: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
        **_checkin_qr(registration),
    )


@in_registrants_language
def compose_cancellation(registration: Registration, *, had_seat: bool, now: datetime,
                         refused: bool = False) -> ComposedMail:
    """Your registration is cancelled; the calendar entry is removed (CANCEL) if you had one.
    `refused`: the person said "not me"; the mail says what that did, and has no manage link
    (their data is erased, so the link stops working)."""
    calendar = calendars.cancellation(registration, now=now) if had_seat else None
    return _mail(
        "cancellation", registration, _("Avmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendar, method="CANCEL" if had_seat else None, refused=refused,
    )


@in_registrants_language
def compose_already_registered(registration: Registration, *, position: int | None,
                               now: datetime) -> ComposedMail:
    """Someone registered this address again: the manage link once more (and, with a seat, the
    invitation and the check-in code), nothing new booked."""
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    return _mail(
        "already_registered", registration,
        _("Du er allerede påmeldt: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now,
                                      answered=calendars.standing_answer(registration))
        if confirmed else None,
        method="REQUEST" if confirmed else None, position=position, from_form=True,
        **(_checkin_qr(registration) if confirmed else {}),
    )


@in_registrants_language
def compose_new_link(registration: Registration, *, now: datetime) -> ComposedMail:
    """The old manage link was revoked: here is the new one."""
    return _mail(
        "new_link", registration,
        _("Ny lenke til påmeldingen: %(title)s", title=registration.gathering.title), now=now,
    )


def _registrar(person: Person | None) -> dict:
    """Who registered a colleague, as the mail names them: the name and address they typed,
    or the address alone when the name looks like a link."""
    if person is None:
        return {"registrar_name": None, "registrar_email": None}
    return {"registrar_name": shown_name(person.name) or None, "registrar_email": person.email}


def _checkin_qr(registration: Registration) -> dict:
    """The QR code an organiser scans at the door, and the link it holds (never the manage link)."""
    url = checkin.scan_url(registration)
    return {"inline_images": {"innsjekk": checkin.qr_png(url)}, "checkin_url": url}


@in_registrants_language
def compose_details_changed(registration: Registration, *, now: datetime) -> ComposedMail:
    """The name in the invitation changed: the invitation again, at the higher SEQUENCE, with
    the person's calendar answer repeated (nothing new is asked: the time is the same)."""
    return _mail(
        "details_changed", registration,
        _("Oppdatert påmelding: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now,
                                      answered=calendars.standing_answer(registration)),
        method="REQUEST",
    )


@in_registrants_language
def compose_address_withdrawn(registration: Registration, *, now: datetime) -> ComposedMail:
    """To the address an organiser corrected away from: the invitation is withdrawn (CANCEL,
    no PARTSTAT). The address may be a stranger's, so no link and nothing about the person."""
    return _mail(
        "address_withdrawn", registration,
        _("Invitasjonen er trukket tilbake: %(title)s", title=registration.gathering.title),
        now=now, calendar=calendars.withdrawal(registration, now=now), method="CANCEL",
    )


@in_registrants_language
def compose_address_corrected(registration: Registration, *, position: int | None,
                              with_calendar: bool, now: datetime) -> ComposedMail:
    """To the corrected address: the invitation (REQUEST, asking) or the place on the waiting
    list, and the new manage link."""
    return _mail(
        "address_corrected", registration,
        _("Påmeldingen din: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now) if with_calendar else None,
        method="REQUEST" if with_calendar else None, position=position,
        **(_checkin_qr(registration) if with_calendar else {}),
    )


@in_registrants_language
def compose_meeting_changed(registration: Registration, *, now: datetime) -> ComposedMail:
    """To a confirmed online participant: the meeting link changed. The invitation again with
    the new link, at the higher SEQUENCE, repeating their calendar's answer (the time is the
    same, nothing new is asked)."""
    return _mail(
        "meeting_changed", registration,
        _("Ny møtelenke: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now,
                                      answered=calendars.standing_answer(registration)),
        method="REQUEST",
    )


@in_registrants_language
def compose_mode_changed(registration: Registration, *, now: datetime) -> ComposedMail:
    """The person now attends the other way (in the room, or online): the invitation again at
    the higher SEQUENCE, with the room or the meeting link as its place; asked again, since
    where they go changed."""
    return _mail(
        "mode_changed", registration,
        _("Endret deltakelse: %(title)s", title=registration.gathering.title), now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
    )
