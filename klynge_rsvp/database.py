"""Engine set-up that the ORM does not do for us: SQLite's pragmas and write transactions."""

from contextvars import ContextVar

import sqlalchemy as sa
from flask import Flask, request

from .extensions import db

# SQLite has no row locks. Where PostgreSQL takes `SELECT … FOR UPDATE`, an SQLite transaction
# must hold the write lock from its first statement (BEGIN IMMEDIATE): a deferred transaction
# that read first and then tries to write fails with "database is locked" instead of waiting.
# Requests that only read (GET, HEAD) begin deferred, so reading never waits for a writer.
deferred_transactions: ContextVar[bool] = ContextVar("deferred_transactions", default=False)


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
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


def configure_engine(engine: sa.Engine) -> None:
    """Attach the per-dialect connection set-up to a freshly made engine."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)


def is_postgresql() -> bool:
    """Whether the app's database is PostgreSQL (row locks, SKIP LOCKED)."""
    return db.engine.dialect.name == "postgresql"


def init_app(app: Flask) -> None:
    """Configure the engine and make read-only requests begin deferred transactions."""
    with app.app_context():
        configure_engine(db.engine)

    @app.before_request
    def _begin_deferred_for_reads():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            deferred_transactions.set(True)

    @app.teardown_request
    def _reset_transaction_mode(_exc):
        deferred_transactions.set(False)
