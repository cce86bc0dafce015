"""The only code that sends mail: it delivers the outbox over SMTP, with retries.

With no MAIL_SERVER configured, mail is "delivered" to the browser mailbox instead (the
outbox rows themselves, readable at /mailbox), so the embedded default needs no SMTP server.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import smtplib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

import idna
import sqlalchemy as sa
from flask import Flask, current_app

from . import outbox, outcomes
from .clock import utcnow
from .extensions import db
from .models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Claimed but not tried (the connection broke, or the claim ran out): due again at once.
    released: list[int] = field(default_factory=list)


# How long a pass keeps trying to claim through a database that drops or refuses connections;
# after that the pass fails (it sent nothing) and the worker tries again after its poll.
CLAIM_RETRY_SECONDS = 10
# Backoff between tries of a database write: at once (a dropped connection is usually replaced
# at once), then doubling up to this.
DATABASE_RETRY_MAX_SECONDS = 2.0


def open_smtp_connection() -> smtplib.SMTP:
    """An SMTP connection as configured by MAIL_*, with a socket timeout on every step."""
    config = current_app.config
    timeout = config["SMTP_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        connection = smtplib.SMTP_SSL(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    else:
        connection = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    try:
        # Greeted at once: a relay at its limit of connections may refuse us only here.
        connection.ehlo_or_helo_if_needed()
        if config["MAIL_USE_TLS"]:
            connection.starttls()
            connection.ehlo()  # what the server offers inside TLS (SMTPUTF8 among it)
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    except BaseException:
        connection.close()
        raise
    return connection


class Unsendable(Exception):
    """A message no attempt can send as it is (its outcome says why); nothing reached the server."""

    def __init__(self, outcome: outcomes.Outcome):
        super().__init__(outcome.text)
        self.outcome = outcome


# What may stand in an envelope address: no spaces, controls or angle brackets (a line break
# would end the SMTP command and start another).
_ENVELOPE_ADDRESS = re.compile(r"[^\x00-\x20\x7f<>]+@[^\x00-\x20\x7f<>@]+")


def envelope_address(address: str) -> tuple[str, bool]:
    """`address` as it goes in MAIL FROM or RCPT TO, and whether that needs SMTPUTF8.

    An internationalised domain is written in IDNA (ola@bølle.no → ola@xn--blle-gra.no), which
    every server takes; a local part outside ASCII (øyvind@…) can only go with SMTPUTF8.
    Raises Unsendable for an address no server could take.
    """
    if address.isascii() and _ENVELOPE_ADDRESS.fullmatch(address):
        return address, False  # nearly every address, at the cost of one check
    if not _ENVELOPE_ADDRESS.fullmatch(address):
        raise Unsendable(outcomes.Outcome(outcomes.BAD_ADDRESS, f"{address}: not a usable address"))
    local, _, domain = address.rpartition("@")
    try:
        local.encode("utf-8")  # (a lone surrogate cannot be written at all)
        if not domain.isascii():
            domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise Unsendable(outcomes.Outcome(
            outcomes.BAD_ADDRESS, f"{address}: the domain cannot be written in IDNA ({error})")
        ) from error
    return f"{local}@{domain}", not local.isascii()


def _headers_are_ascii(content: bytes) -> bool:
    end = content.find(b"\r\n\r\n")
    return (content if end < 0 else content[:end]).isascii()


def _envelope_sender() -> tuple[str, bool]:
    try:
        return envelope_address(parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1])
    except Unsendable as refusal:  # a set-up error: every message would meet it
        raise ValueError(f"MAIL_DEFAULT_SENDER: {refusal}") from refusal


def _is_transient(error: BaseException) -> bool:
    """A database error another try may not meet: a dropped or refused connection, a lock
    (SQLite's "database is locked"), the pool out of connections."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError) \
        or (isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated)


def _next_delay(delay: float) -> float:
    return min(max(delay * 2, 0.05), DATABASE_RETRY_MAX_SECONDS)


def _retrying(work, *, until: datetime, what: str):
    """Run `work()` on this thread's session and commit it; when the database connection drops
    (or the database is locked or away), roll back and run it again, on a fresh connection
    (pool_pre_ping) with backoff, until `until`. Returns what `work` returned."""
    delay = 0.0
    while True:
        try:
            result = work()
            db.session.commit()
            return result
        except Exception as error:
            with contextlib.suppress(Exception):
                db.session.rollback()
            if not _is_transient(error) or utcnow() + timedelta(seconds=delay) > until:
                raise
            if delay == 0:
                log.warning("outbox: %s failed (%s); trying again on a new connection", what,
                            type(error).__name__)
        time.sleep(delay)
        delay = _next_delay(delay)


def _record_failure(message_id: int, outcome: outcomes.Outcome, *, until: datetime) -> None:
    """Mark one claimed message failed (permanent) or due again later, on this thread's session."""

    def write() -> None:
        message = db.session.get(OutboxMessage, message_id)
        if message.status != OutboxStatus.PENDING or message.claimed_until is None:
            return  # recorded already: the commit went through, its answer was lost
        if outcome.permanent:
            outbox.mark_failed(message, outcome.text, kind=outcome.kind, code=outcome.code)
        else:
            outbox.mark_retry(message, outcome.text, kind=outcome.kind, code=outcome.code,
                              now=utcnow())

    _retrying(write, until=until, what=f"recording message {message_id}'s failure")


def deliver_due() -> DeliveryReport:
    """Claim the due messages and deliver them over up to OUTBOX_SMTP_CONNECTIONS connections.

    Each "sent" is recorded as soon as the server has accepted the message (see SentRecorder).
    A message that fails is recorded with its outcome (outcomes.py) and never stops the others.
    Every database write survives a dropped connection (`_retrying`) until the claim runs out.
    """
    config = current_app.config
    report = DeliveryReport()
    claimed_at = utcnow()
    # Our claim runs out OUTBOX_LEASE_SECONDS after `claimed_at` (also when the claim itself had
    # to be made again), and then another worker may take the same rows.
    lease_ends = claimed_at + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
    ids = _retrying(lambda: outbox.claim_due(now=claimed_at, limit=config["OUTBOX_BATCH_SIZE"]),
                    until=claimed_at + timedelta(seconds=CLAIM_RETRY_SECONDS), what="the claim")
    report.claimed = len(ids)
    if not ids:
        return report

    if not config["MAIL_SERVER"]:
        if not config["KLYNGE_MAILBOX"]:
            raise RuntimeError("MAIL_SERVER is not set and the browser mailbox is turned off")

        def deliver_to_mailbox() -> None:
            for message_id in ids:
                outbox.mark_sent(db.session.get(OutboxMessage, message_id), transport="mailbox",
                                 now=utcnow())

        _retrying(deliver_to_mailbox, until=lease_ends, what="the mailbox delivery")
        report.sent.extend(ids)
        return report

    # Read the batch once and end that transaction: no transaction (on SQLite: no write lock)
    # stays open while the SMTP server takes its time.
    def read_batch() -> dict[int, tuple[str, bytes]]:
        return {row.id: (row.recipient, row.message) for row in db.session.execute(
            sa.select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.message)
            .where(OutboxMessage.id.in_(ids)))}

    payloads = _retrying(read_batch, until=lease_ends, what="reading the batch")
    try:
        connections = _open_connections(max(1, min(config["OUTBOX_SMTP_CONNECTIONS"], len(ids))))
    except (OSError, smtplib.SMTPException) as error:
        outcome = outcomes.of_error(error, connecting=True)
        log.warning("outbox: SMTP connection failed (%s): %s", outcome.kind, outcome.text)

        def retry_all() -> None:
            for message_id in ids:
                message = db.session.get(OutboxMessage, message_id)
                outbox.mark_retry(message, outcome.text, kind=outcome.kind, code=outcome.code,
                                  now=utcnow())

        _retrying(retry_all, until=lease_ends, what="recording the failed connection")
        report.retrying.extend(ids)
        return report
    except Exception:
        _retrying(lambda: outbox.release(ids), until=lease_ends, what="giving the batch back")
        raise

    # A slow server must not make us send past the claim (a second copy would go out): stop
    # while a whole message (a few socket timeouts: MAIL, RCPT, DATA, the final dot) still fits
    # in the lease, and give the rest back for the next pass.
    stop = threading.Event()
    # A batch holds at most one message per person (claim_due), so the connections may share
    # it out in turn without one person's mail overtaking itself.
    deliveries = [_Delivery(connection, ids[number::len(connections)], payloads, lease_ends, stop,
                            report)
                  for number, connection in enumerate(connections)]
    app = current_app._get_current_object()
    helpers = [threading.Thread(target=delivery.run_in, args=(app,), daemon=True,
                                name=f"outbox-connection-{number}")
               for number, delivery in enumerate(deliveries[1:], start=2)]
    for helper in helpers:
        helper.start()
    deliveries[0].run()
    for helper in helpers:
        helper.join()

    # What a broken connection left unsent is given back for the next pass, unharmed.
    remaining = sorted(message_id for delivery in deliveries for message_id in delivery.remaining)
    _retrying(lambda: outbox.release(remaining), until=lease_ends, what="giving the rest back")
    report.released.extend(remaining)
    for found in (report.sent, report.retrying, report.failed):
        found.sort()
    errors = [delivery.error for delivery in deliveries if delivery.error is not None]
    if errors:
        raise errors[0]
    return report


def _open_connections(wanted: int) -> list[smtplib.SMTP]:
    """The first connection (its failure is the caller's), and as many more as the server
    will take, up to `wanted`: a relay that refuses a second leaves the batch to the first."""
    connections = [open_smtp_connection()]
    while len(connections) < wanted:
        try:
            connections.append(open_smtp_connection())
        except (OSError, smtplib.SMTPException) as error:
            log.info("outbox: sending over %d SMTP connection(s): %s", len(connections),
                     outcomes.of_error(error, connecting=True).text)
            break
    return connections


def _hang_up(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


class _Delivery:
    """One SMTP connection's share of a batch, sent in order; records what it did in `report`.

    A message that fails is recorded against itself alone, and the next one goes. Stops at the
    first error that concerns the connection, when its recorder gives up (the database stayed
    away until the claim ran out), or when another connection stopped them all (`stop`); what
    it did not try stays in `remaining`.
    """

    def __init__(self, connection: smtplib.SMTP, ids: list[int],
                 payloads: dict[int, tuple[str, bytes]], lease_ends: datetime,
                 stop: threading.Event, report: DeliveryReport):
        self.connection, self.payloads, self.lease_ends = connection, payloads, lease_ends
        self.remaining = list(ids)
        self.stop, self.report = stop, report
        self.error: BaseException | None = None
        self.smtputf8 = connection.has_extn("smtputf8")
        self.utf8_options = ["SMTPUTF8", "BODY=8BITMIME"] if connection.has_extn("8bitmime") \
            else ["SMTPUTF8"]

    def run_in(self, app: Flask) -> None:
        with app.app_context():  # a session of its own for this thread's failure marks
            self.run()

    def run(self) -> None:
        try:
            self._send_all()
        except Exception as error:  # handed to deliver_due, which releases the rest first
            self.error = error
            self.stop.set()
        finally:
            with contextlib.suppress(Exception):
                db.session.rollback()
            _hang_up(self.connection)

    def _send_all(self) -> None:
        envelope_sender = _envelope_sender()
        if envelope_sender[1] and not self.smtputf8:  # a set-up error: no message is failed for it
            raise ValueError("MAIL_DEFAULT_SENDER needs SMTPUTF8, which the mail server does not offer")
        one_message = timedelta(seconds=4 * current_app.config["SMTP_TIMEOUT"])
        tried = 0
        recorder = SentRecorder(db.engine, give_up_at=self.lease_ends)
        try:
            while self.remaining and recorder.ready() and not self.stop.is_set():
                if tried and utcnow() + one_message > self.lease_ends:
                    log.warning("outbox: the claim runs out; %d messages left for the next pass",
                                len(self.remaining))
                    return
                message_id = self.remaining.pop(0)
                tried += 1
                if not self._send(envelope_sender, message_id, recorder):
                    return
        finally:
            recorder.close()
            if recorder.error is not None:
                self.stop.set()
                raise recorder.error

    def _send(self, envelope_sender: tuple[str, bool], message_id: int,
              recorder: SentRecorder) -> bool:
        """Send one message; False when this connection must not be used again.

        Whatever goes wrong with one message is recorded against it alone: the pass goes on.
        """
        recipient, content = self.payloads[message_id]
        try:
            sender, address, options = self._envelope(envelope_sender, recipient, content)
            self.connection.sendmail(sender, [address], content, mail_options=options)
        except Unsendable as refusal:  # found before a word was sent: the connection is fine
            self._record(message_id, refusal.outcome)
            return True
        except smtplib.SMTPException as error:
            outcome = outcomes.of_error(error)
            self._record(message_id, outcome)
            if outcome.kind in outcomes.CONFIGURATION or isinstance(
                    error, smtplib.SMTPHeloError | smtplib.SMTPSenderRefused):
                # A refused greeting or sender address is about our set-up, not this message:
                # every message would meet it, so every connection stops and the rest wait.
                self.stop.set()
                return False
            # smtplib hangs up by itself on a 421 reply (to MAIL, RCPT or DATA) and when the
            # line drops; the rest must not be "tried" on a closed connection, where each
            # would fail at once and lose an attempt without reaching the server.
            return not (isinstance(error, smtplib.SMTPServerDisconnected) or self.connection.sock is None)
        except OSError as error:  # timeout or reset in the middle of a message
            self._record(message_id, outcomes.of_error(error))
            return False
        except Exception as error:  # a bug, or data no one foresaw: this message only
            log.exception("outbox: message %d could not be sent; marked failed", message_id)
            self._record(message_id, outcomes.of_error(error))
            return self._reset()
        recorder.sent(message_id, now=utcnow())
        self.report.sent.append(message_id)
        return True

    def _envelope(self, envelope_sender: tuple[str, bool], recipient: str,
                  content: bytes) -> tuple[str, str, list[str]]:
        """MAIL FROM, RCPT TO and MAIL's options for one message; Unsendable when no server, or
        not this one, can take it as it is."""
        sender, _ = envelope_sender
        address, local_part_utf8 = envelope_address(recipient)
        headers_utf8 = not _headers_are_ascii(content)
        if not (local_part_utf8 or headers_utf8):
            return sender, address, []
        if self.smtputf8:
            return sender, address, self.utf8_options
        if local_part_utf8:
            raise Unsendable(outcomes.Outcome(outcomes.UTF8_ADDRESS, (
                f"{recipient}: the mail server does not offer SMTPUTF8, which an address with "
                "such characters before @ needs")))
        raise Unsendable(outcomes.Outcome(outcomes.UTF8_HEADERS, (
            "The message's headers hold UTF-8, and the mail server does not offer SMTPUTF8")))

    def _record(self, message_id: int, outcome: outcomes.Outcome) -> None:
        _record_failure(message_id, outcome, until=self.lease_ends)
        (self.report.failed if outcome.permanent else self.report.retrying).append(message_id)

    def _reset(self) -> bool:
        """After an error no one foresaw, the SMTP transaction's state is unknown: RSET it, or
        (if that fails) stop using the connection; the rest of its share is given back."""
        try:
            code, _ = self.connection.rset()
        except Exception:
            log.warning("outbox: could not reset the SMTP connection; giving its share back",
                        exc_info=True)
            return False
        return code == 250


class SentRecorder:
    """Records "sent" for each message one SMTP connection got accepted, on a database
    connection and thread of its own.

    While the SMTP server takes the next message, the last one's UPDATE (which commits by
    itself) runs beside it instead of before it. `sent` waits until the message before is
    recorded, so at most two accepted messages per SMTP connection are ever unrecorded (the one
    being recorded and the one just accepted): a crash resends no more than that after the
    lease.

    A record that fails on a dropped or refused connection is tried again on a new one, with
    backoff, until `give_up_at` (the end of the claim); meanwhile `ready` holds the SMTP
    connection back from starting another message. Only when the database stays away until the
    claim runs out does it give up: `error` is set (the sender stops) and `close` waits for the
    rest.
    """

    def __init__(self, engine: sa.Engine, *, give_up_at: datetime):
        self.error: BaseException | None = None
        self._give_up_at = give_up_at
        self._accepted: queue.SimpleQueue[tuple[int, datetime] | None] = queue.SimpleQueue()
        self._unrecorded = threading.BoundedSemaphore(1)
        self._retrying = threading.Event()
        self._thread = threading.Thread(target=self._record, args=(engine,),
                                        name="outbox-sent-recorder", daemon=True)
        self._thread.start()

    def ready(self) -> bool:
        """Whether the connection may send its next message: while a record is being tried
        again this waits for it; False once recording has failed for good."""
        if self._retrying.is_set():
            with self._unrecorded:  # free once the message handed over is recorded
                pass
        return self.error is None

    def sent(self, message_id: int, *, now: datetime) -> None:
        self._unrecorded.acquire()
        self._accepted.put((message_id, now))

    def close(self) -> None:
        """Return once everything handed over is recorded (or recording failed)."""
        self._accepted.put(None)
        self._thread.join()

    def _record(self, engine: sa.Engine) -> None:
        connection = None
        while (accepted := self._accepted.get()) is not None:
            if self.error is None:
                connection = self._record_one(engine, connection, *accepted)
            self._unrecorded.release()
        if connection is not None:
            _release(connection)

    def _record_one(self, engine: sa.Engine, connection: sa.Connection | None, message_id: int,
                    sent_at: datetime) -> sa.Connection | None:
        """Record one "sent", on `connection` or a new one; the connection to go on with."""
        delay = 0.0
        while True:
            try:
                if connection is None:
                    connection = _autocommitting(engine)
                # One statement, committed by itself; again, it changes nothing (a pending row only).
                outbox.record_sent(connection, message_id, transport="smtp", now=sent_at)
            except Exception as error:
                if connection is not None:
                    _discard(connection)
                    connection = None
                if not _is_transient(error) or utcnow() + timedelta(seconds=delay) > self._give_up_at:
                    log.exception("outbox: could not record message %d as sent; it goes again "
                                  "after its claim runs out", message_id)
                    self.error = error  # handed to the sending thread
                    self._retrying.clear()
                    return None
                if not self._retrying.is_set():
                    log.warning("outbox: recording message %d as sent failed (%s); trying again "
                                "on a new connection", message_id, type(error).__name__)
                    self._retrying.set()
                time.sleep(delay)
                delay = _next_delay(delay)
            else:
                if self._retrying.is_set():
                    log.info("outbox: recorded message %d as sent after all", message_id)
                    self._retrying.clear()
                return connection


def _autocommitting(engine: sa.Engine) -> sa.Connection:
    """A connection on which each statement commits by itself: one round trip per "sent"."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if connection.dialect.name == "postgresql":
            # A "sent" may reach the disk a fraction of a second after its commit returns (no
            # fsync wait per message). Were PostgreSQL itself to crash in that moment, the
            # message would be sent once more after its lease: the same narrow window as a
            # worker killed between the SMTP server's "250" and the update. It is never lost.
            # (_release turns it back.)
            connection.exec_driver_sql("SET synchronous_commit TO OFF")
    except BaseException:
        _discard(connection)
        raise
    return connection


def _release(connection: sa.Connection) -> None:
    """Back to the pool as it came: a request must never commit without waiting for the disk."""
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("RESET synchronous_commit")
    except Exception:
        log.warning("outbox: could not reset the recorder's connection; discarding it",
                    exc_info=True)
        _discard(connection)
        return
    connection.close()


def _discard(connection: sa.Connection) -> None:
    """Never back to the pool: a broken connection, or one still without synchronous_commit."""
    with contextlib.suppress(Exception):
        connection.invalidate()
    with contextlib.suppress(Exception):
        connection.close()


def run(app: Flask, stop: threading.Event) -> None:
    """Deliver the outbox until `stop` is set; wakes at once when new mail is committed.

    Between passes it runs the periodic jobs (reminders, calendar replies, data retention).
    """
    from .jobs import Scheduler

    poll = app.config["OUTBOX_POLL_SECONDS"]
    scheduler = Scheduler(app)
    listener = Listener(app)
    try:
        while not stop.is_set():
            outbox.mail_queued.clear()
            listener.mark()
            scheduler.run_due()
            try:
                with app.app_context():
                    report = deliver_due()
                    if report.claimed:
                        log.info("outbox: %d sent, %d retrying, %d failed", len(report.sent),
                                 len(report.retrying), len(report.failed))
            except Exception:
                log.exception("outbox delivery pass failed; trying again shortly")
                report = DeliveryReport()
            if report.claimed:  # more may be due at once: the rest of a large queue, or a
                continue        # person's next message, held back until this pass sent theirs
            listener.wait(poll, stop)
    finally:
        listener.close()


class Listener:
    """Waits, at most OUTBOX_POLL_SECONDS, for mail committed since `mark()`.

    A commit in this process sets `outbox.mail_queued`. One in another process (the web
    servers) is seen as a PostgreSQL NOTIFY on outbox.NOTIFY_CHANNEL, or on SQLite as a change
    of `PRAGMA data_version` (which moves whenever another connection commits). The poll stays
    as the safety net: a lost connection only falls back to it.
    """

    SLICE_SECONDS = 0.05  # how often data_version, the in-process event and `stop` are looked at

    def __init__(self, app: Flask):
        self.app = app
        self.connection = None  # a pooled DBAPI connection of our own, or None
        self.dialect = ""
        self.version = None
        self._open()

    def _open(self) -> None:
        try:
            with self.app.app_context():
                self.dialect = db.engine.dialect.name
                if self.dialect not in ("postgresql", "sqlite"):
                    return
                self.connection = db.engine.raw_connection()
            driver = self.connection.driver_connection
            if self.dialect == "postgresql":
                driver.rollback()
                driver.autocommit = True
                driver.execute(f"LISTEN {outbox.NOTIFY_CHANNEL}")
        except Exception:
            log.warning("outbox: cannot listen for new mail; polling instead", exc_info=True)
            self.close()

    def mark(self) -> None:
        """Remember the database's state before a pass: what commits after it wakes `wait`."""
        if self.connection is None:
            self._open()
        if self.connection is not None and self._is_sqlite():
            self.version = self._guarded(self._data_version)

    def wait(self, timeout: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set() and not outbox.mail_queued.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = min(remaining, self.SLICE_SECONDS)
            if self.connection is None:
                outbox.mail_queued.wait(step)
            elif self._is_sqlite():
                outbox.mail_queued.wait(step)
                if self._guarded(self._data_version) != self.version:
                    return
            elif self._guarded(lambda step=step: self._notified(step)):
                return

    def close(self) -> None:
        if self.connection is not None:
            # Never back to the pool: a PostgreSQL connection would stay LISTENing.
            with contextlib.suppress(Exception):
                self.connection.invalidate()
            self.connection = None

    def _is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _data_version(self) -> int:
        return self.connection.driver_connection.execute("PRAGMA data_version").fetchone()[0]

    def _notified(self, timeout: float) -> bool:
        driver = self.connection.driver_connection
        received = any(True for _ in driver.notifies(timeout=timeout, stop_after=1))
        if received:
            for _ in driver.notifies(timeout=0):  # several commits: one pass covers them all
                pass
        return received

    def _guarded(self, check):
        try:
            return check()
        except Exception:
            log.warning("outbox: lost the connection that listens for new mail; polling",
                        exc_info=True)
            self.close()
            return None


def start_thread(app: Flask) -> threading.Event:
    """Run the sender in a daemon thread of this process (the embedded default)."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop), name="outbox-sender", daemon=True)
    thread.start()
    return stop
