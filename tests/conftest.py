"""Fixtures: an app on a real database (SQLite, or PostgreSQL via TEST_DATABASE_URL), its
clients, factories for gatherings and registrations, and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_migrate import upgrade

from klynge_rsvp import create_app, gatherings
from klynge_rsvp.extensions import db, limiter
from klynge_rsvp.models import GatheringStatus, Sector
from klynge_rsvp.rsvp import Person, RegistrationRequest

# A fixed "now" for service tests: a Tuesday in winter time.
NOW = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)


def _share_url_builders() -> None:
    """Make each app's URL builders once per test process, not once per app.

    Most tests make an app of their own, and werkzeug compiles two Python functions (generated
    as source, parsed and compiled) for each of its ~140 URL rules as a blueprint adds them:
    about 140 of the 160 ms create_app took, and, over the ~1,800 apps of a run, nearly half
    of the suite's CPU time. The function werkzeug generates depends only on the rule's parts
    (its `_trace`), the names of its defaults and `append_unknown`; it reads the rule's own
    converters when it is called, through the rule it is bound to. So one function serves every
    rule with the same parts. A rule whose dynamic part has a default (resolved to a constant
    when compiled) is compiled as before. tests/test_url_builders.py checks that every rule's
    builder is the code werkzeug itself makes.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    made: dict[tuple, object] = {}

    def shared(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        if any(dynamic and part in defaults for dynamic, part in self._trace):
            return compile_builder(self, append_unknown)
        key = (append_unknown, tuple(self._trace), tuple(sorted(defaults)))
        if key not in made:
            made[key] = compile_builder(self, append_unknown)
        return made[key]

    shared.werkzeug_original = compile_builder  # for tests/test_url_builders.py
    Rule._compile_builder = shared


_share_url_builders()


@sa.event.listens_for(sa.engine.Engine, "connect")
def _unordered_rows_come_backwards(dbapi_connection, _record) -> None:
    """On SQLite, a SELECT without ORDER BY returns its rows in reverse (in this process).

    Without ORDER BY neither database promises an order. SQLite happens to give insertion order,
    and so does PostgreSQL until autovacuum lets new rows fill old pages: a test (or a page) that
    read rows "in the order they were made" passed on SQLite and failed on PostgreSQL now and
    then. Reversed, it fails every time, on the first run.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA reverse_unordered_selects = ON")


def pytest_configure(config):
    """Under pytest-xdist (`-n N`, as dev.py runs the suite), each worker process gets a
    PostgreSQL database of its own, made here if missing, and TEST_DATABASE_URL says which: the
    tests, and the programs they start, empty and migrate it without meeting each other."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not worker or not base.startswith("postgresql"):
        return
    url = sa.engine.make_url(base)
    own = url.set(database=f"{url.database}_{worker}")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                        {"name": own.database}).scalar()
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{own.database}"'))
    finally:
        engine.dispose()
    os.environ["TEST_DATABASE_URL"] = own.render_as_string(hide_password=False)


def _database_url(tmp_path) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return base


def _reset_postgresql(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from klynge_rsvp import PROJECT_ROOT

    return ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()


def _empty_postgresql_at_head(url: str) -> bool:
    """Empty every table if the schema is exactly the migrated one; False if it must be rebuilt.

    Running the migrations for every test would cost most of the suite's time; the schema they
    make is checked by tests/test_migrations.py, which rebuilds it.
    """
    expected = set(db.metadata.tables) | {"alembic_version"}
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            if tables != expected:
                return False
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            if version.scalar() != _head_revision():
                return False
            # DELETE, children first, and every sequence back to 1: what TRUNCATE … RESTART
            # IDENTITY does, in about 8 ms instead of about 200 (TRUNCATE makes new files for
            # all 31 tables, for every test).
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            connection.execute(sa.text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'S' AND n.nspname = current_schema()"))
            return True
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """One SQLite database made by the migrations, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    application = create_app({"TESTING": True, "SECRET_KEY": "x" * 32,
                              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with application.app_context():
        upgrade()
        db.engine.dispose()  # checkpoints the WAL into the file
    return path


def prepared_app(config: dict, migrated_sqlite: Path):
    """An app on a database whose schema the migrations made (fresh and empty)."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    needs_upgrade = False
    if url.startswith("postgresql"):
        if not _empty_postgresql_at_head(url):
            _reset_postgresql(url)
            needs_upgrade = True
    elif url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copyfile(migrated_sqlite, target)
    else:
        needs_upgrade = True
    application = create_app(config)
    with application.app_context():
        if needs_upgrade:
            upgrade()
        limiter.reset()  # rate-limit counters start at zero for every test
    return application


@pytest.fixture
def app_config(tmp_path):
    """The settings a test app is built with; tests may change them before `app` is made."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path),
        "MAIL_SERVER": "",
        "MAIL_DEFAULT_SENDER": "Beredskapsklyngen <klynge@rsvp.test>",
        "KLYNGE_BASE_URL": "https://rsvp.test",
        "KLYNGE_SENDER_THREAD": False,
        # No test asks the real Enhetsregisteret: tests/test_registry.py serves its own.
        "KLYNGE_BRREG_URL": "",
        "OUTBOX_POLL_SECONDS": 0.05,
        "SMTP_TIMEOUT": 5.0,
        # scrypt's cost is the point in production; here it would only slow every login down.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


@pytest.fixture
def app(app_config, migrated_sqlite):
    """An app whose database schema was made by the migrations."""
    application = prepared_app(app_config, migrated_sqlite)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(migrated_sqlite):
    """Build extra apps from a config (migrated, limits reset); their engines are closed after."""
    made = []

    def make(config: dict, *, migrate: bool = True):
        application = prepared_app(config, migrated_sqlite) if migrate else create_app(config)
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context, for calling services directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_gathering(app):
    """Create a published gathering (in the current app context) with sensible defaults."""

    def make(**overrides) -> object:
        starts_at = overrides.pop("starts_at", NOW + timedelta(days=30))
        values = {
            "title": "Frokostmøte om beredskap",
            "format": "Frokostmøte",
            "starts_at": starts_at,
            "ends_at": overrides.pop("ends_at", starts_at + timedelta(hours=2)),
            "venue_name": "Ole Bull Scene",
            "venue_address": "Øvre Ole Bulls plass 3, 5012 Bergen",
            "host": "Bergen kommune",
            "description": "Om beredskap.",
            "status": GatheringStatus.PUBLISHED,
            "now": overrides.pop("now", NOW),
            "slug": overrides.pop("slug", f"samling-{uuid.uuid4().hex[:8]}"),
        }
        values.update(overrides)
        return gatherings.create(**values)

    return make


def person(n: int | str = 1, **overrides) -> Person:
    """A participant with a distinct address."""
    values = {"name": f"Deltaker {n}", "email": f"deltaker{n}@example.no", "job_title": "Rådgiver"}
    values.update(overrides)
    return Person(**values)


def registration_request(n: int | str = 1, **overrides) -> RegistrationRequest:
    """A valid registration request for person `n`."""
    values = {
        "person": person(n),
        "organisation_name": "Bergen kommune",
        "sector": Sector.PUBLIC,
        "consent": True,
    }
    values.update(overrides)
    return RegistrationRequest(**values)


# --- a real SMTP server -------------------------------------------------------------------


class EphemeralController(Controller):
    """aiosmtpd's Controller on a free port.

    With port=0 the plain Controller connects to port 0 to see that its server is up and fails;
    this one reads the port the kernel chose from the listening socket first.
    """

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class RecordingHandler:
    """Keeps every accepted message; can be told to answer with an error instead."""

    messages: list = field(default_factory=list)
    peers: list = field(default_factory=list)  # each message's client address: its connection
    reply: str | None = None  # e.g. "451 4.3.0 try later" or "554 5.7.1 no"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.reply is not None:
            return self.reply
        with self.lock:
            self.messages.append(envelope)
            self.peers.append(session.peer)
        return "250 OK"

    def parsed(self):
        """The accepted messages, parsed."""
        with self.lock:
            return [message_from_bytes(e.original_content, policy=policy.default)
                    for e in self.messages]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; `.handler` records or refuses messages."""
    handler = RecordingHandler()
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp_config(app_config, smtp_server):
    """Point the app (built after this fixture) at the test SMTP server."""
    app_config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port})
    return app_config


# --- a real Redis server (rate-limit counters shared by processes) -------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis server of the test session's own on 127.0.0.1, keeping nothing on disk; its URL
    for RATELIMIT_STORAGE_URI. Skips where the redis-server program is missing."""
    import socket
    import subprocess
    import time

    program = shutil.which("redis-server")
    if program is None:
        pytest.skip("redis-server is not installed (python3 dev.py test installs it on Debian)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [program, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


# --- organisers ------------------------------------------------------------------------------

ORGANISER_PASSWORD = "korrekt hest batteri stift"


@pytest.fixture
def make_organiser(app):
    """Create an organiser account (in its own app context) and return its email. Accounts that
    must have a second factor (administrators, by default) get one, as if set up with an app;
    `log_in` computes their codes. second_factor=True/False overrides."""
    from klynge_rsvp import organisers
    from klynge_rsvp.models import OrganiserRole

    def make(email="arrangor@bergen.kommune.no", role=OrganiserRole.ORGANISER, name="Arrangør",
             second_factor=None):
        with app.app_context():
            organiser = organisers.create(email, ORGANISER_PASSWORD, name=name, role=role, now=NOW)
            if second_factor is None:
                second_factor = organisers.needs_second_factor(
                    organiser, app.config["KLYNGE_REQUIRE_TOTP"])
            if second_factor:
                enrol_second_factor(organiser)
            db.session.commit()
        return email

    return make


def enrol_second_factor(organiser) -> None:
    """Give the account a TOTP secret, as setting it up with an app would (no recovery codes)."""
    import pyotp

    organiser.totp_secret = pyotp.random_base32()
    organiser.totp_enabled_at = NOW


def totp_code(app, email) -> str:
    """The code the account's authenticator app shows now: one of a time step the server has
    not accepted yet (a code works once), waiting for the next step if the account used up
    this one and the next."""
    import time

    import pyotp

    from klynge_rsvp import organisers
    from klynge_rsvp.clock import utcnow

    with app.app_context():
        organiser = organisers.find_by_email(email)
        totp = pyotp.TOTP(organiser.totp_secret)
        last = organiser.totp_last_counter
        db.session.rollback()
    while True:
        current = totp.timecode(utcnow())
        step = current if last is None else max(current, last + 1)
        if step <= current + 1:
            return totp.generate_otp(step)
        time.sleep(totp.interval - utcnow().timestamp() % totp.interval + 0.05)


def csrf_token_of(page_text: str) -> str:
    import re

    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page_text).group(1)


def log_in(client, email, password=ORGANISER_PASSWORD):
    """Log in through the real login form, and the code step with the app's code where the
    account has a second factor; returns the last response."""
    page = client.get("/arrangor/innlogging")
    response = client.post("/arrangor/innlogging", data={
        "csrf_token": csrf_token_of(page.text), "email": email, "password": password})
    if response.status_code == 302 and "/arrangor/innlogging/kode" in response.headers["Location"]:
        step = response.headers["Location"]
        page = client.get(step)
        response = client.post(step, data={"csrf_token": csrf_token_of(page.text),
                                           "code": totp_code(client.application, email)})
    return response


@pytest.fixture
def organiser_client(app, make_organiser):
    """A test client logged in as an organiser (role: organiser)."""
    client = app.test_client()
    response = log_in(client, make_organiser())
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def admin_client(app, make_organiser):
    """A test client logged in as an administrator."""
    from klynge_rsvp.models import OrganiserRole

    client = app.test_client()
    email = make_organiser("admin@bergen.kommune.no", role=OrganiserRole.ADMINISTRATOR)
    assert log_in(client, email).status_code == 302
    return client
