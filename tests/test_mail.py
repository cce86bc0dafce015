"""What arrives: mail delivered through a real SMTP server, parsed as a mail client would.

The calendar part is read back by two independent engines (icalendar and vobject); the start
is compared as a UTC instant, once in winter time and once in summer time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import Registration, RegistrationStatus
from tests.conftest import NOW, person, registration_request

SENDER_NAME = "Beredskapsklyngen"
SENDER_ADDRESS = "klynge@rsvp.test"
TITLE = "Frokostmøte om beredskap"
WINTER_START = datetime(2026, 2, 12, 7, 0, tzinfo=UTC)  # 08:00 in Oslo (CET, +01:00)
SUMMER_START = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Oslo (CEST, +02:00)


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def smtp(smtp_config, app, smtp_server):
    """An app context of an app that delivers to the live test SMTP server."""
    with app.app_context():
        yield smtp_server
        db.session.rollback()


def deliver(smtp_server) -> list[EmailMessage]:
    """Run one delivery pass; return the messages it made the server accept, parsed."""
    seen = len(smtp_server.handler.messages)
    report = delivery.deliver_due()
    assert report.retrying == [] and report.failed == [], report
    arrived = smtp_server.handler.parsed()[seen:]
    assert len(arrived) == len(report.sent)
    return arrived


def to_address(message: EmailMessage) -> str:
    [recipient] = message["To"].addresses
    return recipient.addr_spec


def by_recipient(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    found = {to_address(message): message for message in messages}
    assert len(found) == len(messages), "two messages to one address"
    return found


def alternatives(message: EmailMessage) -> list[EmailMessage]:
    """The parts of multipart/mixed > multipart/alternative, checking that shape on the way."""
    assert message.get_content_type() == "multipart/mixed"
    [alternative] = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    return alternative.get_payload()


def body(message: EmailMessage, subtype: str) -> str:
    # The HTML may sit in multipart/related beside its inline images (the check-in QR code).
    [part] = [p for p in message.walk() if p.get_content_type() == f"text/{subtype}"]
    return part.get_content()


def calendar_part(message: EmailMessage) -> EmailMessage | None:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) <= 1
    return parts[0] if parts else None


def calendar_bytes(message: EmailMessage) -> bytes:
    part = calendar_part(message)
    assert part is not None, "no text/calendar part"
    return part.get_payload(decode=True)


def read_icalendar(data: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def read_vobject(data: bytes):
    calendar = vobject.readOne(data.decode("utf-8"))
    [event] = calendar.vevent_list
    return calendar, event


def attendees(event: icalendar.Event) -> list[icalendar.vCalAddress]:
    value = event.get("ATTENDEE", [])
    return value if isinstance(value, list) else [value]


def manage_link(registration: Registration) -> str:
    return f"https://rsvp.test/pamelding/{registration.token}"


def register(gathering, n, **request):
    outcomes = rsvp.register(gathering, registration_request(n, **request), now=NOW)
    db.session.commit()
    return [outcome.registration for outcome in outcomes]


def assert_no_defects(message: EmailMessage) -> None:
    for part in message.walk():
        assert part.defects == [], (part.get_content_type(), part.defects)
        for name, value in part.items():
            assert value.defects == (), (name, value.defects)


# --- structure and headers ---------------------------------------------------------------------


def test_invitation_mime_structure_and_headers(smtp, make_gathering):
    gathering = make_gathering()
    [registration] = register(gathering, 1, person=person(1, name="Ærlig Østby-Åsen"))

    [message] = deliver(smtp)

    raw = smtp.handler.messages[-1].original_content
    assert raw.isascii()  # QP and base64 bodies, RFC 2047 headers: safe through any relay
    assert_no_defects(message)
    assert [p.get_content_type() for p in alternatives(message)] == [
        "text/plain", "multipart/related", "text/calendar"]
    related = alternatives(message)[1]
    html, qr_code = related.get_payload()
    assert (html.get_content_type(), qr_code.get_content_type()) == ("text/html", "image/png")
    assert f"cid:{qr_code['Content-ID'].strip('<>')}" in html.get_content()
    part = calendar_part(message)
    assert part.get_param("method") == "REQUEST"
    assert part.get_param("charset").lower() == "utf-8"
    assert part["Content-Transfer-Encoding"].lower() == "base64"
    assert part.get("Content-Disposition") is None  # an alternative, not an attachment
    calendar, _ = read_icalendar(calendar_bytes(message))
    assert calendar["METHOD"] == part.get_param("method")

    [sender_address] = message["From"].addresses
    assert (sender_address.display_name, sender_address.addr_spec) == (SENDER_NAME,
                                                                      SENDER_ADDRESS)
    [recipient] = message["To"].addresses
    assert recipient.display_name == "Ærlig Østby-Åsen"
    assert recipient.addr_spec == registration.email == "deltaker1@example.no"
    assert message["Subject"] == f"Påmeldt: {TITLE}"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@rsvp.test>")
    assert message["Date"].datetime.tzinfo is not None
    assert smtp.handler.messages[-1].rcpt_tos == [registration.email]


@pytest.mark.parametrize("starts_at", [WINTER_START, SUMMER_START], ids=["winter", "summer"])
def test_invitation_calendar_read_by_two_engines(smtp, make_gathering, starts_at):
    gathering = make_gathering(starts_at=starts_at)
    [registration] = register(gathering, 1, person=person(1, name="Ærlig Østby-Åsen"))

    [message] = deliver(smtp)
    data = calendar_bytes(message)

    calendar, event = read_icalendar(data)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == gathering.ical_uid
    assert event["SEQUENCE"] == registration.ical_sequence == 0
    assert event["STATUS"] == "CONFIRMED"
    assert str(event["ORGANIZER"]).lower() == f"mailto:{SENDER_ADDRESS}"
    [attendee] = attendees(event)
    assert str(attendee).lower() == "mailto:deltaker1@example.no"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["CN"] == "Ærlig Østby-Åsen"
    start = event["DTSTART"]
    assert start.params["TZID"] == "Europe/Oslo"
    assert start.dt.replace(tzinfo=None) == datetime(starts_at.year, starts_at.month,
                                                     starts_at.day, 8, 0)
    assert start.dt.astimezone(UTC) == starts_at
    # The VTIMEZONE as written (not the TZID looked up in the system's zone database).
    [vtimezone] = calendar.walk("VTIMEZONE")
    written_zone = vtimezone.to_tz(lookup_tzid=False)
    wall_time = start.dt.replace(tzinfo=None)
    assert wall_time.replace(tzinfo=written_zone).astimezone(UTC) == starts_at

    vcalendar, vevent = read_vobject(data)
    assert vcalendar.method.value == "REQUEST"
    assert vevent.uid.value == gathering.ical_uid
    assert int(vevent.sequence.value) == 0
    assert vevent.status.value == "CONFIRMED"
    assert vevent.organizer.value.lower() == f"mailto:{SENDER_ADDRESS}"
    [vattendee] = vevent.attendee_list
    assert vattendee.value.lower() == "mailto:deltaker1@example.no"
    assert vattendee.params["RSVP"] == ["TRUE"]
    assert vevent.dtstart.value.astimezone(UTC) == starts_at
    assert vevent.dtend.value.astimezone(UTC) == gathering.ends_at


# --- bodies ------------------------------------------------------------------------------------


def test_bodies_carry_the_manage_link_and_html_escapes_the_name(smtp, make_gathering):
    gathering = make_gathering()
    name = "<script>alert(1)</script>"
    [registration] = register(gathering, 1, person=person(1, name=name))

    [message] = deliver(smtp)

    assert_no_defects(message)
    text, html = body(message, "plain"), body(message, "html")
    assert manage_link(registration) in text
    assert f'href="{manage_link(registration)}"' in html
    assert name in text  # plain text is shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert message["To"].addresses[0].display_name == name
    # The calendar carries the name as a parameter value; it stays one attendee.
    _, event = read_icalendar(calendar_bytes(message))
    [attendee] = attendees(event)
    assert str(attendee).lower() == "mailto:deltaker1@example.no"


# --- the waiting list, cancellation and promotion ----------------------------------------------


def test_waiting_list_mail_has_no_invitation_and_says_the_place(smtp, make_gathering):
    gathering = make_gathering(capacity=1)
    register(gathering, 1)
    [waiting] = register(gathering, 2)
    assert waiting.status == RegistrationStatus.WAITING

    mails = by_recipient(deliver(smtp))

    seat, wait = mails["deltaker1@example.no"], mails["deltaker2@example.no"]
    assert calendar_part(seat) is not None
    assert_no_defects(wait)
    assert calendar_part(wait) is None
    assert [p.get_content_type() for p in alternatives(wait)] == ["text/plain", "text/html"]
    assert wait["Subject"] == f"Venteliste: {TITLE}"
    assert "venteliste som nummer 1" in body(wait, "plain")
    assert "venteliste som nummer 1" in body(wait, "html")
    assert manage_link(waiting) in body(wait, "plain")


def test_cancellation_cancels_the_event_and_promotes_the_first_waiting(smtp, make_gathering):
    gathering = make_gathering(capacity=1)
    [leaving] = register(gathering, 1)
    [waiting] = register(gathering, 2)
    [invitation] = [m for m in deliver(smtp) if to_address(m) == "deltaker1@example.no"]
    _, invited = read_icalendar(calendar_bytes(invitation))

    rsvp.cancel(leaving, now=NOW)
    db.session.commit()
    mails = by_recipient(deliver(smtp))

    assert set(mails) == {"deltaker1@example.no", "deltaker2@example.no"}
    cancellation = mails["deltaker1@example.no"]
    assert_no_defects(cancellation)
    assert cancellation["Subject"] == f"Avmeldt: {TITLE}"
    assert calendar_part(cancellation).get_param("method") == "CANCEL"
    calendar, event = read_icalendar(calendar_bytes(cancellation))
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert str(event["UID"]) == str(invited["UID"]) == gathering.ical_uid
    assert event["SEQUENCE"] > invited["SEQUENCE"]
    [attendee] = attendees(event)
    assert str(attendee).lower() == "mailto:deltaker1@example.no"
    vcalendar, vevent = read_vobject(calendar_bytes(cancellation))
    assert vcalendar.method.value == "CANCEL"
    assert vevent.status.value == "CANCELLED"
    assert int(vevent.sequence.value) > int(invited["SEQUENCE"])

    promotion = mails["deltaker2@example.no"]
    assert_no_defects(promotion)
    assert promotion["Subject"] == f"Du har fått plass: {TITLE}"
    assert calendar_part(promotion).get_param("method") == "REQUEST"
    calendar, event = read_icalendar(calendar_bytes(promotion))
    assert calendar["METHOD"] == "REQUEST"
    assert event["STATUS"] == "CONFIRMED"
    assert str(event["UID"]) == gathering.ical_uid
    [attendee] = attendees(event)
    assert str(attendee).lower() == "mailto:deltaker2@example.no"
    assert manage_link(waiting) in body(promotion, "plain")


# --- registering again, and for colleagues -----------------------------------------------------


def test_registering_again_books_nothing_and_resends_the_link(smtp, make_gathering):
    gathering = make_gathering()
    [registration] = register(gathering, 1)
    deliver(smtp)

    outcomes = rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.commit()

    assert [(o.registration.id, o.already_registered) for o in outcomes] == [
        (registration.id, True)]
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
    assert count == 1
    [message] = deliver(smtp)
    assert to_address(message) == "deltaker1@example.no"
    assert message["Subject"] == f"Du er allerede påmeldt: {TITLE}"
    assert manage_link(registration) in body(message, "plain")
    assert manage_link(registration) in body(message, "html")


def test_group_registration_sends_each_person_their_own_mail(smtp, make_gathering):
    gathering = make_gathering()
    registrations = register(gathering, 1, colleagues=[person(2), person(3)])
    assert len(registrations) == 3

    mails = by_recipient(deliver(smtp))

    assert sorted(mails) == sorted(r.email for r in registrations)
    assert sorted(rcpt for e in smtp.handler.messages for rcpt in e.rcpt_tos) == sorted(mails)
    for registration in registrations:
        message = mails[registration.email]
        assert_no_defects(message)
        text, html = body(message, "plain"), body(message, "html")
        calendar = calendar_bytes(message).decode("utf-8")
        assert manage_link(registration) in text
        assert manage_link(registration) in html
        for other in registrations:
            if other is not registration:
                for content in (text, html, calendar):
                    assert other.token not in content
                    # A colleague's mail names the person who registered them, and no one else.
                    if content is calendar or other is not registrations[0]:
                        assert other.email not in content
        _, event = read_icalendar(calendar_bytes(message))
        [attendee] = attendees(event)
        assert str(attendee).lower() == f"mailto:{registration.email}"
