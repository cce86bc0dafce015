"""How a worker learns at once that mail was committed, instead of waiting for its poll.

Both ends are here. A transaction that queued mail asks for a wake-up (`wake_on_commit`); when
it commits, an in-process worker is woken through `mail_queued`, and on PostgreSQL the commit
itself carries a NOTIFY on NOTIFY_CHANNEL to the workers in other processes. A rolled-back
transaction wakes no one. The `Listener` is the worker's end.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import sqlalchemy as sa
from flask import Flask

from ..extensions import db

log = logging.getLogger(__name__)

# Set when a transaction that queued mail commits, so an in-process sender wakes at once.
mail_queued = threading.Event()
# The PostgreSQL channel that tells workers in other processes the same thing.
NOTIFY_CHANNEL = "klynge_outbox"

_QUEUED = "mail_queued"  # the session.info key: this transaction queued mail


def wake_on_commit(session: sa.orm.Session) -> None:
    """Wake the workers once `session`'s transaction commits (once, however often asked)."""
    session.info[_QUEUED] = True


@sa.event.listens_for(sa.orm.Session, "before_commit")
def _notify_other_processes(session) -> None:
    """On PostgreSQL, NOTIFY the workers that LISTEN in the committing transaction: delivered
    only if it commits, once however many messages it queued."""
    if session.info.get(_QUEUED) and session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _wake_sender(session) -> None:
    """Wake in-process senders after a commit that queued mail."""
    if session.info.pop(_QUEUED, False):
        mail_queued.set()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_queued(session) -> None:
    session.info.pop(_QUEUED, None)


class Listener:
    """Waits, at most OUTBOX_POLL_SECONDS, for mail committed since `mark()`.

    A commit in this process sets `mail_queued`. One in another process (the web servers) is
    seen as a PostgreSQL NOTIFY on NOTIFY_CHANNEL, or on SQLite as a change of
    `PRAGMA data_version` (which moves whenever another connection commits). The poll stays
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
                driver.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except Exception:
            log.warning("outbox: cannot listen for new mail; polling instead", exc_info=True)
            self.close()

    def mark(self) -> None:
        """Remember the database's state before a pass: what commits after it wakes `wait`."""
        mail_queued.clear()
        if self.connection is None:
            self._open()
        if self.connection is not None and self._is_sqlite():
            self.version = self._guarded(self._data_version)

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Whether mail was committed (False: the timeout passed, or `stop` was set)."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            if mail_queued.is_set():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            step = min(remaining, self.SLICE_SECONDS)
            if self.connection is None:
                mail_queued.wait(step)
            elif self._is_sqlite():
                mail_queued.wait(step)
                if self._guarded(self._data_version) != self.version:
                    return True
            elif self._guarded(lambda step=step: self._notified(step)):
                return True
        return False

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
