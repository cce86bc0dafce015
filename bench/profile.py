"""Where the time goes: one scenario in-process under pyinstrument, on a temporary SQLite
database (or DATABASE_URL), printed as a call tree.

    .venv/bin/python -m bench.profile registration   GET form, POST, GET receipt (×200)
    .venv/bin/python -m bench.profile postpone       postpone a gathering with 500 registrants
    .venv/bin/python -m bench.profile list           first page (100) of a list of 500 registrations (×20)
    .venv/bin/python -m bench.profile dashboard      the overview, 20 gatherings × 500 registrations (×20)
    .venv/bin/python -m bench.profile send           deliver 300 queued messages (needs no server:
                                                     an SMTP sink is started on 127.0.0.1)

Needs the `bench` extra (pip install -e '.[test,bench]'). For a running process, py-spy:
`py-spy top --pid <gunicorn worker pid>` or `py-spy record -o profile.svg --pid …`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import seed, services
from bench.loadgen import TOKEN


def main() -> None:
    from flask_migrate import upgrade
    from pyinstrument import Profiler

    from klynge_rsvp import create_app, lifecycle
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db
    from klynge_rsvp.mail import delivery
    from klynge_rsvp.models import Gathering

    scenario = sys.argv[1] if len(sys.argv) > 1 else "registration"
    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="klynge-profile-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'profile.sqlite3'}"
    sink = None
    config = {"SECRET_KEY": services.SECRET, "SQLALCHEMY_DATABASE_URI": url,
              "KLYNGE_BASE_URL": "http://127.0.0.1", "MAIL_DEFAULT_SENDER": services.SENDER,
              "REGISTRATION_RATE_LIMIT": "1000000 per minute",
              "REGISTRATION_GATHERING_RATE_LIMIT": "1000000 per minute",
              "LOGIN_RATE_LIMIT": "1000 per minute"}
    if scenario == "send":
        port = services.free_port()
        sink = subprocess.Popen([services.PYTHON, "-m", "bench.smtp_sink", str(port),
                                 str(folder / "accepted.log")],
                                env={**os.environ, "PYTHONPATH": str(services.ROOT)})
        time.sleep(1.5)
        config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port})
    app = create_app(config)
    profiler = Profiler(interval=0.0005)
    if scenario not in ("registration", "postpone", "list", "dashboard", "send"):
        sys.exit(__doc__)
    with app.app_context():
        upgrade()
        gathering = seed.gathering(capacity=None)
        slug, gathering_id = gathering.slug, gathering.id
        db.session.commit()
        if scenario == "postpone":
            seed.registrations(gathering_id, 500, domain="p.bench")
            with profiler:
                lifecycle.postpone(db.session.get(Gathering, gathering_id), message="Ny dato kommer.",
                                   now=utcnow(), by=None)
                db.session.commit()
        elif scenario == "send":
            seed.registrations(gathering_id, 300, domain="s.bench")
            lifecycle.postpone(db.session.get(Gathering, gathering_id), message="x", now=utcnow(),
                               by=None)
            db.session.commit()
            with profiler:
                while delivery.deliver_due().claimed:
                    pass
        elif scenario == "list":
            seed.registrations(gathering_id, 500, domain="l.bench", waiting=20, cancelled=10)
            login, path = seed.organiser(), f"/arrangor/samlinger/{gathering_id}/pameldinger"
        elif scenario == "dashboard":
            seed.pages_dataset()
            login, path = seed.organiser(), "/arrangor/"
    # Requests outside the set-up's app context: each must push its own (g, CSRF token).
    if scenario == "registration":
        def once(n: int) -> None:
            client = app.test_client()  # a new visitor, with a new session
            page = client.get(f"/samlinger/{slug}").text
            response = client.post(f"/samlinger/{slug}", data={
                "csrf_token": TOKEN.search(page).group(1), "name": f"Deltaker {n}",
                "email": f"p{n}@example.no", "organisation": "Bergen kommune",
                "sector": "offentlig", "consent": "y"})
            assert response.status_code == 303, response.status_code
            client.get(response.headers["Location"])

        for n in range(10):
            once(n)
        with profiler:
            for n in range(10, 210):
                once(n)
    elif scenario in ("list", "dashboard"):
        client = app.test_client()
        page = client.get("/arrangor/innlogging").text
        client.post("/arrangor/innlogging", data={"csrf_token": TOKEN.search(page).group(1),
                                                  **login})
        assert client.get(path).status_code == 200
        with profiler:
            for _ in range(20):
                client.get(path)
    if sink is not None:
        sink.terminate()
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
