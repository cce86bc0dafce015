"""Several `flask klynge worker` processes: each message delivered exactly once, also when a
worker is killed in the middle of a batch."""

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import outbox
from klynge_rsvp.models import OutboxMessage, OutboxStatus
from klynge_rsvp.notifications import message
from tests.conftest import EphemeralController, RecordingHandler


def queue_messages(count: int) -> None:
    now = utcnow()
    for n in range(count):
        mail = message.build(kind="test", to_name=f"Person {n}", to_email=f"p{n}@example.no",
                             subject=f"Melding {n}", text=f"Hei {n}", html=f"<p>Hei {n}</p>",
                             now=now)
        outbox.enqueue(mail, key=f"test:{n}", now=now)
    db.session.commit()


def start_worker(config: dict, port: int, log=None, **extra_env) -> subprocess.Popen:
    """A `flask klynge worker` process; its output goes to `log` (a path) or a pipe."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SECRET_KEY": "worker-test-secret-0123456789",
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "MAIL_DEFAULT_SENDER": config["MAIL_DEFAULT_SENDER"],
        "KLYNGE_BASE_URL": "https://rsvp.test",
        "OUTBOX_POLL_SECONDS": "0.2",
        **extra_env,
    }
    if log is None:
        return subprocess.Popen([sys.executable, "-m", "flask", "klynge", "worker"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log, "ab") as out:  # a file: a pipe nobody reads blocks a worker that logs a lot
        return subprocess.Popen([sys.executable, "-m", "flask", "klynge", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.communicate(timeout=30)


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_three_workers_deliver_each_message_exactly_once(smtp_config, app, smtp_server):
    with app.app_context():
        queue_messages(300)
    workers = [start_worker(smtp_config, smtp_server.port, OUTBOX_BATCH_SIZE="20")
               for _ in range(3)]
    try:
        assert wait_for(lambda: len(smtp_server.handler.messages) >= 300, timeout=60)
        time.sleep(0.5)  # a duplicate, if any, would arrive now
    finally:
        stop(workers)
    received = Counter(e.rcpt_tos[0] for e in smtp_server.handler.messages)
    assert len(received) == 300
    assert set(received.values()) == {1}
    assert all(w.returncode == 0 for w in workers)


@dataclass
class StallingHandler(RecordingHandler):
    """Accepts mail, but holds the `stall_at`-th MAIL FROM, and every one after it, until
    released: each of a worker's connections hangs at its next message."""

    stall_at: int = 6
    mails: int = 0
    stalled: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if self.mails >= self.stall_at:
            self.stalled += 1
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        envelope.mail_from = address
        return "250 OK"


@pytest.fixture
def stalling_server():
    controller = EphemeralController(StallingHandler(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.handler.release.set()
    controller.stop()


def sent_count() -> int:
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.SENT))


@pytest.mark.parametrize("connections", [1, 2])
def test_killed_worker_messages_are_reclaimed_and_sent_once(app_config, app, stalling_server,
                                                            connections):
    with app.app_context():
        queue_messages(20)
    handler = stalling_server.handler
    settings = {"OUTBOX_LEASE_SECONDS": "3", "OUTBOX_SMTP_CONNECTIONS": str(connections)}
    if connections > 1:
        # Each connection goes on while a whole message (4 timeouts) fits in the claim; with
        # one, a pass of one message each is enough to reach the stall.
        settings.update({"OUTBOX_LEASE_SECONDS": "9", "SMTP_TIMEOUT": "2"})
    first = start_worker(app_config, stalling_server.port, **settings)
    try:
        # Every connection hangs at a MAIL FROM, after what it sent before was recorded.
        assert wait_for(lambda: handler.stalled == connections, timeout=30)
        with app.app_context():
            assert wait_for(lambda: sent_count() == len(handler.messages), timeout=10)
        first.send_signal(signal.SIGKILL)  # dies holding a claim on the unsent rows
        first.communicate(timeout=10)
    finally:
        handler.release.set()
    assert len(handler.messages) == 5

    second = start_worker(app_config, stalling_server.port, **settings)
    try:
        assert wait_for(lambda: len(handler.messages) >= 20, timeout=30)
        time.sleep(0.5)
    finally:
        stop([second])
    received = Counter(e.rcpt_tos[0] for e in handler.messages)
    assert len(received) == 20
    assert set(received.values()) == {1}


# --- the database drops its connections in the middle of a run ---------------------------------


@dataclass
class CountingHandler(RecordingHandler):
    """Accepts every message, a little slowly (a relay's few milliseconds): a run of 300 takes
    long enough for the database to be cut off several times in the middle of it."""

    delay: float = 0.02

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> Counter:
        with self.lock:
            contents = [e.original_content for e in self.messages]
        return Counter(message_from_bytes(c, policy=policy.default)["Message-ID"] for c in contents)


@pytest.fixture
def counting_server():
    controller = EphemeralController(CountingHandler(), hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


OBSERVER = "klynge-test-observer"  # the test's own connections, which are never cut


def observer(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool,
                            connect_args={"application_name": OBSERVER})


def terminate_other_connections(url: str) -> int:
    """What a failover, a restarted PgBouncer or an administrator does: every connection to the
    database is cut (but the test's own)."""
    engine = observer(url)
    try:
        with engine.connect() as connection:
            return len(connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name <> :observer"),
                {"observer": OBSERVER}).all())
    finally:
        engine.dispose()


def statuses(url: str) -> Counter:
    engine = observer(url)
    try:
        with engine.connect() as connection:
            return Counter(status for (status,) in connection.execute(
                sa.select(OutboxMessage.status)))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_database_connections_cut_during_a_run_send_each_mail_exactly_once(app_config, app,
                                                                            counting_server,
                                                                            tmp_path):
    """A real worker delivers 300 mails while every connection it has to PostgreSQL is cut
    again and again (while it claims, sends, records, releases, or waits): each mail arrives
    once, and every row ends sent."""
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("cuts PostgreSQL connections (set TEST_DATABASE_URL)")
    with app.app_context():
        queue_messages(300)
        db.session.remove()
        db.engine.dispose()  # (pooled, they would be cut too; the test reads as OBSERVER)
    handler = counting_server.handler
    # A short claim: a message accepted but never recorded as sent would go again within the
    # test (the duplicate this test exists to catch), not five minutes later.
    log = tmp_path / "worker.log"
    # Batches of 40: more passes, so claims, reads and releases are cut too, not only "sent".
    worker = start_worker(app_config, counting_server.port, log, OUTBOX_LEASE_SECONDS="8",
                          SMTP_TIMEOUT="1", OUTBOX_BATCH_SIZE="40")
    cuts = []
    done = threading.Event()

    def cut_now_and_then():
        while not done.wait(random.uniform(0.05, 0.4)):
            cuts.append(terminate_other_connections(url))

    cutter = threading.Thread(target=cut_now_and_then, name="cutter", daemon=True)
    try:
        cutter.start()
        assert wait_for(lambda: statuses(url)[OutboxStatus.SENT] == 300, timeout=60), statuses(url)
        done.set()
        cutter.join()
        time.sleep(1)  # a late duplicate, if any, would arrive now
    finally:
        done.set()
        stop([worker])
    print(log.read_text())  # what the worker said, shown if the test fails
    assert len(cuts) >= 5 and sum(cuts) >= 5  # the worker's connections really were cut
    ids = handler.message_ids()
    assert len(ids) == 300
    duplicates = {message_id: n for message_id, n in ids.items() if n > 1}
    assert duplicates == {}, f"{sum(duplicates.values()) - len(duplicates)} sent twice"
    assert statuses(url) == Counter({OutboxStatus.SENT: 300})
    assert worker.returncode == 0
