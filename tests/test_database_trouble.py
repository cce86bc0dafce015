"""The database in trouble: a connection cut in the middle of a request (before, during and after
its commit), a lock that is not let go, a pool with no free connection. A person always gets the
service's own 503 page (or the page they asked for, when it was already made), never a bare 500;
/healthz answers within two seconds whatever the database is doing.

PostgreSQL connections are cut for real (pg_terminate_backend from another connection, while the
request waits for a lock the test holds); these tests run when TEST_DATABASE_URL is PostgreSQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, OutboxMessage, Registration
from tests.live_server import serving
from tests.pages import form_data, post_form

UNAVAILABLE = "Tjenesten er midlertidig utilgjengelig"


def wait_for(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def production_like(app_config):
    """Errors are answered as in production (the 500 page), not raised into the test."""
    app_config["PROPAGATE_EXCEPTIONS"] = False
    app_config["SESSION_COOKIE_SECURE"] = False  # the live server speaks plain http
    return app_config


def upcoming(app, make_gathering, **overrides) -> str:
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=5), **overrides)
        db.session.commit()
        return gathering.slug


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_the_503_page(status: int, headers, body: str) -> None:
    assert status == 503, (status, body[:500])
    assert int(headers["Retry-After"]) >= 30  # a rate-limited route may say later still
    assert UNAVAILABLE in body


# --- SQLite --------------------------------------------------------------------------------------


def sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("holds SQLite's file lock")


@contextmanager
def sqlite_locked(app, *, readers_too: bool):
    """Another connection holds the database's write lock (and, with `readers_too`, keeps
    everyone else out: exclusive locking mode, as an operator's sqlite3 shell might)."""
    holder = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"),
                             isolation_level=None, check_same_thread=False)
    try:
        if readers_too:
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE alembic_version SET version_num = version_num")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.execute("PRAGMA locking_mode = NORMAL")
        holder.execute("SELECT count(*) FROM alembic_version")  # NORMAL takes effect on next read
        holder.close()


@pytest.fixture
def impatient_sqlite(production_like):
    production_like["SQLITE_BUSY_TIMEOUT_MS"] = 300
    return production_like


def test_sqlite_locked_during_a_registration_gives_the_503_page(impatient_sqlite, make_app,
                                                                make_gathering):
    app = make_app(impatient_sqlite)
    sqlite_only(app)
    slug = upcoming(app, make_gathering)
    client = app.test_client()
    page = client.get(f"/samlinger/{slug}")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    with sqlite_locked(app, readers_too=False):
        response = client.post(f"/samlinger/{slug}", data={"csrf_token": token, **form_data()})
    assert_the_503_page(response.status_code, response.headers, response.text)
    assert count(app, Registration) == count(app, OutboxMessage) == 0
    assert post_form(client, f"/samlinger/{slug}").status_code == 303  # and then it works


def test_sqlite_locked_while_an_expired_form_is_shown_again_gives_the_503_page(
        impatient_sqlite, make_app, make_gathering):
    # The expired-form page is made by an error handler (it looks the gathering up again): the
    # database error it meets must not turn into the 500 page.
    app = make_app(impatient_sqlite)
    sqlite_only(app)
    slug = upcoming(app, make_gathering)
    with sqlite_locked(app, readers_too=False):
        response = app.test_client().post(f"/samlinger/{slug}", data=form_data())
    assert_the_503_page(response.status_code, response.headers, response.text)


def test_no_free_connection_in_the_pool_gives_the_503_page(production_like, make_app):
    production_like["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 1, "max_overflow": 0,
                                                    "pool_timeout": 0.2}
    app = make_app(production_like)
    with app.app_context(), db.engine.connect() as taken:
        taken.exec_driver_sql("SELECT 1")
        response = app.test_client().get("/")
    assert_the_503_page(response.status_code, response.headers, response.text)


def test_healthz_answers_within_two_seconds_while_sqlite_is_locked(app, client):
    sqlite_only(app)
    with sqlite_locked(app, readers_too=True):
        started = time.monotonic()
        response = client.get("/healthz")
        took = time.monotonic() - started
        assert took < 2, took
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "timeout",
                                       "outbox": "not checked"}
        assert response.headers["Cache-Control"] == "no-store"
        # Asked again at once while the first check may still wait: as quick, as clear.
        started = time.monotonic()
        assert client.get("/healthz").get_json()["database"] == "timeout"
        assert time.monotonic() - started < 2
    assert wait_for(lambda: client.get("/healthz").status_code == 200, timeout=5)
    assert client.get("/healthz").get_json()["database"] == "ok"


def test_healthz_leaves_the_connection_as_patient_as_before(app, client):
    sqlite_only(app)
    assert client.get("/healthz").status_code == 200
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


# --- PostgreSQL: connections cut for real ----------------------------------------------------------


def postgresql_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("cuts PostgreSQL connections (set TEST_DATABASE_URL)")


WAITING = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                  "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")


def cut_the_connection_waiting(app) -> None:
    """Terminate the backend that waits for a lock the test holds."""
    # Looked at from a connection of its own: a transaction sees one snapshot of the activity.
    with app.app_context(), db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT") as observer:
        assert wait_for(lambda: observer.execute(WAITING).first() is not None)
        pid = observer.execute(WAITING).scalar()
        assert observer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


class Visitor:
    """A browser over real HTTP: keeps its cookies; answers as (status, headers, body)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def open(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, data=body, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def token(self, path: str) -> str:
        page = self.open(path)[2]
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def in_a_thread(call) -> tuple[threading.Thread, list]:
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    thread.start()
    return thread, answers


@contextmanager
def table_locked(app, table: str):
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        yield
        holder.rollback()


@pytest.mark.postgres
def test_registration_cut_off_while_waiting_for_the_gathering_gives_the_503_page(
        production_like, make_app, make_gathering):
    app = make_app(production_like)
    postgresql_only(app)
    slug = upcoming(app, make_gathering)
    with serving(app) as base_url:
        visitor = Visitor(base_url)
        data = {"csrf_token": visitor.token(f"/samlinger/{slug}"), **form_data()}
        with table_locked(app, "gatherings"):
            thread, answers = in_a_thread(lambda: visitor.open(f"/samlinger/{slug}", data))
            cut_the_connection_waiting(app)
        thread.join(timeout=30)
        assert_the_503_page(*answers[0])
        assert count(app, Registration) == count(app, OutboxMessage) == 0
        status, _headers, _body = visitor.open(f"/samlinger/{slug}", data)
        assert status == 200 and count(app, Registration) == 1  # the retry gets through


@pytest.mark.postgres
def test_expired_form_cut_off_while_it_looks_the_gathering_up_gives_the_503_page(
        production_like, make_app, make_gathering):
    app = make_app(production_like)
    postgresql_only(app)
    slug = upcoming(app, make_gathering)
    with serving(app) as base_url:
        visitor = Visitor(base_url)
        with table_locked(app, "gatherings"):
            thread, answers = in_a_thread(lambda: visitor.open(f"/samlinger/{slug}", form_data()))
            cut_the_connection_waiting(app)
        thread.join(timeout=30)
    assert_the_503_page(*answers[0])


@contextmanager
def commit_waits_for_lock_4242(app):
    """A registration's commit waits for advisory lock 4242 (a deferred constraint trigger,
    checked at COMMIT), so the test can cut the connection in the middle of the commit."""
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION test_wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$")
        connection.exec_driver_sql(
            "CREATE CONSTRAINT TRIGGER test_wait_at_commit AFTER INSERT ON registrations "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_wait_at_commit()")
    try:
        yield
    finally:  # the schema other tests get must be the migrated one
        with app.app_context(), db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER test_wait_at_commit ON registrations")
            connection.exec_driver_sql("DROP FUNCTION test_wait_at_commit()")


@pytest.mark.postgres
def test_registration_cut_off_during_its_commit_gives_the_503_page_and_stores_nothing(
        production_like, make_app, make_gathering):
    app = make_app(production_like)
    postgresql_only(app)
    slug = upcoming(app, make_gathering)
    with serving(app) as base_url:
        visitor = Visitor(base_url)
        data = {"csrf_token": visitor.token(f"/samlinger/{slug}"), **form_data()}
        with commit_waits_for_lock_4242(app):
            with app.app_context(), db.engine.connect() as holder:
                holder.execute(sa.text("SELECT pg_advisory_lock(4242)"))
                thread, answers = in_a_thread(lambda: visitor.open(f"/samlinger/{slug}", data))
                cut_the_connection_waiting(app)
                holder.execute(sa.text("SELECT pg_advisory_unlock(4242)"))
            thread.join(timeout=30)
    assert_the_503_page(*answers[0])
    assert count(app, Registration) == count(app, OutboxMessage) == 0


@pytest.mark.postgres
def test_connection_cut_after_the_page_was_made_still_gives_the_page(production_like, make_app):
    # The request read, then its connection was ended while idle in the transaction: ending
    # the session at the end of the request meets the dead connection.
    app = make_app(production_like)
    postgresql_only(app)
    reached, go = threading.Event(), threading.Event()
    backend = []

    @app.get("/test/idle-in-transaction")
    def idle_in_transaction():
        db.session.execute(sa.select(Gathering.id)).all()
        backend.append(db.session.scalar(sa.text("SELECT pg_backend_pid()")))
        reached.set()
        go.wait(timeout=30)
        return "made"

    with serving(app) as base_url:
        visitor = Visitor(base_url)
        thread, answers = in_a_thread(lambda: visitor.open("/test/idle-in-transaction"))
        assert reached.wait(timeout=10)
        with app.app_context(), db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as observer:
            assert observer.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                    {"pid": backend[0]}).scalar()
            assert wait_for(lambda: observer.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": backend[0]}).scalar() == 0)
        go.set()
        thread.join(timeout=30)
    status, _headers, body = answers[0]
    assert (status, body) == (200, "made")


@pytest.mark.postgres
def test_healthz_answers_within_two_seconds_while_the_outbox_is_locked(app):
    postgresql_only(app)
    with serving(app) as base_url:
        visitor = Visitor(base_url)
        with table_locked(app, "outbox_messages"):
            started = time.monotonic()
            thread, answers = in_a_thread(lambda: visitor.open("/healthz"))
            thread.join(timeout=10)
            took = time.monotonic() - started
            assert answers, "no answer within 10 s"
            status, headers, body = answers[0]
            assert took < 2, took
            assert status == 503 and headers["Cache-Control"] == "no-store"
            assert json.loads(body) == {"status": "unavailable", "database": "timeout",
                                        "outbox": "not checked"}
        assert wait_for(lambda: visitor.open("/healthz")[0] == 200, timeout=5)
