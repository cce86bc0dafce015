"""/healthz for load balancers and monitoring: the database, and how the outbox is doing.

It answers within two seconds whatever the database is doing. The check runs on a connection
of its own, in a thread of its own, and gives up on locks and slow statements after a second
(`database.impatient`); if it has not finished after CHECK_SECONDS (a server that does not
answer at all, a connection attempt hanging), the answer says "timeout" and the check is left
to end by itself. Only one check runs at a time in a process: while one hangs, the next
request answers "timeout" at once instead of piling up more.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from . import database
from .clock import utcnow
from .extensions import db, limiter
from .models import OutboxMessage, OutboxStatus

bp = Blueprint("health", __name__)

CHECK_SECONDS = 1.5       # the longest /healthz waits for the database
DATABASE_PATIENCE_MS = 1000  # locks and statements of the check give up after this

_one_check_at_a_time = threading.Lock()


@dataclass
class OutboxFigures:
    pending: int
    failed: int
    oldest_pending: datetime | None


class _Check:
    """The database check, run on a thread: `figures` when it answered, else `problem`."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.figures: OutboxFigures | None = None
        self.problem = "timeout"  # until it answers
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.figures = outbox_figures(self.engine)
            self.problem = ""
        except SQLAlchemyError as error:
            self.problem = "timeout" if _gave_up_waiting(error) else "unreachable"
        finally:
            self.done.set()
            _one_check_at_a_time.release()


def outbox_figures(engine: sa.Engine) -> OutboxFigures:
    """Pending and failed mail, and when the oldest pending one was queued."""
    database.deferred_transactions.set(True)  # SQLite: only read, never wait to write
    with engine.connect() as connection, database.impatient(connection, DATABASE_PATIENCE_MS):
        pending, oldest = connection.execute(
            sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == OutboxStatus.PENDING)
        ).one()
        failed = connection.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.FAILED))
        connection.rollback()
    if oldest is not None and oldest.tzinfo is None:  # SQLite returns the raw text's datetime
        oldest = OutboxMessage.created_at.type.process_result_value(oldest, None)
    return OutboxFigures(pending=pending, failed=failed, oldest_pending=oldest)


def _gave_up_waiting(error: SQLAlchemyError) -> bool:
    """A lock or statement timeout (PostgreSQL) or a lock SQLite could not get in time."""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in ("55P03", "57014"):  # lock_not_available, query_canceled
        return True
    return "database is locked" in str(original or "")


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 with outbox figures when the database answers in time; 503 saying what could not be
    checked ("unreachable", or "timeout" when it did not answer in time) when it does not."""
    if _one_check_at_a_time.acquire(blocking=False):
        check = _Check(db.engine)
        try:
            threading.Thread(target=check.run, name="healthz", daemon=True).start()
        except BaseException:
            _one_check_at_a_time.release()
            raise
        check.done.wait(CHECK_SECONDS)
    else:
        check = None  # the last check still hangs: the database has not answered it yet
    if check is None or check.figures is None:
        problem = check.problem if check is not None and check.done.is_set() else "timeout"
        response = jsonify(status="unavailable", database=problem, outbox="not checked")
        response.status_code = 503
    else:
        figures = check.figures
        age = (utcnow() - figures.oldest_pending).total_seconds() if figures.oldest_pending else 0
        response = jsonify(status="ok", database="ok",
                           outbox={"pending": figures.pending, "failed": figures.failed,
                                   "oldest_pending_seconds": round(age, 1)})
    response.headers["Cache-Control"] = "no-store"
    return response
