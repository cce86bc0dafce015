"""Engine set-up that the ORM does not do for us: SQLite's pragmas and write transactions, a
request's end that survives a lost connection, and short timeouts for a health check."""

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
from flask import Flask, request
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

log = logging.getLogger(__name__)

# How long an SQLite statement waits for another connection's lock before it fails (the app's
# SQLITE_BUSY_TIMEOUT_MS setting, if given).
SQLITE_BUSY_TIMEOUT_MS = 30000

# SQLite has no row locks. Where PostgreSQL takes `SELECT … FOR UPDATE`, an SQLite transaction
# must hold the write lock from its first statement (BEGIN IMMEDIATE): a deferred transaction
# that read first and then tries to write fails with "database is locked" instead of waiting.
# Requests that only read (GET, HEAD) begin deferred, so reading never waits for a writer.
deferred_transactions: ContextVar[bool] = ContextVar("deferred_transactions", default=False)


def _on_sqlite_connect(dbapi_connection, _record, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_sqlite_begin(connection) -> None:
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # each statement commits by itself (the sender's "sent" recorder)
    connection.exec_driver_sql("BEGIN" if deferred_transactions.get() else "BEGIN IMMEDIATE")


def begin_writing() -> None:
    """In a read-only request (GET), end its read transaction so the next one takes SQLite's
    write lock up front. A read transaction that later writes cannot wait for another writer:
    SQLite refuses it at once with "database is locked"."""
    db.session.commit()
    deferred_transactions.set(False)


def configure_engine(engine: sa.Engine, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    """Attach the per-dialect connection set-up to a freshly made engine."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", functools.partial(_on_sqlite_connect,
                                                             busy_timeout_ms=busy_timeout_ms))
        sa.event.listen(engine, "begin", _on_sqlite_begin)


@contextmanager
def impatient(connection: sa.Connection, milliseconds: int) -> Iterator[sa.Connection]:
    """Within the block, `connection` gives up after `milliseconds` on a lock it waits for or a
    statement that runs long, instead of waiting as requests do (SQLite's busy timeout;
    PostgreSQL's lock and statement timeouts, for this transaction only)."""
    if connection.dialect.name == "sqlite":
        usual = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(milliseconds)}")
        try:
            yield connection
        finally:  # the connection goes back to the pool: give it the usual patience again
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(usual)}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(milliseconds)}")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(milliseconds)}")
        yield connection
    else:
        yield connection


def is_postgresql() -> bool:
    """Whether the app's database is PostgreSQL (row locks, SKIP LOCKED)."""
    return db.engine.dialect.name == "postgresql"


def init_app(app: Flask) -> None:
    """Configure the engine and make read-only requests begin deferred transactions."""
    with app.app_context():
        configure_engine(db.engine, busy_timeout_ms=app.config.get("SQLITE_BUSY_TIMEOUT_MS",
                                                                   SQLITE_BUSY_TIMEOUT_MS))

    @app.before_request
    def _begin_deferred_for_reads():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            deferred_transactions.set(True)

    @app.teardown_request
    def _reset_transaction_mode(_exc):
        deferred_transactions.set(False)

    # Runs before Flask-SQLAlchemy's own teardown (registered earlier, so run later), which
    # then finds nothing left to do. Ending the session rolls back on the connection: if the
    # connection died after the response was made (an administrator ended it, a failover),
    # that rollback raises, and an error raised here would replace the finished page with the
    # server's bare 500. Nothing is lost by going on: the transaction died with the connection.
    @app.teardown_appcontext
    def _end_session(_exc):
        try:
            db.session.remove()
        except SQLAlchemyError as error:
            log.warning("ending the request's database session failed: %s", error)
            db.session.registry.clear()
