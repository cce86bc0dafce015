"""Scale-out: separate app servers and workers on one database behave as one service, and a
worker in its own process hears about new mail at once (NOTIFY; SQLite's data_version)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import timedelta
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import outbox, wakeup
from klynge_rsvp.models import OutboxMessage, OutboxStatus, Registration, RegistrationStatus
from tests.conftest import registration_request
from tests.scale_out_helpers import (
    environment,
    start_app_server,
    start_worker,
    stop_all,
    wait_for,
)

SEATS = 5
PEOPLE = 30


def on_postgresql() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def test_a_worker_process_is_woken_by_a_commit_in_another_process(smtp_config, app, smtp_server,
                                                                  make_gathering, tmp_path):
    """With a one-minute poll, mail committed elsewhere still goes out within seconds."""
    received = smtp_server.handler.messages
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
        gathering_id = gathering.id
    worker = start_worker(environment(smtp_config, smtp_server.port, OUTBOX_POLL_SECONDS="60"),
                          tmp_path / "worker.log")
    try:
        assert wait_for(lambda: len(received) == 1, timeout=30)  # its first pass
        # Let it finish that pass and go back to waiting: the next mail must wake it.
        time.sleep(1.0)
        started = time.monotonic()
        with app.app_context():
            gathering = db.session.get(type(gathering), gathering_id)
            rsvp.register(gathering, registration_request(2), now=utcnow())
            db.session.commit()
        # Far sooner than the 60 s poll: a deadline, not a timing measurement.
        assert wait_for(lambda: len(received) == 2, timeout=20)
        assert time.monotonic() - started < 20
    finally:
        [output] = stop_all([worker])
    assert worker.returncode == 0, output
    assert sorted(e.rcpt_tos[0] for e in received) == ["deltaker1@example.no",
                                                       "deltaker2@example.no"]


def test_notify_is_sent_only_when_mail_is_committed(app):
    """The NOTIFY rides in the committing transaction: a rollback takes it back."""
    if not on_postgresql():
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers watch data_version instead")
    with app.app_context():
        listener = db.engine.raw_connection()
        try:
            driver = listener.driver_connection
            driver.rollback()
            driver.autocommit = True
            driver.execute(f"LISTEN {wakeup.NOTIFY_CHANNEL}")
            mail = outbox.ComposedMail(kind="test", recipient="a@example.no", subject="x",
                                       message=b"x")

            outbox.enqueue(mail, key="rolled-back", now=utcnow())
            db.session.rollback()
            assert list(driver.notifies(timeout=0.3)) == []

            outbox.enqueue(mail, key="committed-1", now=utcnow())
            outbox.enqueue(mail, key="committed-2", now=utcnow())
            db.session.commit()
            notes = list(driver.notifies(timeout=2, stop_after=1))
            assert [n.channel for n in notes] == [wakeup.NOTIFY_CHANNEL]
            assert list(driver.notifies(timeout=0.3)) == []  # one per transaction
        finally:
            listener.invalidate()


def register_over_http(base_url: str, slug: str, n: int, barrier: threading.Barrier) -> int:
    """GET the form, wait for everyone, POST it and follow to the receipt; the final status."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base_url}/samlinger/{slug}", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({
        "csrf_token": token, "name": f"Person {n}", "email": f"person{n}@example.no",
        "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y",
    }).encode()
    barrier.wait(timeout=60)
    with opener.open(f"{base_url}/samlinger/{slug}", data=data, timeout=60) as response:
        assert response.url.endswith("/kvittering")
        return response.status


def healthz(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/healthz", timeout=10) as response:  # noqa: S310
        return json.load(response)


@pytest.mark.postgres
def test_two_app_servers_and_three_workers_never_overbook_and_send_each_mail_once(
        smtp_config, app, smtp_server, make_gathering, tmp_path):
    if not on_postgresql():
        pytest.skip("the scale-out layout runs on PostgreSQL (set TEST_DATABASE_URL)")
    with app.app_context():
        slug = make_gathering(capacity=SEATS, now=utcnow(),
                              starts_at=utcnow() + timedelta(days=5)).slug
        db.session.commit()

    env = environment(smtp_config, smtp_server.port, OUTBOX_POLL_SECONDS="30",
                      OUTBOX_BATCH_SIZE="4")
    processes = []
    try:
        servers = [start_app_server(env, tmp_path / f"web{n}.log") for n in range(2)]
        processes += [server for server, _ in servers]
        workers = [start_worker(env, tmp_path / f"worker{n}.log") for n in range(3)]
        processes += workers

        barrier = threading.Barrier(PEOPLE)
        statuses: list[int] = []
        threads = [threading.Thread(target=lambda n=n: statuses.append(
            register_over_http(servers[n % 2][1], slug, n, barrier))) for n in range(PEOPLE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert statuses == [200] * PEOPLE

        received = smtp_server.handler.messages
        assert wait_for(lambda: len(received) >= PEOPLE, timeout=60), len(received)
        time.sleep(0.5)  # a duplicate, if any, would arrive now
        health = [healthz(url) for _, url in servers]
    finally:
        outputs = stop_all(processes)
    assert all(p.returncode == 0 for p in processes), "\n".join(outputs)
    assert len(outputs[2:]) == len(workers) == 3
    assert all("Worker stopped." in output for output in outputs[2:])

    with app.app_context():
        people = db.session.scalars(sa.select(Registration)).all()
        assert len(people) == PEOPLE
        assert sum(p.status == RegistrationStatus.CONFIRMED for p in people) == SEATS
        assert sum(p.status == RegistrationStatus.WAITING for p in people) == PEOPLE - SEATS
        assert set(db.session.scalars(sa.select(OutboxMessage.status))) == {OutboxStatus.SENT}

    per_recipient = Counter(e.rcpt_tos[0] for e in received)
    assert len(per_recipient) == PEOPLE and set(per_recipient.values()) == {1}
    subjects = sorted(str(m["Subject"]).split(":")[0] for m in smtp_server.handler.parsed())
    assert subjects == ["Påmeldt"] * SEATS + ["Venteliste"] * (PEOPLE - SEATS)
    # Both servers see the one outbox: nothing pending, nothing failed.
    for figures in health:
        assert figures["status"] == "ok"
        assert figures["outbox"]["pending"] == 0 and figures["outbox"]["failed"] == 0
