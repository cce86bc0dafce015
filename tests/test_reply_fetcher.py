"""The reply fetcher against a real Dovecot IMAP server on 127.0.0.1: replies in the shapes
Outlook, Gmail and Apple Calendar send are applied once and moved; other mail stays untouched."""

import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from klynge_rsvp import replies, reply_fetcher, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    CalendarReply,
    GatheringStatus,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    ReplyOutcome,
)
from klynge_rsvp.stored_text import shown
from klynge_rsvp.worker import Scheduler, registered_jobs
from tests.conftest import registration_request
from tests.imap_helpers import (
    AUTHSERV_ID,
    Dovecot,
    apple_reply,
    gmail_reply,
    outlook_reply,
    plain_mail,
)

DONE = "Klynge.Behandlet"  # REPLY_IMAP_DONE_FOLDER "Klynge/Behandlet" in Dovecot's maildir terms
FAIL = (f"{AUTHSERV_ID}; dkim=fail (signature did not verify) header.d=example.no; "
        "dmarc=fail (p=none) header.from=example.no")


@pytest.fixture(scope="session")
def dovecot():
    """A private Dovecot for the whole session (install: apt-get install dovecot-imapd)."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        pytest.skip("Dovecot is not installed: apt-get install -y dovecot-imapd")
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot):
    """A fresh, empty organiser mailbox for each test."""
    return dovecot.new_mailbox()


@pytest.fixture
def app_config(app_config, mailbox):
    app_config.update({
        "REPLY_IMAP_HOST": mailbox.host, "REPLY_IMAP_PORT": mailbox.port,
        "REPLY_IMAP_USER": mailbox.user, "REPLY_IMAP_PASSWORD": mailbox.password,
        "REPLY_IMAP_TLS": False, "REPLY_IMAP_TIMEOUT": 10.0,
        # The helpers' replies carry a passing header from this server (imap_helpers.PASS).
        "REPLY_AUTHSERV_ID": AUTHSERV_ID,
    })
    return app_config


@pytest.fixture
def gathering(ctx, make_gathering):
    """Two seats: deltaker1 and deltaker2 have them, deltaker3 waits; deltaker4 registered too."""
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=20), capacity=2)
    for n in (1, 2, 3):
        rsvp.register(gathering, registration_request(n), now=utcnow())
    db.session.commit()
    return gathering


def registration(gathering, n) -> Registration:
    db.session.expire_all()
    return db.session.scalar(sa.select(Registration).where(
        Registration.gathering_id == gathering.id,
        Registration.email_key == f"deltaker{n}@example.no"))


def reply_events(reg) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RegistrationEvent).where(
        RegistrationEvent.registration_id == reg.id, RegistrationEvent.kind == "calendar_reply"))


def outcomes() -> list[ReplyOutcome]:
    return list(db.session.scalars(sa.select(CalendarReply.outcome).order_by(CalendarReply.id)))


def test_outlook_gmail_and_apple_replies_are_applied_and_moved(gathering, mailbox, runner):
    question = plain_mail()
    mailbox.append(question)
    # A calendar message that is no reply (a colleague forwarding our invitation): not ours.
    forwarded_invite = outlook_reply(uid=gathering.ical_uid, address="deltaker2@example.no",
                                     method="REQUEST")
    assert replies.read_message(forwarded_invite) is None
    mailbox.append(forwarded_invite)
    mailbox.append(outlook_reply(uid=gathering.ical_uid, address="Deltaker1@Example.no"))
    mailbox.append(gmail_reply(uid=gathering.ical_uid, address="deltaker2@example.no",
                               partstat="TENTATIVE"))
    mailbox.append(apple_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                               partstat="DECLINED", message_id="<later@icloud.com>"))

    result = runner.invoke(args=["klynge", "fetch-replies"])
    assert result.exit_code == 0, result.output
    assert ("3 applied, 0 ignored, 0 held for an organiser, 0 handled before; "
            "2 other messages left untouched; 3 moved") in result.output

    kari, ola, third = (registration(gathering, n) for n in (1, 2, 3))
    assert (kari.status, kari.calendar_partstat) == (RegistrationStatus.CANCELLED, "DECLINED")
    assert (ola.status, ola.calendar_partstat) == (RegistrationStatus.CONFIRMED, "TENTATIVE")
    assert third.status == RegistrationStatus.CONFIRMED  # Kari's seat went to the waiting list
    assert reply_events(kari) == 2  # accepted, then declined
    assert [shown(e, "note") for e in kari.events if e.kind == "cancelled"] == [
        "avmeldt via kalendersvar"]

    # The other mail is exactly as it was: still there, still unread, not flagged.
    left = mailbox.messages("INBOX")
    assert [raw for _, raw in left] == [question, forwarded_invite]
    for flags, _ in left:
        assert not flags & {"\\Seen", "\\Deleted", "\\Flagged", "\\Answered"}, flags
    assert len(mailbox.messages(DONE)) == 3

    # A second pass finds nothing new.
    result = runner.invoke(args=["klynge", "fetch-replies"])
    assert "0 applied, 0 ignored, 0 held for an organiser, 0 handled before; 2 other" in result.output


def test_forged_stale_unknown_and_cancelled_are_logged_and_moved(gathering, mailbox, make_gathering):
    cancelled = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=9))
    rsvp.register(cancelled, registration_request(1), now=utcnow())
    cancelled.status = GatheringStatus.CANCELLED
    db.session.commit()

    uid = gathering.ical_uid
    mailbox.append(outlook_reply(uid=uid, address="deltaker1@example.no", partstat="DECLINED",
                                 sender="deltaker2@example.no"))  # From is not the ATTENDEE
    mailbox.append(gmail_reply(uid=uid, address="deltaker2@example.no", partstat="DECLINED",
                               auth=[FAIL]))  # DKIM failed at our server
    mailbox.append(apple_reply(uid=uid, address="deltaker1@example.no", sequence=None,
                               partstat="DECLINED"))  # fine, but…
    mailbox.append(outlook_reply(uid="ffff-unknown@rsvp.test", address="deltaker1@example.no"))
    mailbox.append(outlook_reply(uid=cancelled.ical_uid, address="deltaker1@example.no",
                                 partstat="DECLINED"))
    # A Decline "from" Kari that our server never authenticated (no header, or only a pass
    # the sender wrote under another server's name): anyone could have sent these.
    mailbox.append(gmail_reply(uid=uid, address="deltaker1@example.no", partstat="DECLINED",
                               sequence=9, auth=[]))
    mailbox.append(gmail_reply(uid=uid, address="deltaker1@example.no", partstat="DECLINED",
                               sequence=9, message_id="<forged-2@example.no>",
                               auth=["mx.example.no; dkim=pass header.d=example.no; dmarc=pass"]))

    # …Kari's reply without SEQUENCE (0) is stale once she has a newer invitation.
    registration(gathering, 1).ical_sequence_bump = 2
    db.session.commit()

    report = reply_fetcher.fetch_replies()
    assert (report.applied, report.ignored, report.held, report.moved) == (0, 4, 3, 7)
    assert outcomes() == [ReplyOutcome.IGNORED, ReplyOutcome.HELD, ReplyOutcome.IGNORED,
                          ReplyOutcome.IGNORED, ReplyOutcome.IGNORED, ReplyOutcome.HELD,
                          ReplyOutcome.HELD]
    reasons = [shown(reply, "reason") for reply in
               db.session.scalars(sa.select(CalendarReply).order_by(CalendarReply.id))]
    assert "ikke deltakeren" in reasons[0]
    assert "dkim=fail" in reasons[1]
    assert "eldre invitasjon (SEQUENCE 0, gjeldende er 2)" in reasons[2]
    assert "Ukjent kalenderoppføring" in reasons[3]
    assert "er avlyst" in reasons[4]
    assert "ingen Authentication-Results-header fra den" in reasons[5]
    assert "ingen Authentication-Results-header fra den" in reasons[6]
    held = db.session.scalar(sa.select(CalendarReply).where(CalendarReply.outcome == ReplyOutcome.HELD)
                             .order_by(CalendarReply.id).limit(1))
    assert held.raw is not None and b"Authentication-Results: " + FAIL.encode() in held.raw
    for n in (1, 2, 3):
        reg = registration(gathering, n)
        assert reg.calendar_partstat is None
        assert reg.status == (RegistrationStatus.WAITING if n == 3 else RegistrationStatus.CONFIRMED)
    assert mailbox.messages("INBOX") == []
    assert len(mailbox.messages(DONE)) == 7


def test_the_same_message_twice_is_applied_once(gathering, mailbox):
    raw = outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no", partstat="DECLINED")
    mailbox.append(raw)
    mailbox.append(raw)
    report = reply_fetcher.fetch_replies()
    assert (report.applied, report.duplicates, report.moved) == (1, 1, 2)
    assert reply_events(registration(gathering, 1)) == 1
    assert outcomes() == [ReplyOutcome.APPLIED]
    assert len(mailbox.messages(DONE)) == 2


def test_a_reply_whose_move_failed_is_moved_later_not_applied_again(gathering, mailbox, monkeypatch):
    mailbox.append(gmail_reply(uid=gathering.ical_uid, address="deltaker2@example.no",
                               partstat="DECLINED"))
    monkeypatch.setattr(reply_fetcher.ReplyMailbox, "move", lambda self, uid: False)
    report = reply_fetcher.fetch_replies()
    assert (report.applied, report.moved, report.not_moved) == (1, 0, 1)
    assert len(mailbox.messages("INBOX")) == 1
    monkeypatch.undo()

    # The next fetcher's check comes too late (another one committed in between): the unique
    # fingerprint stops it, and it only moves the message.
    monkeypatch.setattr(replies, "_already_recorded", lambda fingerprint: False)
    report = reply_fetcher.fetch_replies()
    assert (report.applied, report.duplicates, report.moved, report.failed) == (0, 1, 1, 0)
    assert reply_events(registration(gathering, 2)) == 1
    assert registration(gathering, 3).status == RegistrationStatus.CONFIRMED
    assert mailbox.messages("INBOX") == []


def test_without_move_it_copies_and_expunges_only_its_own_message(gathering, mailbox, monkeypatch):
    someone_elses = plain_mail("Slett meg")
    mailbox.append(someone_elses)
    connection = mailbox.connect()
    connection.select("INBOX")
    connection.uid("STORE", "1", "+FLAGS", r"(\Deleted)")  # a person deleted it, not expunged
    connection.logout()
    mailbox.append(apple_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                               partstat="ACCEPTED"))
    real = reply_fetcher.capabilities
    monkeypatch.setattr(reply_fetcher, "capabilities", lambda c: real(c) - {"MOVE"})

    report = reply_fetcher.fetch_replies()
    assert (report.applied, report.moved) == (1, 1)
    [(flags, raw)] = mailbox.messages("INBOX")
    assert raw == someone_elses and "\\Deleted" in flags
    assert len(mailbox.messages(DONE)) == 1
    assert registration(gathering, 1).calendar_partstat == "ACCEPTED"


def test_two_fetchers_at_once_apply_each_reply_once(app, ctx, make_gathering, mailbox):
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=20), capacity=4)
    for n in range(1, 9):
        rsvp.register(gathering, registration_request(n), now=utcnow())
    db.session.commit()
    builders = [outlook_reply, gmail_reply, apple_reply]
    appended = []
    for n in range(1, 9):
        partstat = "DECLINED" if n % 2 else "ACCEPTED"
        raw = builders[n % 3](uid=gathering.ical_uid, address=f"deltaker{n}@example.no",
                              partstat=partstat)
        appended.append(raw)
        mailbox.append(raw)
        if n % 4 == 0:
            mailbox.append(raw)  # and a few delivered twice
    db.session.rollback()  # reading gathering.ical_uid began a transaction: end it

    start = threading.Barrier(2)
    reports, errors = [], []

    def fetch():
        try:
            with app.app_context():
                start.wait(timeout=10)
                reports.append(reply_fetcher.fetch_replies())
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=40)
    assert errors == []
    assert sum(r.applied for r in reports) == 8
    assert sum(r.failed for r in reports) == 0
    assert len(outcomes()) == 8
    for n in range(1, 9):
        reg = registration(gathering, n)
        assert reply_events(reg) == 1, n
        # Declines free seats; whoever waited and accepted has one by the end.
        expected = RegistrationStatus.CANCELLED if n % 2 else RegistrationStatus.CONFIRMED
        assert reg.status == expected, n
    assert mailbox.messages("INBOX") == []
    # Every message was filed. Two MOVEs of one message at the same instant may both copy it
    # (Dovecot's MOVE is copy + expunge): a harmless second copy in the done folder.
    done = [raw for _, raw in mailbox.messages(DONE)]
    assert len(done) >= 10 and set(done) == set(appended)


def test_worker_fetches_replies_on_its_interval(app, gathering, mailbox):
    assert "calendar-replies" in [job.name for job in registered_jobs()]
    uid = gathering.ical_uid

    def partstat():
        # The scheduler works in its own app context: end this one's (SQLite) transaction.
        value = registration(gathering, 2).calendar_partstat
        db.session.rollback()
        return value

    db.session.rollback()
    mailbox.append(outlook_reply(uid=uid, address="deltaker2@example.no", partstat="TENTATIVE"))
    scheduler = Scheduler(app, [job for job in registered_jobs() if job.name == "calendar-replies"])
    scheduler.run_due()
    assert partstat() == "TENTATIVE"

    mailbox.append(outlook_reply(uid=uid, address="deltaker2@example.no", partstat="ACCEPTED"))
    scheduler.run_due()  # REPLY_FETCH_SECONDS (120) have not passed
    assert partstat() == "TENTATIVE"
    scheduler.jobs[0].last_run -= 121
    scheduler.run_due()
    assert partstat() == "ACCEPTED"


def test_not_configured_means_no_job_and_a_clear_cli_message(app, runner):
    app.config["REPLY_IMAP_HOST"] = ""
    [job] = [job for job in registered_jobs() if job.name == "calendar-replies"]
    assert job.enabled(app) is False
    result = runner.invoke(args=["klynge", "fetch-replies"])
    assert result.exit_code == 1
    assert "REPLY_IMAP_HOST is not set" in result.output


def test_wrong_password_is_reported_by_the_cli(app, runner):
    app.config["REPLY_IMAP_PASSWORD"] = "wrong"
    result = runner.invoke(args=["klynge", "fetch-replies"])
    assert result.exit_code == 1
    assert "Could not read the reply mailbox" in result.output
