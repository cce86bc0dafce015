"""The mail merge gives every registrant of a fan-out exactly the mail the ordinary composition
would, while composing the notice only twice per audience."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import icalendar
import pytest

from klynge_rsvp import lifecycle, notifications, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Registration, RegistrationStatus
from klynge_rsvp.notifications import merge
from tests.conftest import NOW, person, registration_request
from tests.lifecycle_helpers import queued

# Names that HTML escaping, header encoding, folding and the calendar's CN each treat differently.
NAMES = [
    "Kari Nordmann",
    "Ærlige Øystein Åsen",
    'Bob "Bobby" <b>O\'Brien</b> & Co',
    "Ola = Nordmann =?utf-8?q?x?=",
    "Ingrid Marie Kristiansen-Haugland Søreide Wergeland Bjørnstjerne Bjørnson Smith",
    "李 小龍",
    "Trond\\Nilsen; CN=x: mailto",
]


def shown(raw: bytes) -> dict:
    """What a reader sees in a mail: headers (decoded) and each part's content."""
    message = message_from_bytes(raw, policy=policy.default)
    parts = []
    for part in message.walk():
        if part.is_multipart():
            parts.append(part.get_content_type())
        elif part.get_content_type() == "text/calendar":
            calendar = icalendar.Calendar.from_ical(part.get_content())
            parts.append(("text/calendar", part.get_param("method"), calendar.to_ical()))
        else:
            parts.append((part.get_content_type(), part.get_content()))
    return {"subject": str(message["Subject"]), "to": recipient(raw),
            "from": str(message["From"]), "date": str(message["Date"]), "parts": parts}


def recipient(raw: bytes) -> tuple[str, str]:
    """The To header's display name and address, as a mail program shows them: the address
    split off first, then the name's RFC 2047 words decoded (RFC 2047, section 6.2)."""
    encoded_name, address = parseaddr(str(message_from_bytes(raw)["To"]))
    return str(make_header(decode_header(encoded_name))), address


def register_people(gathering, names, language="nb") -> list[Registration]:
    registrations = []
    for n, name in enumerate(names):
        request = registration_request(f"{language}{n}", person=person(n, name=name,
                                       email=f"p{n}.{language}@eksempel.no"), language=language)
        [outcome] = rsvp.register(gathering, request, now=NOW)
        registrations.append(outcome.registration)
    return registrations


@pytest.mark.parametrize("notice", ["moved", "postponed", "cancelled", "reminder"])
@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_merged_mail_is_the_ordinary_mail(ctx, make_gathering, notice, language):
    gathering = make_gathering(now=NOW)
    registrations = register_people(gathering, NAMES, language)
    compose = {
        "moved": lambda r: notifications.compose_moved(
            r, changes=[], message="Ny sal: <Storsalen> & \"lille\".", position=None, now=NOW),
        "postponed": lambda r: notifications.compose_postponed(
            r, message="Vi kommer tilbake.", position=None, now=NOW),
        "cancelled": lambda r: notifications.compose_cancelled(
            r, message="Beklager!", position=None, was_postponed=False, now=NOW),
        "reminder": lambda r: notifications.compose_reminder(r, now=NOW),
    }[notice]
    merged = notifications.MailMerge(compose)

    for registration in registrations:
        mail, ordinary = merged(registration), compose(registration)
        assert (mail.kind, mail.recipient, mail.subject) == (
            ordinary.kind, ordinary.recipient, ordinary.subject)
        assert shown(mail.message) == shown(ordinary.message), registration.name
        assert registration.token in mail.message.decode("ascii")
    assert any(template is not None for template in merged._templates.values())


def test_an_audience_is_composed_twice_whatever_its_size(ctx, make_gathering):
    gathering = make_gathering(now=NOW)
    registrations = register_people(gathering, [f"Person {n}" for n in range(40)])
    calls = []

    def compose(registration):
        calls.append(registration)
        return notifications.compose_postponed(registration, message="", position=None, now=NOW)

    merged = notifications.MailMerge(compose)
    mails = [merged(registration) for registration in registrations]

    # The first two people the ordinary way, then the two stand-ins; nobody after that.
    assert len(calls) == merge.SMALLEST_AUDIENCE - 1 + 2
    assert len({mail.recipient for mail in mails}) == 40
    message_ids = {message_from_bytes(mail.message)["Message-ID"] for mail in mails}
    assert len(message_ids) == 40


def test_a_notice_that_changes_the_name_is_composed_the_ordinary_way(ctx, make_gathering):
    gathering = make_gathering(now=NOW)
    registrations = register_people(gathering, NAMES[:5])

    def compose(registration):
        mail = notifications.compose_postponed(registration, message="", position=None, now=NOW)
        # A subject with the name in capitals: the stand-in's name is no longer found verbatim.
        return type(mail)(kind=mail.kind, recipient=mail.recipient,
                          subject=f"{registration.name.upper()}: {mail.subject}",
                          message=mail.message)

    merged = notifications.MailMerge(compose)
    for registration in registrations:
        assert merged(registration).subject.startswith(registration.name.upper())
    assert set(merged._templates.values()) == {None}


def test_a_notice_that_reads_more_of_the_registration_is_composed_the_ordinary_way(
        ctx, make_gathering):
    gathering = make_gathering(now=NOW)
    registrations = register_people(gathering, NAMES[:4])

    def compose(registration):
        mail = notifications.compose_postponed(registration, message="", position=None, now=NOW)
        return type(mail)(kind=mail.kind, recipient=mail.recipient,
                          subject=f"{mail.subject} ({registration.job_title})", message=mail.message)

    merged = notifications.MailMerge(compose)
    subjects = [merged(registration).subject for registration in registrations]
    assert subjects == [compose(registration).subject for registration in registrations]
    assert set(merged._templates.values()) == {None}


def test_people_in_different_languages_and_states_are_different_audiences(ctx, make_gathering):
    gathering = make_gathering(now=NOW, capacity=6)
    registrations = (register_people(gathering, [f"Bokmål {n}" for n in range(4)], "nb")
                     + register_people(gathering, [f"English {n}" for n in range(4)], "en"))
    assert [r.status for r in registrations].count(RegistrationStatus.WAITING) == 2
    before = max(row.id for row in queued())

    lifecycle.postpone(gathering, message="Ny dato kommer.", now=NOW + timedelta(days=1), by=None)
    db.session.commit()

    notices = queued(kind="gathering_postponed", after_id=before)
    assert sorted(row.recipient for row in notices) == sorted(r.email for r in registrations)
    for row in notices:
        registration = db.session.get(Registration, row.registration_id)
        message = message_from_bytes(row.message, policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert registration.token in text and registration.name in text
        assert ("Postponed" in row.subject) == (registration.language == "en")
        calendar = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        if registration.status == RegistrationStatus.CONFIRMED:
            [part] = calendar
            event = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
            assert str(event["ATTENDEE"]).lower() == f"mailto:{registration.email}".lower()
            assert event["ATTENDEE"].params["CN"] == registration.name
        else:
            assert calendar == []


def test_a_name_holding_a_stand_ins_details_is_kept_as_typed(ctx, make_gathering):
    gathering = make_gathering(now=NOW)
    stand_in = merge.STAND_INS[0]
    # (Not the stand-in's address: a name with an @ reads as a link and is shown nowhere.)
    tricky = f"Kari {stand_in.name} {stand_in.token}"
    registrations = register_people(gathering, ["Ola Nordmann", "Per Hansen", tricky, "Åse Li"])
    merged = notifications.MailMerge(lambda r: notifications.compose_postponed(
        r, message="", position=None, now=NOW))

    mails = [merged(registration) for registration in registrations]

    assert any(template is not None for template in merged._templates.values())
    text = message_from_bytes(mails[2].message, policy=policy.default).get_body(
        preferencelist=("plain",)).get_content()
    assert tricky in text
