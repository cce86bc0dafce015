"""Helpers for the lifecycle, reminder and feed tests: people, organisers, and reading back
queued or delivered mail and its calendar part with two engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import icalendar
import sqlalchemy as sa
import vobject

from klynge_rsvp import organisers, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Organiser, OutboxMessage, Registration
from tests.conftest import NOW, registration_request


def organiser() -> Organiser:
    """An organiser account (in the current app context), to pass as `by`."""
    return organisers.create("arrangor@bergen.kommune.no", "korrekt hest batteri stift",
                             name="Arrangør", now=NOW)


def register(gathering, *numbers, now: datetime = NOW) -> list[Registration]:
    """Register persons `numbers` one by one (each in their own request)."""
    found = []
    for n in numbers:
        [outcome] = rsvp.register(gathering, registration_request(n), now=now)
        found.append(outcome.registration)
    return found


def queued(*, kind: str | None = None, after_id: int = 0) -> list[OutboxMessage]:
    """Outbox rows, oldest first, optionally of one kind."""
    query = sa.select(OutboxMessage).where(OutboxMessage.id > after_id).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def last_outbox_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def text_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def calendar_part(message: EmailMessage) -> EmailMessage | None:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) <= 1
    return parts[0] if parts else None


@dataclass(frozen=True)
class Invite:
    """A calendar part as read by icalendar, checked against vobject and the MIME header."""

    mime_method: str
    method: str
    uid: str
    sequence: int
    status: str
    summary: str
    dtstamp: datetime
    start: datetime
    end: datetime
    attendees: list[str]


def read_invite(message: EmailMessage) -> Invite | None:
    """The calendar part, read by icalendar and vobject, which must agree; None if absent."""
    part = calendar_part(message)
    if part is None:
        return None
    assert part.get("Content-Disposition") is None
    assert part["Content-Transfer-Encoding"].lower() == "base64"
    data = part.get_payload(decode=True)
    cal = icalendar.Calendar.from_ical(data)
    [event] = cal.walk("VEVENT")
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    invite = Invite(
        mime_method=part.get_param("method"),
        method=str(cal["METHOD"]),
        uid=str(event["UID"]),
        sequence=int(event["SEQUENCE"]),
        status=str(event["STATUS"]),
        summary=str(event["SUMMARY"]),
        dtstamp=event.decoded("DTSTAMP"),
        start=event.decoded("DTSTART").astimezone(UTC),
        end=event.decoded("DTEND").astimezone(UTC),
        attendees=[str(a).lower() for a in attendees],
    )
    vcal = vobject.readOne(data.decode("utf-8"))
    [vevent] = vcal.vevent_list
    assert vcal.method.value == invite.method
    assert vevent.uid.value == invite.uid
    assert int(vevent.sequence.value) == invite.sequence
    assert vevent.status.value == invite.status
    assert vevent.summary.value == invite.summary
    assert vevent.dtstamp.value == invite.dtstamp
    assert vevent.dtstart.value.astimezone(UTC) == invite.start
    assert vevent.dtend.value.astimezone(UTC) == invite.end
    assert [a.value.lower() for a in vevent.contents.get("attendee", [])] == invite.attendees
    return invite


def outbox_invite(row: OutboxMessage) -> Invite | None:
    return read_invite(parse(row.message))
