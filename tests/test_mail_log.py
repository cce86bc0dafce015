"""The mail log: every message with its status, filtered and paged; resending a failed one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery, outbox
from klynge_rsvp.models import AuditEntry, OutboxMessage, OutboxStatus
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, RecordingHandler, registration_request
from tests.overview_helpers import token
from tests.pages import text


def queue(n: int, *, status=OutboxStatus.PENDING, attempts=0, error="") -> OutboxMessage:
    mail = outbox.ComposedMail(kind="confirmation", recipient=f"person{n}@example.no",
                               subject=f"Melding {n}", message=b"Subject: x\r\n\r\nx")
    row = outbox.enqueue(mail, key=f"test:{n}", now=NOW + timedelta(minutes=n))
    row.status, row.attempts, row.last_error = status, attempts, error
    return row


def test_requeue_gives_a_failed_message_another_try_and_keeps_its_attempts(ctx):
    message = queue(1, status=OutboxStatus.FAILED, attempts=12, error="550 5.1.1 no such user")
    later = NOW + timedelta(days=1)
    outbox.requeue(message, now=later)
    assert message.status == OutboxStatus.PENDING
    assert message.next_attempt_at == later
    assert message.attempts == 12
    assert message.claimed_until is None


@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.SENT])
def test_only_failed_messages_are_requeued(ctx, status):
    message = queue(1, status=status)
    with pytest.raises(DomainError):
        outbox.requeue(message, now=NOW)
    assert message.status == status


def test_the_log_shows_each_message_and_filters_by_status(app, organiser_client):
    with app.app_context():
        queue(1)
        queue(2, status=OutboxStatus.SENT, attempts=1)
        queue(3, status=OutboxStatus.FAILED, attempts=3, error="554 5.7.1 <b>refused</b>")
        db.session.commit()

    page = organiser_client.get("/arrangor/e-postlogg")
    assert page.status_code == 200
    words = text(page.text)
    for n in (1, 2, 3):
        assert f"person{n}@example.no" in words and f"Melding {n}" in words
    assert "Bekreftelse" in words  # the kind, in words
    assert "554 5.7.1 &lt;b&gt;refused&lt;/b&gt;" in page.text  # escaped

    failed = text(organiser_client.get("/arrangor/e-postlogg?status=failed").text)
    assert "person3@example.no" in failed
    assert "person1@example.no" not in failed and "person2@example.no" not in failed
    assert "Send på nytt" in failed
    sent = organiser_client.get("/arrangor/e-postlogg?status=sent").text
    assert "person2@example.no" in sent and "Send på nytt" not in sent
    assert organiser_client.get("/arrangor/e-postlogg?status=tull").status_code == 404


def test_the_log_is_paged(app, organiser_client):
    with app.app_context():
        for n in range(1, 53):
            queue(n)
        db.session.commit()
    first = text(organiser_client.get("/arrangor/e-postlogg").text)
    assert "Viser 1–50 av 52" in first and "Neste side" in first
    assert "person52@example.no" in first and "person2@example.no" not in first
    second = text(organiser_client.get("/arrangor/e-postlogg?side=2").text)
    assert "Viser 51–52 av 52" in second and "Forrige side" in second
    assert "person1@example.no" in second and "person2@example.no" in second


@pytest.fixture
def smtp_app(smtp_config, app):
    return app


def test_resend_a_failed_message_through_a_real_smtp_server(smtp_app, organiser_client,
                                                            smtp_server, make_gathering):
    app = smtp_app
    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        smtp_server.handler.reply = "550 5.1.1 mailbox unavailable"
        gathering_id = gathering.id
        report = delivery.deliver_due()
        assert len(report.failed) == 1
        message_id = report.failed[0]

    dashboard = text(organiser_client.get("/arrangor/").text)
    assert "1 e-post kunne ikke sendes." in dashboard
    page = organiser_client.get("/arrangor/e-postlogg?status=failed")
    assert "550" in page.text and "mailbox unavailable" in page.text

    smtp_server.handler.reply = None  # the address was fixed, the server takes it now
    response = organiser_client.post(f"/arrangor/e-postlogg/{message_id}/send-igjen",
                                     data={"csrf_token": token(page.text),
                                           "next": "/arrangor/e-postlogg?status=failed"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/arrangor/e-postlogg?status=failed"
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        report = delivery.deliver_due()
        assert report.sent == [message_id]
        [envelope] = smtp_server.handler.messages
        assert envelope.rcpt_tos == ["deltaker1@example.no"]
        [entry] = db.session.scalars(sa.select(AuditEntry)).all()
        assert entry.action == "resend" and entry.gathering_id == gathering_id
        assert entry.actor == "arrangor@bergen.kommune.no"
        assert "deltaker1@example.no" in shown(entry, "summary")
    assert "Ingen feil." in organiser_client.get("/arrangor/").text

    # Resending a message that is not failed is refused politely.
    again = organiser_client.post(f"/arrangor/e-postlogg/{message_id}/send-igjen",
                                  data={"csrf_token": token(page.text)}, follow_redirects=True)
    assert "Bare e-post som ikke kunne sendes" in again.text


def test_resend_needs_csrf_and_an_existing_message(organiser_client):
    assert organiser_client.post("/arrangor/e-postlogg/1/send-igjen").status_code == 400
    page = organiser_client.get("/arrangor/e-postlogg")
    response = organiser_client.post("/arrangor/e-postlogg/999/send-igjen",
                                     data={"csrf_token": token(page.text)})
    assert response.status_code == 404


def fail(message: OutboxMessage, error: str, kind: str, code: int | None) -> None:
    outbox.mark_failed(message, error, kind=kind, code=code)


SAID = {  # what each language says about the rows made in the test below
    "nb": ["Mottakeradressen finnes ikke", "Mottakerens postkasse er full",
           "Avvist som søppelpost eller av mottakerens regler",
           "E-posttjeneren ba oss prøve igjen senere",
           "Ga opp etter 12 forsøk: Fikk ikke kontakt med e-posttjeneren",
           "Adressen har tegn før @ som e-posttjeneren ikke kan levere til (krever SMTPUTF8)",
           "Hva gikk galt"],
    "nn": ["Mottakaradressa finst ikkje", "Postkassa til mottakaren er full",
           "Avvist som søppelpost eller av reglane til mottakaren",
           "E-posttenaren bad oss prøve igjen seinare",
           "Gav opp etter 12 forsøk: Fekk ikkje kontakt med e-posttenaren",
           "Adressa har teikn før @ som e-posttenaren ikkje kan levere til (krev SMTPUTF8)",
           "Kva gjekk gale"],
    "en": ["The recipient’s address does not exist", "The recipient’s mailbox is full",
           "Refused as spam or by the recipient’s rules",
           "The email server asked us to try again later",
           "Gave up after 12 attempts: Could not reach the email server",
           "The address has characters before the @ that the email server cannot deliver to "
           "(needs SMTPUTF8)",
           "What went wrong"],
}


def test_the_log_says_what_went_wrong_in_plain_words_beside_the_servers(app, organiser_client):
    with app.app_context():
        fail(queue(1), "550 5.1.1 <person1@example.no>: Recipient address rejected: User unknown",
             "no_such_recipient", 550)
        fail(queue(2), "552 5.2.2 Mailbox full", "mailbox_full", 552)
        fail(queue(3), "554 5.7.1 Message rejected as spam", "policy", 554)
        outbox.mark_retry(queue(4), "451 4.3.0 Try again later", kind="try_later", code=451,
                          now=NOW)
        outbox.mark_retry(queue(5, attempts=11), "Connection refused", kind="unreachable", now=NOW)
        fail(queue(6), "øyvind@example.org: the mail server does not offer SMTPUTF8",
             "utf8_address", None)
        # A row failed by the sender before outcomes were stored: only Python's words for it.
        queue(7, status=OutboxStatus.FAILED, attempts=1, error=(
            "SMTPRecipientsRefused: {'person7@example.no': (550, b'5.1.1 <person7@example.no>: "
            "Recipient address rejected: User unknown')}"))
        db.session.commit()
        assert db.session.get(OutboxMessage, 5).status == OutboxStatus.FAILED  # 12 attempts

    for language, phrases in SAID.items():
        words = text(organiser_client.get("/arrangor/e-postlogg",
                                          headers={"Accept-Language": language}).text)
        for phrase in phrases:
            assert phrase in words, (language, phrase)
        for detail in ("550 5.1.1 <person1@example.no>: Recipient address rejected: User unknown",
                       "552 5.2.2 Mailbox full", "554 5.7.1 Message rejected as spam",
                       "451 4.3.0 Try again later", "Connection refused",
                       "550 5.1.1 <person7@example.no>: Recipient address rejected: User unknown"):
            assert detail in words, (language, detail)
        # The old row in plain words too: never Python's repr of an error.
        assert words.count(SAID[language][0]) == 2
        assert "SMTPRecipientsRefused" not in words and "b'" not in words


def test_a_registrations_page_says_what_became_of_its_mail(smtp_app, organiser_client,
                                                           smtp_server, make_gathering):
    app = smtp_app

    @dataclass
    class UnknownUser(RecordingHandler):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 <deltaker1@example.no>: Recipient address rejected: User unknown"

    smtp_server.handler = UnknownUser()
    with app.app_context():
        [outcome] = rsvp.register(make_gathering(), registration_request(1), now=NOW)
        db.session.commit()
        registration_id = outcome.registration.id
        assert len(delivery.deliver_due().failed) == 1

    for language in ("nb", "nn", "en"):
        page = organiser_client.get(f"/arrangor/pameldinger/{registration_id}",
                                    headers={"Accept-Language": language})
        words = text(page.text)
        assert SAID[language][0] in words
        assert "550 5.1.1 <deltaker1@example.no>: Recipient address rejected: User unknown" in words
        assert "SMTPRecipientsRefused" not in words
