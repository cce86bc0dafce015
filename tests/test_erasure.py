"""Erasure from the manage link: afterwards the person's name and address are nowhere in the
database (every table, every text and binary column, raw mail decoded), once their last mail,
the confirmation of the erasure, has gone out through a real SMTP server."""

from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from klynge_rsvp import announcements, organisers, privacy, replies, rsvp, worker
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import (
    Audience,
    AuditEntry,
    CalendarReply,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    ReplyOutcome,
    Sector,
)
from klynge_rsvp.rsvp import Person, RegistrationRequest
from klynge_rsvp.stored_text import shown
from tests.conftest import ORGANISER_PASSWORD, EphemeralController, RecordingHandler, registration_request
from tests.imap_helpers import AUTHSERV_ID, gmail_reply, outlook_reply
from tests.pages import csrf_token
from tests.privacy_helpers import Person as Traced
from tests.privacy_helpers import places, scan

NAME = "Åse Kjærstad-Ødegård"
ADDRESS = "Ase.Kjaerstad@Bølle.no"  # typed with capitals and the domain in Unicode
PUNY = "Ase.Kjaerstad@xn--blle-gra.no"  # as the mail goes out
ASE = Traced(NAME, ADDRESS)
OTHER = Traced("Deltaker 2", "deltaker2@example.no")
ORGANISER = "arrangor@bergen.kommune.no"  # the organiser_client fixture's account
PROVEN = (f"{AUTHSERV_ID}; dkim=pass header.d=xn--blle-gra.no header.s=s1; "
          "dmarc=pass (p=REJECT) header.from=xn--blle-gra.no")
UNPROVEN = f"{AUTHSERV_ID}; dkim=fail header.d=xn--blle-gra.no; dmarc=fail header.from=xn--blle-gra.no"


@pytest.fixture
def app_config(app_config):
    app_config["REPLY_AUTHSERV_ID"] = AUTHSERV_ID
    return app_config


@dataclass
class RefusingHer(RecordingHandler):
    """A real SMTP server whose recipient check can be told to refuse her address alone."""

    refuse: bool = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and address.lower() == PUNY.lower():
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server():
    controller = EphemeralController(RefusingHer(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


def receive(raw):
    replies.receive(replies.read_message(raw, authserv_id=AUTHSERV_ID), now=utcnow())


def everywhere(smtp_server, app, organiser_client, make_gathering) -> tuple[int, int]:
    """Put Åse into every place a person can be stored; returns her registration's id and the
    gathering's."""
    with app.app_context():
        now = utcnow()
        organiser = organisers.find_by_email(ORGANISER)
        gathering = make_gathering(capacity=2, now=now, starts_at=now + timedelta(days=10))
        rsvp.register(gathering, registration_request(
            2, comment=f"Kommer sammen med {NAME}."), now=now)
        ase = rsvp.register_on_behalf(gathering, RegistrationRequest(  # audited with her name
            person=Person(NAME, ADDRESS, "Beredskapsleder"), organisation_name="Bergen kommune",
            sector=Sector.PUBLIC, consent=True, needs="Glutenfritt", comment="Kommer sent."),
            now=now, by=organiser)
        rsvp.register(gathering, registration_request(3), now=now)  # waits for a seat
        db.session.commit()
        ase_id, gathering_id = ase.id, gathering.id
        assert delivery.deliver_due().sent  # the confirmations, over SMTP

    page = organiser_client.get(f"/arrangor/pameldinger/{ase_id}")
    assert organiser_client.post(f"/arrangor/pameldinger/{ase_id}/ny-lenke",
                                 data={"csrf_token": csrf_token(page.text)}).status_code == 303
    with app.app_context():
        assert delivery.deliver_due().sent  # the new link
        organiser = organisers.find_by_email(ORGANISER)
        gathering = db.session.get(Registration, ase_id).gathering
        announcement = announcements.create(gathering=gathering, audience=Audience.CONFIRMED,
                                            subject="Husk legitimasjon", body="Ta med ID.",
                                            by=organiser, now=utcnow())
        announcements.send(announcement, by=organiser, now=utcnow())
        db.session.commit()
        smtp_server.handler.refuse = True
        assert len(delivery.deliver_due().failed) == 1
        failed = db.session.scalar(sa.select(OutboxMessage.id).where(
            OutboxMessage.registration_id == ase_id, OutboxMessage.status == OutboxStatus.FAILED))
    page = organiser_client.get("/arrangor/e-postlogg?status=failed")
    assert organiser_client.post(f"/arrangor/e-postlogg/{failed}/send-igjen",  # audited
                                 data={"csrf_token": csrf_token(page.text)}).status_code == 303
    with app.app_context():
        assert delivery.deliver_due().failed  # refused again: the server's words quote her
        smtp_server.handler.refuse = False
        sequence = db.session.get(Registration, ase_id).ical_sequence
        uid = db.session.get(Registration, ase_id).gathering.ical_uid
        # Accepted in her calendar (applied), a tentative whose sender was not proven (held,
        # the raw message kept), and someone else answering in her name (ignored).
        receive(gmail_reply(uid=uid, address=PUNY, name=NAME, sequence=sequence, auth=[PROVEN]))
        receive(outlook_reply(uid=uid, address=PUNY, name=NAME, partstat="TENTATIVE",
                              sequence=sequence, auth=[UNPROVEN]))
        receive(outlook_reply(uid=uid, address=PUNY, name=NAME, sender="deltaker2@example.no",
                              sequence=sequence))
        db.session.commit()
        outcomes = db.session.scalars(sa.select(CalendarReply.outcome).order_by(CalendarReply.id))
        assert list(outcomes) == [ReplyOutcome.APPLIED, ReplyOutcome.HELD, ReplyOutcome.IGNORED]
    return ase_id, gathering_id


def test_erasure_leaves_no_trace_once_the_last_mail_has_gone(
        smtp_config, smtp_server, app, client, organiser_client, make_gathering):
    ase_id, gathering_id = everywhere(smtp_server, app, organiser_client, make_gathering)
    with app.app_context():
        before = scan(ASE)
        # The scan finds her wherever she is, in every form: her name in raw mail only encoded
        # (RFC 2047, base64, quoted-printable), the address in punycode in the envelope.
        assert places(before) >= {
            ("registrations", "name"), ("registrations", "email"), ("registrations", "email_key"),
            ("registrations", "comment"),  # what another participant wrote about her
            ("outbox_messages", "message"), ("outbox_messages", "recipient"),
            ("outbox_messages", "idempotency_key"), ("outbox_messages", "last_error"),
            ("audit_entries", "summary"), ("audit_entries", "summary_params"),
            ("calendar_replies", "sender"), ("calendar_replies", "attendee"),
            ("calendar_replies", "raw"), ("calendar_replies", "reason_params"),
        }
        assert {hit.form for hit in before if hit.column == "message"} >= {NAME, PUNY}
        token = db.session.get(Registration, ase_id).token
        audit_count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
        sent_before = db.session.scalar(sa.select(sa.func.count()).where(
            OutboxMessage.registration_id == ase_id, OutboxMessage.status != OutboxStatus.PENDING))

    page = client.get(f"/pamelding/{token}/slett")
    done = client.post(f"/pamelding/{token}/slett",
                       data={"csrf_token": csrf_token(page.text), "confirm": "y"})
    assert done.status_code == 303

    with app.app_context():
        # Only the confirmation of the erasure (her cancellation) still holds her: it must go.
        [last] = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.registration_id == ase_id))
        assert last.kind == "cancellation" and last.recipient == PUNY
        assert {(hit.table, hit.key) for hit in scan(ASE)} == {("outbox_messages", (last.id,))}

        assert delivery.deliver_due().sent  # over SMTP, with her name and address
        [delivered] = [e for e in smtp_server.handler.messages[-2:] if e.rcpt_tos == [PUNY]]
        mail = message_from_bytes(delivered.original_content, policy=policy.default)
        assert NAME in str(mail["To"]) and mail.get_body(("plain",)).get_content()

    # The worker scrubs it once it has gone.
    worker.Scheduler(app, [job for job in worker.registered_jobs() if job.name == "erased-mail"]).run_due()

    with app.app_context():
        assert scan(ASE) == []
        assert places(scan(OTHER)) >= {("registrations", "name"), ("outbox_messages", "message")}
        # What is kept, without her: the registration for the statistics, every audit entry
        # (pseudonymised), the record of each mail (kind, status, when), the calendar replies'
        # outcomes, and what another participant wrote, with her name taken out.
        erased = db.session.get(Registration, ase_id)
        assert erased.name == privacy.ERASED_NAME and erased.status == RegistrationStatus.CANCELLED
        assert erased.organisation.name == "Bergen kommune" and erased.anonymised_at is not None
        pseudonym = f"[slettet person #{ase_id}]"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_count
        summaries = [shown(entry, "summary") for entry in db.session.scalars(sa.select(AuditEntry))]
        assert f"Meldte på {pseudonym}." in summaries
        assert any(pseudonym in summary and "«Husk legitimasjon»" in summary
                   for summary in summaries)  # the resend
        kept = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.registration_id == ase_id).order_by(OutboxMessage.id)).all()
        assert len(kept) == sent_before + 1  # the cancellation, now scrubbed too
        assert all(m.message == b"" and m.recipient == erased.email for m in kept)
        assert [m.kind for m in kept][-1] == "cancellation" and kept[-1].status == OutboxStatus.SENT
        other = db.session.scalar(sa.select(Registration).where(
            Registration.gathering_id == gathering_id, Registration.email_key == "deltaker2@example.no"))
        assert other.comment == f"Kommer sammen med {pseudonym}."
        outcomes = db.session.scalars(sa.select(CalendarReply.outcome).order_by(CalendarReply.id))
        assert list(outcomes) == [ReplyOutcome.APPLIED, ReplyOutcome.IGNORED, ReplyOutcome.IGNORED]


def test_the_organiser_pages_no_longer_show_the_erased_person(
        smtp_config, smtp_server, app, client, organiser_client, make_gathering):
    ase_id, gathering_id = everywhere(smtp_server, app, organiser_client, make_gathering)
    pages = ["/arrangor/e-postlogg", "/arrangor/revisjonslogg", f"/arrangor/pameldinger/{ase_id}",
             f"/arrangor/samlinger/{gathering_id}/pameldinger", "/arrangor/kalendersvar/"]
    for url in pages:
        assert NAME in organiser_client.get(url).text or PUNY in organiser_client.get(url).text
    with app.app_context():
        registration = db.session.get(Registration, ase_id)
        privacy.erase(registration, now=utcnow())
        db.session.commit()
        delivery.deliver_due()
    worker.Scheduler(app, [job for job in worker.registered_jobs() if job.name == "erased-mail"]).run_due()
    for url in pages:
        page = organiser_client.get(url)
        assert page.status_code == 200
        assert all(form.casefold() not in page.text.casefold()
                   for form in (NAME, ADDRESS, PUNY)), url


def test_after_the_gathering_erasure_sends_nothing_and_keeps_the_attendance(app, client,
                                                                           make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now - timedelta(days=20), starts_at=now - timedelta(days=3))
        registration = rsvp.register_on_behalf(
            gathering, RegistrationRequest(person=Person(NAME, ADDRESS), consent=True,
                                           organisation_name="Bergen kommune", sector=Sector.PUBLIC),
            now=now - timedelta(days=10), by=organisers.create(ORGANISER, ORGANISER_PASSWORD, now=now))
        registration.checked_in_at = gathering.starts_at
        db.session.commit()
        delivery.deliver_due()
        token, registration_id = registration.token, registration.id

    page = client.get(f"/pamelding/{token}/slett")
    assert "meldt av" not in page.text  # nothing to cancel any more
    assert client.post(f"/pamelding/{token}/slett", data={
        "csrf_token": csrf_token(page.text), "confirm": "y"}).status_code == 303
    with app.app_context():
        assert scan(ASE) == []  # at once: no last mail to wait for
        erased = db.session.get(Registration, registration_id)
        assert erased.status == RegistrationStatus.CONFIRMED and erased.checked_in_at is not None
        assert db.session.scalar(sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.PENDING)) == 0
