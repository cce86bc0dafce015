"""`flask klynge worker` as a real process: it delivers committed mail and stops on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.conftest import registration_request


def test_worker_process_delivers_and_stops_cleanly(smtp_config, app, smtp_server, make_gathering):
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        for n in (1, 2):
            rsvp.register(gathering, registration_request(n), now=utcnow())
        db.session.commit()

    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SECRET_KEY": "worker-test-secret-0123456789",
        "DATABASE_URL": smtp_config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_DEFAULT_SENDER": smtp_config["MAIL_DEFAULT_SENDER"],
        "KLYNGE_BASE_URL": "https://rsvp.test",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "klynge", "worker"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while len(smtp_server.handler.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(e.rcpt_tos[0] for e in smtp_server.handler.messages) == [
            "deltaker1@example.no", "deltaker2@example.no"]
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "Worker stopped." in output
    assert len(smtp_server.handler.messages) == 2
