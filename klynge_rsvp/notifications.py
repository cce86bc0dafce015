"""One compose_* function per email: subject, text, HTML and the calendar part.

Each returns a ComposedMail for the outbox; nothing here sends anything.
"""

from __future__ import annotations

from datetime import datetime
from email import charset as email_charset
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.mime.text import MIMEText
from email.utils import make_msgid

from flask import current_app, render_template
from flask_mail import Message

from . import calendars
from .links import absolute_url, base_host
from .models import Registration, RegistrationStatus
from .outbox import ComposedMail


class CalendarMessage(Message):
    """A Flask-Mail message whose multipart/alternative also holds an iMIP calendar part.

    Flask-Mail's own `attach` would add Content-Disposition: attachment, which makes Outlook
    and Gmail show a file instead of an invitation (RFC 6047: the part must be an alternative).
    """

    def __init__(self, *args, calendar: bytes | None = None, method: str | None = None, **kw):
        super().__init__(*args, **kw)
        self.calendar = calendar
        self.method = method

    def _mimetext(self, text, subtype="plain"):
        # Quoted-printable keeps every line 7-bit: safe through relays without 8BITMIME.
        utf8 = email_charset.Charset("utf-8")
        utf8.body_encoding = email_charset.QP
        return MIMEText(text, subtype, utf8)

    def _message(self):
        message = super()._message()
        if self.calendar is None:
            return message
        alternative = message.get_payload()[0]
        part = MIMEBase("text", "calendar", method=self.method, charset="UTF-8")
        part.set_payload(self.calendar)
        encode_base64(part)
        alternative.attach(part)
        return message


def _compose(kind: str, registration: Registration, subject: str, *, now: datetime,
             calendar: bytes | None = None, method: str | None = None, **context) -> ComposedMail:
    gathering = registration.gathering
    context = {
        "registration": registration,
        "gathering": gathering,
        "network_name": current_app.config["KLYNGE_NETWORK_NAME"],
        "manage_url": absolute_url("manage.show", token=registration.token),
        "gathering_url": absolute_url("public.gathering", slug=gathering.slug),
        "has_calendar": calendar is not None,
        "calendar_method": method,
        **context,
    }
    message = CalendarMessage(
        subject=subject,
        recipients=[(registration.name, registration.email)],
        body=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
        calendar=calendar,
        method=method,
        date=now.timestamp(),
        charset="utf-8",
    )
    message.msgId = make_msgid(domain=base_host())
    if message.has_bad_headers():
        raise ValueError("a line break in a mail header")  # forms refuse these; never send one
    return ComposedMail(kind=kind, recipient=registration.email, subject=subject,
                        message=message.as_bytes())


def compose_confirmation(registration: Registration, *, now: datetime) -> ComposedMail:
    """You have a seat: the invitation (REQUEST)."""
    return _compose(
        "confirmation", registration, f"Påmeldt: {registration.gathering.title}", now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
    )


def compose_waiting_list(registration: Registration, *, position: int,
                         now: datetime) -> ComposedMail:
    """You are on the waiting list, at this place. No invitation until a seat is yours."""
    return _compose(
        "waiting_list", registration, f"Venteliste: {registration.gathering.title}", now=now,
        position=position,
    )


def compose_promotion(registration: Registration, *, now: datetime) -> ComposedMail:
    """A seat became free and it is yours: the invitation (REQUEST)."""
    return _compose(
        "promotion", registration, f"Du har fått plass: {registration.gathering.title}", now=now,
        calendar=calendars.invitation(registration, now=now), method="REQUEST",
    )


def compose_cancellation(registration: Registration, *, had_seat: bool,
                         now: datetime) -> ComposedMail:
    """Your registration is cancelled; the calendar entry is removed (CANCEL) if you had one."""
    calendar = calendars.cancellation(registration, now=now) if had_seat else None
    return _compose(
        "cancellation", registration, f"Avmeldt: {registration.gathering.title}", now=now,
        calendar=calendar, method="CANCEL" if had_seat else None,
    )


def compose_already_registered(registration: Registration, *, position: int | None,
                               now: datetime) -> ComposedMail:
    """Someone registered this address again: the manage link once more, nothing new booked."""
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    return _compose(
        "already_registered", registration,
        f"Du er allerede påmeldt: {registration.gathering.title}", now=now,
        calendar=calendars.invitation(registration, now=now) if confirmed else None,
        method="REQUEST" if confirmed else None, position=position,
    )
