"""Delivery (mail/delivery.py): the outbox through a real SMTP server (aiosmtpd on 127.0.0.1).

Nothing here mocks smtplib: every failure is a real server misbehaving (refusing the connection,
answering 4xx/5xx, dropping the line, or saying nothing at all).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import make_msgid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from klynge_rsvp import figures, rsvp, worker
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery, outbox, wakeup
from klynge_rsvp.models import OutboxMessage, OutboxStatus, Registration, RegistrationStatus
from tests.conftest import NOW, EphemeralController, RecordingHandler, registration_request

SENDER_ADDRESS = "klynge@rsvp.test"


# --- helpers -----------------------------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rows() -> list[SimpleNamespace]:
    """Every outbox row as it is in the database now, oldest first (plain snapshots)."""
    db.session.commit()  # see what other transactions committed
    columns = [attribute.key for attribute in sa.inspect(OutboxMessage).column_attrs]
    found = [SimpleNamespace(**{name: getattr(message, name) for name in columns})
             for message in db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))]
    # End the read: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE).
    db.session.commit()
    return found


def row(message_id: int) -> SimpleNamespace:
    [found] = [r for r in rows() if r.id == message_id]
    return found


def make_due(*message_ids: int) -> None:
    """Pretend the backoff has passed: the rows are due now (claim_due uses the real clock)."""
    query = sa.update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    if message_ids:
        query = query.where(OutboxMessage.id.in_(message_ids))
    db.session.execute(query)
    db.session.commit()


def register(gathering, *numbers: int) -> list[Registration]:
    """Register person n (each in their own request) and commit."""
    registrations = []
    for n in numbers:
        [outcome] = rsvp.register(gathering, registration_request(n), now=NOW)
        registrations.append(outcome.registration)
    db.session.commit()
    return registrations


def address(n: int) -> str:
    return f"deltaker{n}@example.no"


def received_recipients(handler) -> list[str]:
    with handler.lock:
        return [rcpt for envelope in handler.messages for rcpt in envelope.rcpt_tos]


def wait_for(condition, *, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def mail_ctx(smtp_config, app, smtp_server):
    """An app context of an app pointed at the live test SMTP server."""
    with app.app_context():
        yield smtp_server
        db.session.rollback()


@pytest.fixture
def one_connection(app_config):
    """The sender uses one SMTP connection (ask for it before `app`): for tests of what
    happens, in order, on one connection."""
    app_config["OUTBOX_SMTP_CONNECTIONS"] = 1


@pytest.fixture
def refusing_config(smtp_config):
    """Like smtp_config, but MAIL_PORT is a closed port (the SMTP server is down)."""
    smtp_config["MAIL_PORT"] = closed_port()
    return smtp_config


# --- 1. the happy path -------------------------------------------------------------------------


def test_confirmation_is_delivered_once(mail_ctx, make_gathering):
    gathering = make_gathering()
    [registration] = register(gathering, 1)
    before = utcnow()

    report = delivery.deliver_due()

    [message] = rows()
    assert report.claimed == 1
    assert report.sent == [message.id]
    assert message.registration_id == registration.id
    assert message.kind == "confirmation"
    assert message.status == OutboxStatus.SENT
    assert message.transport == "smtp"
    assert message.attempts == 1
    assert message.sent_at is not None and before <= message.sent_at <= utcnow()
    assert message.claimed_until is None
    assert (message.last_error, message.error_kind, message.smtp_code) == ("", "", None)
    [envelope] = mail_ctx.handler.messages
    assert envelope.rcpt_tos == [address(1)]
    assert envelope.mail_from == SENDER_ADDRESS

    again = delivery.deliver_due()
    assert again.claimed == 0
    assert len(mail_ctx.handler.messages) == 1


# --- 2. the SMTP server is down when someone registers -----------------------------------------


def test_registration_stands_when_smtp_is_down_and_mail_follows(
    refusing_config, app, smtp_server, make_gathering
):
    with app.app_context():
        gathering = make_gathering()
        [registration] = register(gathering, 1)
        start = utcnow()

        report = delivery.deliver_due()

        assert report.claimed == 1 and report.sent == [] and len(report.retrying) == 1
        [message] = rows()
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == 1
        assert (message.error_kind, message.smtp_code, message.last_error) == (
            "unreachable", None, "Connection refused")
        assert message.next_attempt_at > start
        assert message.claimed_until is None
        # The registration was committed before any delivery was tried, and stands: read it
        # on a connection of its own.
        registration_id = registration.id
        db.session.commit()
        with db.engine.connect() as connection:
            status = connection.scalar(
                sa.select(Registration.status).where(Registration.id == registration_id)
            )
        assert status == RegistrationStatus.CONFIRMED.value
        # Not due yet: the next pass leaves it alone.
        assert delivery.deliver_due().claimed == 0

        app.config["MAIL_PORT"] = smtp_server.port  # the server is back
        make_due()
        report = delivery.deliver_due()

        assert report.sent == [message.id]
        message = row(message.id)
        assert message.status == OutboxStatus.SENT
        assert message.attempts == 2
        assert (message.last_error, message.error_kind, message.smtp_code) == ("", "", None)
        assert received_recipients(smtp_server.handler) == [address(1)]
        make_due()
        assert delivery.deliver_due().claimed == 0
        assert len(smtp_server.handler.messages) == 1


# --- 3. a temporary (4xx) refusal --------------------------------------------------------------


def test_4xx_on_data_is_retried_with_growing_backoff(mail_ctx, app, make_gathering):
    base = app.config["OUTBOX_RETRY_BASE_SECONDS"]
    assert base > 0
    register(make_gathering(), 1)
    mail_ctx.handler.reply = "451 4.3.0 try later"

    delays = []
    for attempt in (1, 2):
        before = utcnow()
        report = delivery.deliver_due()
        after = utcnow()
        [message] = rows()
        assert report.retrying == [message.id]
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == attempt
        assert (message.error_kind, message.smtp_code, message.last_error) == (
            "try_later", 451, "451 4.3.0 try later")
        # The delay was measured from a moment between `before` and `after`.
        assert before + timedelta(seconds=base * 2 ** (attempt - 1)) <= message.next_attempt_at
        assert message.next_attempt_at <= after + timedelta(seconds=base * 2 ** (attempt - 1))
        delays.append(message.next_attempt_at - after)
        assert delivery.deliver_due().claimed == 0  # not due again before the backoff
        make_due()
    assert delays[1] > delays[0]
    assert mail_ctx.handler.messages == []

    mail_ctx.handler.reply = None
    report = delivery.deliver_due()

    [message] = rows()
    assert report.sent == [message.id]
    assert message.status == OutboxStatus.SENT
    assert message.attempts == 3
    assert received_recipients(mail_ctx.handler) == [address(1)]
    make_due()
    assert delivery.deliver_due().claimed == 0


# --- 4. a permanent (5xx) refusal on DATA -----------------------------------------------------


def test_5xx_on_data_fails_permanently(mail_ctx, make_gathering):
    register(make_gathering(), 1)
    mail_ctx.handler.reply = "554 5.6.0 rejected"

    report = delivery.deliver_due()

    [message] = rows()
    assert report.failed == [message.id]
    assert message.status == OutboxStatus.FAILED
    assert message.attempts == 1
    assert (message.error_kind, message.smtp_code, message.last_error) == (
        "refused", 554, "554 5.6.0 rejected")
    assert message.claimed_until is None

    mail_ctx.handler.reply = None
    make_due()
    assert delivery.deliver_due().claimed == 0
    assert row(message.id).status == OutboxStatus.FAILED
    assert mail_ctx.handler.messages == []


# --- 5. a permanent (5xx) refusal on RCPT, for one address of a batch -------------------------


@dataclass
class RefusingRecipientHandler(RecordingHandler):
    refused: str = address(2)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky_server():
    controller = EphemeralController(RefusingRecipientHandler(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def picky_config(app_config, picky_server):
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": picky_server.port})
    return app_config


def test_5xx_on_rcpt_fails_that_message_only(picky_config, app, picky_server, make_gathering):
    with app.app_context():
        register(make_gathering(), 1, 2, 3)

        report = delivery.deliver_due()

        by_recipient = {message.recipient: message for message in rows()}
        refused = by_recipient[address(2)]
        assert report.claimed == 3
        assert report.failed == [refused.id]
        assert refused.status == OutboxStatus.FAILED
        assert refused.attempts == 1
        assert (refused.error_kind, refused.smtp_code, refused.last_error) == (
            "no_such_recipient", 550, "550 5.1.1 no such user")
        for n in (1, 3):
            assert by_recipient[address(n)].status == OutboxStatus.SENT
            assert by_recipient[address(n)].attempts == 1
        assert received_recipients(picky_server.handler) == [address(1), address(3)]
        make_due()
        assert delivery.deliver_due().claimed == 0


@dataclass
class RefusingSenderHandler(RecordingHandler):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        return "550 5.7.1 sender not allowed"


@pytest.fixture
def sender_refusing_server():
    controller = EphemeralController(RefusingSenderHandler(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def sender_refusing_config(app_config, sender_refusing_server):
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sender_refusing_server.port})
    return app_config


def test_refused_sender_address_fails_no_message(sender_refusing_config, app, make_gathering):
    # Our own MAIL FROM refused is a set-up problem: no message is failed for it, the first on
    # each connection is retried later, and every connection stops: the rest are given back.
    with app.app_context():
        register(make_gathering(), 1, 2, 3, 4, 5)
        report = delivery.deliver_due()
        assert report.failed == [] and report.sent == []
        assert 1 <= len(report.retrying) <= app.config["OUTBOX_SMTP_CONNECTIONS"] == 2
        assert sorted(report.retrying + report.released) == [r.id for r in rows()]
        assert {r.status for r in rows()} == {OutboxStatus.PENDING}
        tried = row(report.retrying[0])
        assert (tried.error_kind, tried.smtp_code, tried.last_error) == (
            "sender_refused", 550, "550 5.7.1 sender not allowed")


# --- 6. the connection drops in the middle of a message ----------------------------------------


@dataclass
class DroppingHandler(RecordingHandler):
    """Drops the first `drops` messages at DATA: by closing the line, or with a 421 reply."""

    drops: int = 1
    how: str = "close"
    dropped: int = 0

    async def handle_DATA(self, server, session, envelope):
        if self.dropped < self.drops:
            self.dropped += 1
            if self.how == "close":
                server.transport.close()
                return "250 never heard"  # the line is gone: the client never reads this
            return "421 4.3.2 closing connection"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("how", ["close", "421"])
def test_dropped_connection_retries_the_message_and_releases_the_rest(
    one_connection, mail_ctx, make_gathering, how
):
    handler = DroppingHandler(how=how)
    mail_ctx.handler = handler  # used for every new connection
    register(make_gathering(), 1, 2, 3)

    report = delivery.deliver_due()

    first, second, third = rows()
    assert report.claimed == 3
    assert report.retrying == [first.id]
    assert report.released == [second.id, third.id]
    assert report.sent == [] and report.failed == []
    assert first.status == OutboxStatus.PENDING
    assert first.attempts == 1
    assert first.last_error
    assert first.next_attempt_at > utcnow()
    for untried in (second, third):  # given back unharmed, not counted as attempts
        assert untried.status == OutboxStatus.PENDING
        assert untried.attempts == 0
        assert untried.claimed_until is None
        assert untried.last_error == ""
    assert handler.messages == []

    report = delivery.deliver_due()  # the others are due at once; the first waits its backoff
    assert report.sent == [second.id, third.id]
    make_due(first.id)
    report = delivery.deliver_due()
    assert report.sent == [first.id]

    assert sorted(received_recipients(handler)) == [address(1), address(2), address(3)]
    assert [message.status for message in rows()] == [OutboxStatus.SENT] * 3
    assert [message.attempts for message in rows()] == [2, 1, 1]
    make_due()
    assert delivery.deliver_due().claimed == 0
    assert len(handler.messages) == 3


# --- 7. a server that accepts the connection and then says nothing -----------------------------


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never says a word."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="silent-smtp", daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def silent_config(app_config, silent_server):
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": silent_server.port,
                       "SMTP_TIMEOUT": 0.5})
    return app_config


def test_silent_server_times_out_and_rows_wait_for_retry(
    silent_config, app, silent_server, make_gathering
):
    with app.app_context():
        register(make_gathering(), 1, 2)

    # Deliver in a thread of its own, so that a hang fails this test instead of blocking it.
    reports = []

    def deliver():
        with app.app_context():
            reports.append(delivery.deliver_due())

    worker = threading.Thread(target=deliver, name="deliver-to-silent-server", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "deliver_due hung on a silent server"
    assert time.monotonic() - started < 3
    assert silent_server.accepted  # it really connected, and then waited for a greeting

    [report] = reports
    assert report.claimed == 2 and len(report.retrying) == 2
    with app.app_context():
        for message in rows():
            assert message.status == OutboxStatus.PENDING
            assert message.attempts == 1
            assert message.claimed_until is None
            assert message.next_attempt_at > utcnow()
            assert (message.error_kind, message.last_error) == ("timeout", "timed out")


# --- 8. giving up after OUTBOX_MAX_ATTEMPTS ----------------------------------------------------


@pytest.fixture
def max_attempts_config(app_config):
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": closed_port(),
                       "OUTBOX_MAX_ATTEMPTS": 3, "OUTBOX_RETRY_BASE_SECONDS": 0})
    return app_config


def test_fails_after_max_attempts_with_a_refusing_server(max_attempts_config, app,
                                                         make_gathering):
    with app.app_context():
        register(make_gathering(), 1)
        statuses = []
        for _ in range(3):
            report = delivery.deliver_due()  # a zero backoff: due again at once
            assert report.claimed == 1
            [message] = rows()
            statuses.append((message.status, message.attempts))
        assert statuses == [(OutboxStatus.PENDING, 1), (OutboxStatus.PENDING, 2),
                            (OutboxStatus.FAILED, 3)]
        assert (message.error_kind, message.last_error) == ("unreachable", "Connection refused")
        make_due()
        assert delivery.deliver_due().claimed == 0


# --- 9. leases ---------------------------------------------------------------------------------


def test_expired_claim_is_taken_over_and_live_claim_is_left_alone(mail_ctx, make_gathering):
    register(make_gathering(), 1, 2)
    dead, live = rows()
    live_until = utcnow() + timedelta(minutes=4)
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == dead.id)
                       .values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == live.id)
                       .values(claimed_until=live_until))
    db.session.commit()

    report = delivery.deliver_due()

    assert report.claimed == 1
    assert report.sent == [dead.id]
    assert row(dead.id).status == OutboxStatus.SENT
    untouched = row(live.id)
    assert untouched.status == OutboxStatus.PENDING
    assert untouched.attempts == 0
    assert untouched.claimed_until == live_until
    assert received_recipients(mail_ctx.handler) == [address(1)]


@pytest.fixture
def short_lease_config(smtp_config):
    # A whole message may take 4 socket timeouts (2 s): more than what is left of a 2 s claim
    # once one message has gone, whatever the speed of the machine.
    smtp_config.update({"OUTBOX_LEASE_SECONDS": 2, "SMTP_TIMEOUT": 0.5})
    return smtp_config


def test_sender_stops_before_its_claim_runs_out(one_connection, short_lease_config, app,
                                                smtp_server, make_gathering):
    with app.app_context():
        register(make_gathering(), 1, 2, 3)
        first, second, third = rows()

        report = delivery.deliver_due()

        assert report.claimed == 3
        assert report.sent == [first.id]
        assert report.released == [second.id, third.id]
        for untried in rows()[1:]:
            assert (untried.status, untried.attempts, untried.claimed_until) == (
                OutboxStatus.PENDING, 0, None)
        assert delivery.deliver_due().sent == [second.id]
        assert delivery.deliver_due().sent == [third.id]
        assert delivery.deliver_due().claimed == 0
        assert received_recipients(smtp_server.handler) == [address(1), address(2), address(3)]


# --- 10. a rolled-back registration sends nothing ----------------------------------------------


def test_rolled_back_registration_queues_nothing(mail_ctx, make_gathering):
    gathering = make_gathering()
    db.session.commit()
    wakeup.mail_queued.clear()

    rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.rollback()

    assert rows() == []
    assert delivery.deliver_due().claimed == 0
    assert mail_ctx.handler.messages == []
    # Nor did it leave a flag behind for the next commit (those above) to wake the sender with.
    assert not wakeup.mail_queued.is_set()

    # The same registration committed does wake the sender and goes out.
    rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.commit()
    assert wakeup.mail_queued.is_set()
    assert delivery.deliver_due().claimed == 1
    assert received_recipients(mail_ctx.handler) == [address(1)]


# --- 11. the in-process sender thread ----------------------------------------------------------


@pytest.fixture
def slow_poll_config(smtp_config):
    smtp_config["OUTBOX_POLL_SECONDS"] = 30
    return smtp_config


def test_sender_thread_delivers_new_mail_without_waiting_for_the_poll(
    slow_poll_config, app, smtp_server, make_gathering
):
    handler = smtp_server.handler
    before = set(threading.enumerate())
    with app.app_context():
        gathering = make_gathering()
        register(gathering, 1)
        stop = worker.start_thread(app)
        [thread] = [t for t in set(threading.enumerate()) - before if t.name == "outbox-sender"]
        try:
            # Its first pass delivers what was queued; then it sleeps on a 30 s poll.
            assert wait_for(lambda: len(handler.messages) == 1, timeout=5)
            started = time.monotonic()
            register(gathering, 2)  # the commit wakes the thread
            assert wait_for(lambda: len(handler.messages) == 2, timeout=5)
            assert time.monotonic() - started < 5
            assert received_recipients(handler) == [address(1), address(2)]
        finally:
            stop.set()
            wakeup.mail_queued.set()
            thread.join(timeout=10)
        assert not thread.is_alive()
        assert [message.status for message in rows()] == [OutboxStatus.SENT] * 2


def test_sender_thread_sends_a_held_back_message_without_waiting_for_the_poll(
    slow_poll_config, app, smtp_server, make_gathering
):
    handler = smtp_server.handler
    before = set(threading.enumerate())
    with app.app_context():
        [person] = register(make_gathering(), 1)
        rsvp.cancel(person, now=NOW)  # waits for the invitation's pass
        db.session.commit()
        wakeup.mail_queued.clear()  # nothing new will be committed to wake the thread
        stop = worker.start_thread(app)
        [thread] = [t for t in set(threading.enumerate()) - before if t.name == "outbox-sender"]
        try:
            assert wait_for(lambda: len(handler.messages) == 2, timeout=5)
        finally:
            stop.set()
            wakeup.mail_queued.set()
            thread.join(timeout=10)
        assert not thread.is_alive()
        assert [m["Subject"].split(":")[0] for m in handler.parsed()] == ["Påmeldt", "Avmeldt"]


@pytest.fixture
def gathering_config(slow_poll_config):
    slow_poll_config.update({"OUTBOX_GATHER_SECONDS": 1.0, "OUTBOX_SMTP_CONNECTIONS": 1})
    return slow_poll_config


@contextmanager
def running_worker(app):
    """worker.start_thread, stopped (and its threads joined) at the end; yields a function
    giving the names of the threads it has started so far."""
    before = set(threading.enumerate())
    stop = worker.start_thread(app)
    try:
        yield lambda: {t.name for t in set(threading.enumerate()) - before}
    finally:
        started = set(threading.enumerate()) - before
        stop.set()
        wakeup.mail_queued.set()
        for thread in started:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in started)


def test_a_woken_sender_lets_what_commits_next_share_the_pass(gathering_config, app, smtp_server,
                                                              make_gathering):
    """Woken by a commit, the sender waits OUTBOX_GATHER_SECONDS before its pass, so a
    confirmation committed meanwhile goes over the same SMTP connection (a relay's connection,
    with TLS and a login, costs more than a message)."""
    handler = smtp_server.handler
    with app.app_context():
        gathering = make_gathering()
        db.session.commit()
        with running_worker(app):
            register(gathering, 1)
            assert wait_for(lambda: len(handler.messages) == 1, timeout=10)
            time.sleep(0.3)  # its first passes are done; it waits for mail (30 s poll)
            started = time.monotonic()
            register(gathering, 2)  # wakes it
            time.sleep(0.3)  # long after a sender that did not wait would have sent the second
            register(gathering, 3)
            assert wait_for(lambda: len(handler.messages) == 3, timeout=5)
            assert time.monotonic() - started < 5
    assert received_recipients(handler) == [address(1), address(2), address(3)]
    first, second, third = handler.peers
    assert second == third != first  # the woken pass took both, over one connection


def test_mail_does_not_wait_for_the_stored_figures(slow_poll_config, app, smtp_server,
                                                    make_gathering, monkeypatch):
    """Storing the figures of every period takes seconds with a long history (decision 0038):
    it runs on a thread of its own, and a confirmation goes while it runs."""
    storing, release = threading.Event(), threading.Event()

    def slow_store(now, zone):
        storing.set()
        release.wait(10)
        return 0

    monkeypatch.setattr(figures, "store", slow_store)
    handler = smtp_server.handler
    with app.app_context():
        gathering = make_gathering()
        db.session.commit()
        with running_worker(app) as threads:
            try:
                assert storing.wait(5)  # the figures job has started; it ends when released
                assert {"outbox-sender", "figures"} <= threads()
                register(gathering, 1)
                assert wait_for(lambda: len(handler.messages) == 1, timeout=5)
                assert not release.is_set()
            finally:
                release.set()


# --- 12. no SMTP server configured: the browser mailbox ----------------------------------------


_connects: list | None = None


def _audit(event: str, args) -> None:
    if event == "socket.connect" and _connects is not None:
        _connects.append(args[1])


@pytest.fixture
def socket_connects():
    """Every socket.connect made while the test runs (an audit hook; it mocks nothing)."""
    global _connects
    if not getattr(sys, "_klynge_audit_installed", False):
        sys.addaudithook(_audit)
        sys._klynge_audit_installed = True
    _connects = []
    yield _connects
    _connects = None


def test_mailbox_mode_marks_sent_without_any_socket(app, make_gathering, socket_connects):
    assert app.config["MAIL_SERVER"] == ""
    with app.app_context():
        register(make_gathering(), 1, 2)

        report = delivery.deliver_due()

        assert report.claimed == 2 and len(report.sent) == 2
        for message in rows():
            assert message.status == OutboxStatus.SENT
            assert message.transport == "mailbox"
            assert message.attempts == 1
            assert message.sent_at is not None
        assert delivery.deliver_due().claimed == 0
    assert socket_connects == []


# --- the database fails while "sent" is being recorded -------------------------------------------


def dropped_connection() -> sa.exc.OperationalError:
    """What SQLAlchemy raises when the database connection drops under a statement."""
    return sa.exc.OperationalError("UPDATE outbox_messages", {},
                                   Exception("server closed the connection unexpectedly"))


@pytest.mark.parametrize("connections", [1, 2])
def test_a_sent_record_that_fails_is_made_again_on_a_new_connection_and_nothing_goes_twice(
        connections, mail_ctx, app, make_gathering, monkeypatch):
    app.config["OUTBOX_SMTP_CONNECTIONS"] = connections
    register(make_gathering(), 1, 2, 3, 4, 5, 6)
    real_record_sent = outbox.record_sent
    calls = []  # (message id, its database connection, messages the SMTP server had by then)

    def record_sent_failing_three_times(connection, message_id, *, transport, now):
        calls.append((message_id, connection, len(mail_ctx.handler.messages)))
        if len(calls) <= 3:
            raise dropped_connection()
        real_record_sent(connection, message_id, transport=transport, now=now)

    monkeypatch.setattr(outbox, "record_sent", record_sent_failing_three_times)
    report = delivery.deliver_due()

    found = rows()
    assert report.sent == [message.id for message in found]
    assert all((m.status, m.attempts) == (OutboxStatus.SENT, 1) for m in found)
    assert sorted(received_recipients(mail_ctx.handler)) == sorted(m.recipient for m in found)
    # Each try after a failure came on a new connection; the failed ones were thrown away.
    failed_ones = [connection for _, connection, _ in calls[:3]]
    assert all(connection.invalidated or connection.closed for connection in failed_ones)
    assert calls[3][1] not in failed_ones
    # While the record was being made again, the connection sent nothing new: never more than
    # two messages per SMTP connection went unrecorded.
    assert max(accepted for _, _, accepted in calls[:3]) <= 2 * connections


@pytest.fixture
def short_claim_config(smtp_config):
    # The claim runs out after 4 s; a whole message (4 timeouts) fits in it twice.
    smtp_config.update({"OUTBOX_LEASE_SECONDS": 4, "SMTP_TIMEOUT": 0.5})
    return smtp_config


@pytest.mark.parametrize("connections", [1, 2])
def test_a_sent_record_that_keeps_failing_is_given_up_when_the_claim_runs_out(
        connections, short_claim_config, app, smtp_server, make_gathering, monkeypatch):
    app.config["OUTBOX_SMTP_CONNECTIONS"] = connections
    with app.app_context():
        register(make_gathering(), 1, 2, 3, 4, 5, 6)
        real_record_sent = outbox.record_sent
        recorded = []

        def failing_record_sent(connection, message_id, *, transport, now):
            recorded.append(message_id)
            raise dropped_connection()

        monkeypatch.setattr(outbox, "record_sent", failing_record_sent)
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError):
            delivery.deliver_due()
        # It tried again and again (for what was left of the claim), then stopped.
        assert time.monotonic() - started < 20
        assert len(recorded) > 2 * connections

        # On each connection at most the message in flight went beside the unrecorded one.
        accepted = received_recipients(smtp_server.handler)
        assert 1 <= len(accepted) <= 2 * connections
        assert 1 <= len(set(recorded)) <= connections
        found = rows()
        assert all(message.status == OutboxStatus.PENDING for message in found)
        # What was accepted but not recorded keeps its claim: it goes again only after the lease
        # (the window the README describes); what was never tried was given back at once.
        tried = {message.id for message in found if message.recipient in accepted}
        assert all(message.claimed_until is not None for message in found if message.id in tried)
        assert all(message.claimed_until is None for message in found if message.id not in tried)

        monkeypatch.setattr(outbox, "record_sent", real_record_sent)
        report = delivery.deliver_due()
        assert sorted(report.sent) == sorted(m.id for m in found if m.id not in tried)
        assert sorted(received_recipients(smtp_server.handler)) == sorted(
            m.recipient for m in found)


def test_the_recorders_connection_goes_back_to_the_pool_durable(mail_ctx, make_gathering):
    """"Sent" is recorded without waiting for the disk on PostgreSQL; the connection that did
    it must not carry that into a request's commit (a registration must be durable)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    register(make_gathering(), 1, 2)
    assert len(delivery.deliver_due().sent) == 2
    # The pool hands back its most recently returned connection first: the recorder's.
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


# --- several SMTP connections at once (OUTBOX_SMTP_CONNECTIONS) --------------------------------


@dataclass
class ConnectionRecordingHandler(RecordingHandler):
    """Also notes which connection (the client's address and port) brought each message."""

    peers: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.peers.append(session.peer)
        return reply


def test_a_batch_goes_over_two_connections(mail_ctx, make_gathering):
    handler = ConnectionRecordingHandler()
    mail_ctx.handler = handler
    register(make_gathering(), 1, 2, 3, 4, 5)

    report = delivery.deliver_due()

    queued = rows()
    assert report.claimed == 5 and report.sent == [message.id for message in queued]
    assert report.retrying == report.failed == report.released == []
    assert {message.status for message in queued} == {OutboxStatus.SENT}
    assert sorted(received_recipients(handler)) == sorted(m.recipient for m in queued)  # once each
    assert len(set(handler.peers)) == 2


def test_a_persons_mail_goes_out_in_the_order_it_was_queued(mail_ctx, make_gathering):
    people = register(make_gathering(), 1, 2, 3)
    rsvp.cancel(people[1], now=NOW)  # queued after the invitation: must not overtake it
    db.session.commit()
    invitation, cancellation = [m.id for m in rows() if m.recipient == people[1].email]

    first = delivery.deliver_due()
    assert invitation in first.sent and cancellation not in first.sent
    assert delivery.deliver_due().sent == [cancellation]
    subjects = [m["Subject"] for m in mail_ctx.handler.parsed() if m["To"].addresses[0].addr_spec
                == people[1].email]
    assert [subject.split(":")[0] for subject in subjects] == ["Påmeldt", "Avmeldt"]


def test_a_later_message_waits_while_an_earlier_one_is_claimed_or_retried(mail_ctx,
                                                                          make_gathering):
    [person] = register(make_gathering(), 1)
    rsvp.cancel(person, now=NOW)
    db.session.commit()
    invitation, cancellation = (m.id for m in rows())

    # Another worker holds the invitation: this one must not send the cancellation meanwhile.
    assert outbox.claim_due(now=utcnow(), limit=1) == [invitation]
    db.session.commit()
    assert outbox.claim_due(now=utcnow(), limit=10) == []
    db.session.rollback()
    # The invitation got a 4xx and waits for its retry: the cancellation waits with it.
    outbox.mark_retry(db.session.get(OutboxMessage, invitation), "451 try later", now=utcnow())
    db.session.commit()
    assert outbox.claim_due(now=utcnow(), limit=10) == []
    db.session.rollback()
    make_due(invitation)
    assert delivery.deliver_due().sent == [invitation]
    assert delivery.deliver_due().sent == [cancellation]


def test_held_back_mail_keeps_no_one_elses_waiting(mail_ctx, make_gathering):
    gathering = make_gathering()
    [held] = register(gathering, 1)
    rsvp.cancel(held, now=NOW)
    db.session.commit()
    invitation, cancellation = (m.id for m in rows())
    outbox.mark_retry(db.session.get(OutboxMessage, invitation), "451 try later", now=utcnow())
    db.session.commit()
    register(gathering, 2, 3)
    others = [m.id for m in rows() if m.recipient != held.email]

    # A batch of one: the held-back cancellation comes first in order, and is passed over.
    assert outbox.claim_due(now=utcnow(), limit=1) == [others[0]]
    assert outbox.claim_due(now=utcnow(), limit=5) == [others[1]]
    db.session.commit()
    assert row(cancellation).claimed_until is None


def test_a_message_that_failed_for_good_holds_nothing_back(mail_ctx, make_gathering):
    [person] = register(make_gathering(), 1)
    rsvp.cancel(person, now=NOW)
    db.session.commit()
    invitation, cancellation = (m.id for m in rows())
    outbox.mark_failed(db.session.get(OutboxMessage, invitation), "550 5.1.1 no such user")
    db.session.commit()

    assert outbox.claim_due(now=utcnow(), limit=10) == [cancellation]


def test_a_dropped_connection_leaves_the_other_sending(mail_ctx, make_gathering):
    handler = DroppingHandler(how="close")
    mail_ctx.handler = handler
    register(make_gathering(), 1, 2, 3, 4)
    ids = [m.id for m in rows()]
    first_lane, second_lane = ids[0::2], ids[1::2]  # shared out in turn

    report = delivery.deliver_due()

    # The first message to arrive was dropped: its connection stopped and gave back the rest of
    # its share; the other connection delivered all of its own.
    [dropped] = report.retrying
    broken, whole = (first_lane, second_lane) if dropped in first_lane else (second_lane, first_lane)
    assert dropped == broken[0]
    assert report.released == broken[1:]
    assert report.sent == whole
    assert sorted(received_recipients(handler)) == sorted(
        m.recipient for m in rows() if m.id in whole)
    assert row(dropped).attempts == 1 and row(broken[1]).attempts == 0


class OneConnectionHandler(ConnectionRecordingHandler):
    """A relay that serves one client at a time: a second is refused at its greeting (421)."""

    def __init__(self):
        super().__init__()
        self.serving: set[int] = set()
        self.refused = 0

    def _admit(self, session, hostname: str) -> bool:
        with self.lock:
            if self.serving - {id(session)}:
                self.refused += 1
                return False
            self.serving.add(id(session))
            session.host_name = hostname  # what aiosmtpd leaves to a HELO/EHLO hook
            return True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return responses if self._admit(session, hostname) else ["421 4.7.0 Too many connections"]

    async def handle_HELO(self, server, session, envelope, hostname):
        admitted = self._admit(session, hostname)
        return f"250 {server.hostname}" if admitted else "421 4.7.0 Too many connections"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.serving.discard(id(session))
        return "221 Bye"


def test_a_relay_that_takes_one_connection_gets_the_whole_batch_over_it(mail_ctx, make_gathering):
    handler = OneConnectionHandler()
    mail_ctx.handler = handler
    register(make_gathering(), 1, 2, 3, 4)

    report = delivery.deliver_due()

    assert handler.refused >= 1  # a second connection was tried, and refused
    assert report.sent == [m.id for m in rows()] and report.retrying == report.released == []
    assert len(set(handler.peers)) == 1
    assert all(m.attempts == 1 for m in rows())  # the refusal cost no message an attempt



# --- addresses as people have them, and messages as old rows hold them -------------------------


def queue_mail(recipient: str, n: int) -> int:
    """A mail composed as the app composes it (notifications/message writes its To header)."""
    from klynge_rsvp.notifications import message as composer

    mail = composer.build(kind="confirmation", to_name=f"Person {n}", to_email=recipient,
                          subject=f"Melding {n}", text=f"Hei {n}", html=f"<p>Hei {n}</p>",
                          now=utcnow())
    queued = outbox.enqueue(mail, key=f"test:{n}", now=utcnow())
    db.session.commit()
    return queued.id


def queue_raw(recipient: str, n: int, *, subject: str = "Hei") -> int:
    """A row as an older version may have left it: the recipient as it was typed and the
    message's bytes as they are (a `subject` outside ASCII is written raw, in UTF-8)."""
    content = (f"From: Beredskapsklyngen <{SENDER_ADDRESS}>\r\nTo: undisclosed-recipients:;\r\n"
               f"Subject: {subject}\r\nMessage-ID: {make_msgid(domain='rsvp.test')}\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
               f"Hei {n}\r\n").encode()
    mail = outbox.ComposedMail(kind="confirmation", recipient=recipient, subject=subject,
                               message=content)
    queued = outbox.enqueue(mail, key=f"raw:{n}", now=utcnow())
    db.session.commit()
    return queued.id


def healthz(app) -> dict:
    return app.test_client().get("/healthz").get_json()["outbox"]


def app_on_a_server(app_config, migrated_sqlite, *, smtputf8: bool):
    """An app context (with `.app` and `.handler`) of an app pointed at a server of its own,
    which offers SMTPUTF8 or not (aiosmtpd's Controller offers it unless told otherwise)."""
    from tests.conftest import prepared_app

    controller = EphemeralController(RecordingHandler(), hostname="127.0.0.1", port=0,
                                     enable_SMTPUTF8=smtputf8)
    controller.start()
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": controller.port})
    application = prepared_app(app_config, migrated_sqlite)
    try:
        with application.app_context():
            yield SimpleNamespace(app=application, handler=controller.handler)
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
    finally:
        controller.stop()


@pytest.fixture
def utf8_ctx(app_config, migrated_sqlite):
    """Against a server that offers SMTPUTF8."""
    yield from app_on_a_server(app_config, migrated_sqlite, smtputf8=True)


@pytest.fixture
def ascii_ctx(app_config, migrated_sqlite):
    """Against a server that does not offer SMTPUTF8."""
    yield from app_on_a_server(app_config, migrated_sqlite, smtputf8=False)


@pytest.fixture(params=[False, True], ids=["ascii", "smtputf8"])
def either_ctx(request, app_config, migrated_sqlite):
    """Against a server that offers SMTPUTF8, and one that does not."""
    yield from app_on_a_server(app_config, migrated_sqlite, smtputf8=request.param)


def test_an_internationalised_domain_goes_out_in_idna(one_connection, either_ctx):
    ctx = either_ctx
    first, other, later = (queue_mail("ola@bølle.no", 1), queue_mail(address(2), 2),
                           queue_mail("ola@bølle.no", 3))

    assert delivery.deliver_due().sent == [first, other]
    assert delivery.deliver_due().sent == [later]  # the person's next mail, in the next pass

    envelopes = ctx.handler.messages
    assert [e.rcpt_tos for e in envelopes] == [["ola@xn--blle-gra.no"], [address(2)],
                                                ["ola@xn--blle-gra.no"]]
    assert not any("SMTPUTF8" in e.mail_options for e in envelopes)  # not needed, not asked
    assert {(m.status, m.attempts) for m in rows()} == {(OutboxStatus.SENT, 1)}
    assert healthz(ctx.app)["failed"] == 0 and healthz(ctx.app)["pending"] == 0


def test_a_local_part_outside_ascii_goes_with_smtputf8_where_the_server_offers_it(utf8_ctx):
    oyvind = queue_raw("øyvind@bølle.no", 1)

    assert delivery.deliver_due().sent == [oyvind]

    [envelope] = utf8_ctx.handler.messages
    assert envelope.rcpt_tos == ["øyvind@xn--blle-gra.no"]
    assert "SMTPUTF8" in envelope.mail_options
    assert envelope.mail_from == SENDER_ADDRESS
    assert (row(oyvind).status, row(oyvind).attempts) == (OutboxStatus.SENT, 1)


def test_a_local_part_outside_ascii_fails_at_once_where_the_server_lacks_smtputf8(
        one_connection, ascii_ctx):
    first, other, later = (queue_raw("øyvind@example.org", 1), queue_raw(address(2), 2),
                           queue_raw("øyvind@example.org", 3))

    report = delivery.deliver_due()

    # Failed for good at once (not retried twelve times), and the pass went on to the others.
    assert (report.failed, report.sent, report.retrying) == ([first], [other], [])
    failed = row(first)
    assert (failed.status, failed.attempts, failed.claimed_until) == (OutboxStatus.FAILED, 1, None)
    assert failed.error_kind == "utf8_address" and "SMTPUTF8" in failed.last_error
    # The person's later mail is not held back behind it: it gets its answer in the next pass.
    assert delivery.deliver_due().failed == [later]
    assert received_recipients(ascii_ctx.handler) == [address(2)]
    assert healthz(ascii_ctx.app)["failed"] == 2 and healthz(ascii_ctx.app)["pending"] == 0


def test_headers_in_utf8_go_with_smtputf8_where_the_server_offers_it(utf8_ctx):
    raw = queue_raw(address(1), 1, subject="Påmeldt: Frokostmøte")

    assert delivery.deliver_due().sent == [raw]

    [envelope] = utf8_ctx.handler.messages
    assert "SMTPUTF8" in envelope.mail_options
    assert "Subject: Påmeldt: Frokostmøte".encode() in envelope.original_content


def test_headers_in_utf8_fail_at_once_without_smtputf8_and_hold_nothing_back(one_connection,
                                                                           ascii_ctx):
    raw, later = queue_raw(address(1), 1, subject="Påmeldt: Frokostmøte"), queue_mail(address(1), 2)

    assert delivery.deliver_due().failed == [raw]
    assert delivery.deliver_due().sent == [later]

    assert (row(raw).status, row(raw).error_kind) == (OutboxStatus.FAILED, "utf8_headers")
    [envelope] = ascii_ctx.handler.messages
    assert envelope.original_content.isascii()
    assert healthz(ascii_ctx.app)["failed"] == 1


@pytest.mark.parametrize("recipient", ["ola@bølle..no", "ola nordmann@example.no",
                                       "ola@example.no>\r\nRCPT TO:<eve@example.org"])
def test_an_address_no_server_can_take_fails_at_once(one_connection, mail_ctx, app, recipient):
    bad, other = queue_raw(recipient, 1), queue_raw(address(2), 2)

    report = delivery.deliver_due()

    assert (report.failed, report.sent) == ([bad], [other])
    assert (row(bad).status, row(bad).error_kind) == (OutboxStatus.FAILED, "bad_address")
    assert received_recipients(mail_ctx.handler) == [address(2)]


def test_an_unexpected_error_fails_that_message_only_and_the_connection_goes_on(
        one_connection, mail_ctx, make_gathering, monkeypatch):
    # A fault injected half-way through a message (after the server took MAIL FROM): whatever
    # bug or data does it, the message is failed with the reason, the SMTP transaction is reset
    # and the same connection takes the next message.
    handler = ConnectionRecordingHandler()
    mail_ctx.handler = handler
    register(make_gathering(), 1, 2, 3)
    real_rcpt = smtplib.SMTP.rcpt

    def rcpt(connection, recipient, options=()):
        if recipient == address(2):
            raise RuntimeError("something no one foresaw")
        return real_rcpt(connection, recipient, options)

    monkeypatch.setattr(smtplib.SMTP, "rcpt", rcpt)
    report = delivery.deliver_due()

    first, second, third = rows()
    assert (report.sent, report.failed, report.released) == ([first.id, third.id], [second.id], [])
    assert (second.status, second.attempts, second.claimed_until) == (OutboxStatus.FAILED, 1, None)
    assert second.error_kind == "error"
    assert second.last_error == "RuntimeError: something no one foresaw"
    assert received_recipients(handler) == [address(1), address(3)]
    assert len(set(handler.peers)) == 1


# --- the database connection is cut in the middle of a pass (PostgreSQL) ---------------------------


def postgres_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("cuts PostgreSQL connections (set TEST_DATABASE_URL)")


def cut_the_connection_waiting_for(lock_holder: sa.Connection, *, timeout: float = 10) -> None:
    """Terminate the backend that waits for `lock_holder`'s lock, then let the lock go."""
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
    # Looked at from a connection of its own: a transaction sees one snapshot of the activity.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as observer:
        assert wait_for(lambda: observer.execute(query).first() is not None, timeout=timeout)
        [pid] = observer.execute(query).first()
        assert observer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    lock_holder.rollback()


def deliver_in_a_thread(app) -> tuple[threading.Thread, list]:
    outcome = []

    def deliver():
        with app.app_context():
            try:
                outcome.append(delivery.deliver_due())
            except Exception as error:
                outcome.append(error)

    thread = threading.Thread(target=deliver, name="deliver", daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.postgres
def test_a_claim_cut_off_in_the_middle_is_made_again(mail_ctx, app, make_gathering):
    postgres_only()
    register(make_gathering(), 1, 2, 3)
    ids = [m.id for m in rows()]
    with db.engine.connect() as holder:
        holder.execute(sa.text("LOCK TABLE outbox_messages IN ACCESS EXCLUSIVE MODE"))
        thread, outcome = deliver_in_a_thread(app)
        cut_the_connection_waiting_for(holder)  # the claim's SELECT … FOR UPDATE
    thread.join(timeout=30)

    [report] = outcome
    assert isinstance(report, delivery.DeliveryReport), report
    assert report.sent == ids
    assert sorted(received_recipients(mail_ctx.handler)) == [address(1), address(2), address(3)]


@dataclass
class GatedRefusingHandler(RecordingHandler):
    """Refuses every message as spam, once the test says so (`go`)."""

    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        self.reached.set()
        while not self.go.is_set():
            await asyncio.sleep(0.01)
        return "554 5.7.1 Message refused as spam"


@pytest.mark.postgres
def test_a_failure_record_cut_off_in_the_middle_is_made_again(one_connection, mail_ctx, app,
                                                             make_gathering):
    postgres_only()
    handler = GatedRefusingHandler()
    mail_ctx.handler = handler
    register(make_gathering(), 1, 2)
    first, second = (m.id for m in rows())
    thread, outcome = deliver_in_a_thread(app)
    try:
        assert handler.reached.wait(timeout=10)
        with db.engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE outbox_messages IN ACCESS EXCLUSIVE MODE"))
            handler.go.set()  # the refusal arrives; its record waits for the lock, and is cut
            cut_the_connection_waiting_for(holder)
    finally:
        handler.go.set()
        thread.join(timeout=30)

    [report] = outcome
    assert isinstance(report, delivery.DeliveryReport), report
    assert report.failed == [first, second]
    for message in rows():
        assert (message.status, message.attempts, message.claimed_until) == (
            OutboxStatus.FAILED, 1, None)
        assert (message.error_kind, message.smtp_code) == ("policy", 554)
