"""The only code that sends mail: it delivers the outbox over SMTP, with retries.

With no MAIL_SERVER configured, mail is "delivered" to the browser mailbox instead (the
outbox rows themselves, readable at /mailbox), so the embedded default needs no SMTP server.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import smtplib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

import sqlalchemy as sa
from flask import Flask, current_app

from . import outbox
from .clock import utcnow
from .extensions import db
from .models import OutboxMessage

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
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    except BaseException:
        connection.close()
        raise
    return connection


def _envelope_sender() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def _concerns_the_connection(error: smtplib.SMTPException) -> bool:
    """A refused greeting or sender address is about our set-up, not this message: every
    message would meet it, so none is failed for it; they wait until it is fixed."""
    return isinstance(error, smtplib.SMTPHeloError | smtplib.SMTPSenderRefused)


def _is_permanent(error: smtplib.SMTPException) -> bool:
    """A 5xx reply means the server will never take this message; anything else may pass later."""
    if _concerns_the_connection(error):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _describe(error: BaseException) -> str:
    context = error.__context__
    text = f"{type(error).__name__}: {error}"
    if context is not None and not isinstance(error, smtplib.SMTPResponseException):
        text += f" ({type(context).__name__}: {context})"
    return text


def deliver_due() -> DeliveryReport:
    """Claim the due messages and deliver them over up to OUTBOX_SMTP_CONNECTIONS connections.

    Each "sent" is recorded as soon as the server has accepted the message (see SentRecorder).
    """
    config = current_app.config
    report = DeliveryReport()
    claimed_at = utcnow()
    ids = outbox.claim_due(now=claimed_at, limit=config["OUTBOX_BATCH_SIZE"])
    db.session.commit()
    report.claimed = len(ids)
    if not ids:
        return report

    if not config["MAIL_SERVER"]:
        if not config["KLYNGE_MAILBOX"]:
            raise RuntimeError("MAIL_SERVER is not set and the browser mailbox is turned off")
        for message_id in ids:
            outbox.mark_sent(db.session.get(OutboxMessage, message_id), transport="mailbox",
                             now=utcnow())
            report.sent.append(message_id)
        db.session.commit()
        return report

    # Read the batch once and end that transaction: no transaction (on SQLite: no write lock)
    # stays open while the SMTP server takes its time.
    payloads = {row.id: (row.recipient, row.message) for row in db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.message)
        .where(OutboxMessage.id.in_(ids)))}
    db.session.commit()
    try:
        connections = _open_connections(max(1, min(config["OUTBOX_SMTP_CONNECTIONS"], len(ids))))
    except (OSError, smtplib.SMTPException) as error:
        log.warning("SMTP connection failed: %s", _describe(error))
        for message_id in ids:
            outbox.mark_retry(db.session.get(OutboxMessage, message_id), _describe(error),
                              now=utcnow())
            report.retrying.append(message_id)
        db.session.commit()
        return report

    # Our claim runs out OUTBOX_LEASE_SECONDS after it was made, and then another worker may
    # take the same rows. A slow server must not make us send past it (a second copy would go
    # out): stop while a whole message (a few socket timeouts: MAIL, RCPT, DATA, the final
    # dot) still fits in the lease, and give the rest back for the next pass.
    lease_ends = claimed_at + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
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
    outbox.release(remaining)
    report.released.extend(remaining)
    db.session.commit()
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
                     _describe(error))
            break
    return connections


def _hang_up(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


class _Delivery:
    """One SMTP connection's share of a batch, sent in order; records what it did in `report`.

    Stops at the first error that concerns the connection, when its recorder fails, or when
    another connection's recorder failed (`stop`); what it did not try stays in `remaining`.
    """

    def __init__(self, connection: smtplib.SMTP, ids: list[int],
                 payloads: dict[int, tuple[str, bytes]], lease_ends: datetime,
                 stop: threading.Event, report: DeliveryReport):
        self.connection, self.payloads, self.lease_ends = connection, payloads, lease_ends
        self.remaining = list(ids)
        self.stop, self.report = stop, report
        self.error: BaseException | None = None

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
            db.session.rollback()
            _hang_up(self.connection)

    def _send_all(self) -> None:
        envelope_sender = _envelope_sender()
        one_message = timedelta(seconds=4 * current_app.config["SMTP_TIMEOUT"])
        tried = 0
        recorder = SentRecorder(db.engine)
        try:
            while self.remaining and recorder.error is None and not self.stop.is_set():
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

    def _send(self, envelope_sender: str, message_id: int, recorder: SentRecorder) -> bool:
        """Send one message; False when this connection must not be used again."""
        recipient, content = self.payloads[message_id]
        try:
            self.connection.sendmail(envelope_sender, [recipient], content)
        except smtplib.SMTPException as error:
            message = db.session.get(OutboxMessage, message_id)
            if _is_permanent(error):
                outbox.mark_failed(message, _describe(error))
                self.report.failed.append(message_id)
            else:
                outbox.mark_retry(message, _describe(error), now=utcnow())
                self.report.retrying.append(message_id)
            db.session.commit()
            if _concerns_the_connection(error):
                self.stop.set()  # every connection would meet it
                return False
            # smtplib hangs up by itself on a 421 reply (to MAIL, RCPT or DATA) and when the
            # line drops; the rest must not be "tried" on a closed connection, where each
            # would fail at once and lose an attempt without reaching the server.
            return not (isinstance(error, smtplib.SMTPServerDisconnected) or self.connection.sock is None)
        except OSError as error:  # timeout or reset in the middle of a message
            outbox.mark_retry(db.session.get(OutboxMessage, message_id), _describe(error),
                              now=utcnow())
            self.report.retrying.append(message_id)
            db.session.commit()
            return False
        recorder.sent(message_id, now=utcnow())
        self.report.sent.append(message_id)
        return True


class SentRecorder:
    """Records "sent" for each message one SMTP connection got accepted, on a database
    connection and thread of its own.

    While the SMTP server takes the next message, the last one's UPDATE (which commits by
    itself) runs beside it instead of before it. `sent` waits until the message before is
    recorded, so at most two accepted messages per SMTP connection are ever unrecorded (the one
    being recorded and the one just accepted): a crash resends no more than that after the
    lease. If recording fails, `error` is set (the sender stops) and `close` waits for the rest.
    """

    def __init__(self, engine: sa.Engine):
        self.error: BaseException | None = None
        self._accepted: queue.SimpleQueue[tuple[int, datetime] | None] = queue.SimpleQueue()
        self._unrecorded = threading.BoundedSemaphore(1)
        self._thread = threading.Thread(target=self._record, args=(engine,),
                                        name="outbox-sent-recorder", daemon=True)
        self._thread.start()

    def sent(self, message_id: int, *, now: datetime) -> None:
        self._unrecorded.acquire()
        self._accepted.put((message_id, now))

    def close(self) -> None:
        """Return once everything handed over is recorded (or recording failed)."""
        self._accepted.put(None)
        self._thread.join()

    def _record(self, engine: sa.Engine) -> None:
        connection = None
        try:
            connection = _autocommitting(engine)
        except Exception as error:  # handed to the sending thread
            log.exception("outbox: no database connection to record sent messages")
            self.error = error
        while (accepted := self._accepted.get()) is not None:
            if self.error is None:
                message_id, sent_at = accepted
                try:  # one statement, committed by itself
                    outbox.record_sent(connection, message_id, transport="smtp", now=sent_at)
                except Exception as error:  # handed to the sending thread
                    log.exception("outbox: could not record message %d as sent", message_id)
                    self.error = error
            self._unrecorded.release()
        if connection is not None:
            _release(connection)


def _autocommitting(engine: sa.Engine) -> sa.Connection:
    """A connection on which each statement commits by itself: one round trip per "sent"."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if connection.dialect.name == "postgresql":
        # A "sent" may reach the disk a fraction of a second after its commit returns (no fsync
        # wait per message). Were PostgreSQL itself to crash in that moment, the message would
        # be sent once more after its lease: the same narrow window as a worker killed between
        # the SMTP server's "250" and the update. It is never lost. (_release turns it back.)
        connection.exec_driver_sql("SET synchronous_commit TO OFF")
    return connection


def _release(connection: sa.Connection) -> None:
    """Back to the pool as it came: a request must never commit without waiting for the disk."""
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("RESET synchronous_commit")
    except Exception:
        log.warning("outbox: could not reset the recorder's connection; discarding it",
                    exc_info=True)
        connection.invalidate()
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
