"""The database writes of a delivery pass, made so that a dropped connection loses none of them.

A failover, a restarted PgBouncer, an administrator ending sessions or SQLite's lock can break
any write. Each is made again on a new connection with backoff (`retrying`) until the claim runs
out; after that another worker may take the rows, so the pass gives up. The "sent" of each
accepted message is written by a SentRecorder, on a thread and connection of its own, while the
SMTP server takes the next message.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import OutboxMessage, OutboxStatus
from . import outbox, outcomes

log = logging.getLogger(__name__)

# Backoff between tries of a database write: at once (a dropped connection is usually replaced
# at once), then doubling up to this.
DATABASE_RETRY_MAX_SECONDS = 2.0


def is_transient(error: BaseException) -> bool:
    """A database error another try may not meet: a dropped or refused connection, a lock
    (SQLite's "database is locked"), the pool out of connections."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError) \
        or (isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated)


def _next_delay(delay: float) -> float:
    return min(max(delay * 2, 0.05), DATABASE_RETRY_MAX_SECONDS)


def retrying(work, *, until: datetime, what: str):
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
            if not is_transient(error) or utcnow() + timedelta(seconds=delay) > until:
                raise
            if delay == 0:
                log.warning("outbox: %s failed (%s); trying again on a new connection", what,
                            type(error).__name__)
        time.sleep(delay)
        delay = _next_delay(delay)


def record_failure(message_id: int, outcome: outcomes.Outcome, *, until: datetime) -> None:
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

    retrying(write, until=until, what=f"recording message {message_id}'s failure")


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
                if not is_transient(error) or utcnow() + timedelta(seconds=delay) > self._give_up_at:
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
