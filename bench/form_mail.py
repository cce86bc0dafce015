"""How much mail one client address can cause through the registration form in an hour.

    .venv/bin/python bench/form_mail.py            # the code in this folder
    PYTHONPATH=/tmp/old .venv/bin/python bench/form_mail.py   # another checkout's code

Drives the real form (GET the page, POST with the CSRF token) through Flask's test client, so
every request comes from one address (127.0.0.1), with the limits as configured by default and
`memory://` counters: one app process. The clock is simulated (the limits' and the view's), so an
hour takes a minute. Every 2 simulated seconds (every minute in the second run) the client tries
the form that causes the most mail, and when that is refused, the next best. Two runs of one
simulated hour each: every address new (itself and 20 colleagues, else itself alone), which gives
the most mail in all; and one stranger's address typed again and again (as a colleague, else as
the client's own), which gives the most mail to one person. Prints the mail each run queued.

With N app processes and `memory://`, the counters are per process: multiply by N. With
`RATELIMIT_STORAGE_URI=redis://…` they are shared, and the figure is the figure.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import types
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR = 3600
COLLEAGUES = 20
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class SimulatedClock:
    """`time` as the limits library sees it: the real module, with time() standing still but
    for the simulated seconds added (the run itself takes real time that must not count)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.start = time.time()

    def install(self) -> None:
        import limits.storage.memory as memory

        real = memory.time
        shim = types.SimpleNamespace(**{name: getattr(real, name) for name in dir(real)
                                        if not name.startswith("__")})
        shim.time = lambda: self.start + self.offset
        memory.time = shim
        # The app's own clock too (it keys the "already registered" mail by the minute).
        import klynge_rsvp.public.views as views

        views.utcnow = lambda: datetime.fromtimestamp(self.start + self.offset, UTC)


def form(token: str, n: int, colleagues: list[str], me: str | None = None) -> dict:
    data = {"csrf_token": token, "name": f"Avsender {n}", "email": me or f"avsender{n}@example.no",
            "job_title": "", "organisation": "Bergen kommune", "sector": "offentlig",
            "org_number": "", "needs": "", "comment": "", "consent": "y"}
    for c, address in enumerate(colleagues):
        data[f"colleagues-{c}-name"] = f"Kollega {c}"
        data[f"colleagues-{c}-email"] = address
    return data


def most_mail(n: int) -> list[dict]:
    """Every address new: the client itself and 20 colleagues, or itself alone."""
    return [{"colleagues": [f"kollega{n}-{c}@example.no" for c in range(COLLEAGUES)]},
            {"colleagues": []}]


def one_stranger(n: int) -> list[dict]:
    """One stranger's address again and again: as a colleague, or as the client's own (once a
    minute: the code before kept one "already registered" mail per address and minute)."""
    return [{"colleagues": [VICTIM]}, {"colleagues": [], "me": VICTIM}]


VICTIM = "fremmed@example.org"


def run(app, clock, slug: str, attempts, step: int) -> int:
    """Try the forms `attempts` gives every `step` seconds for an hour; the forms accepted."""
    client = app.test_client()
    url = f"/samlinger/{slug}"
    n, accepted = 0, 0
    clock.offset = 0.0
    while clock.offset < HOUR:
        token = TOKEN.search(client.get(url).text).group(1)
        n += 1
        for attempt in attempts(n):
            if client.post(url, data=form(token, n, **attempt)).status_code == 303:
                accepted += 1
                break
        clock.offset += step
    return accepted


def main() -> int:
    from flask_migrate import upgrade

    import klynge_rsvp
    from klynge_rsvp import create_app, gatherings
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db, limiter
    from klynge_rsvp.models import Gathering, GatheringStatus, OutboxMessage

    folder = Path(tempfile.mkdtemp(prefix="form-mail-"))
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "MAIL_SERVER": "",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'budget.sqlite3'}",
                      "KLYNGE_BASE_URL": "https://rsvp.test",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    clock = SimulatedClock()
    clock.install()
    with app.app_context():
        upgrade()
        now = utcnow()
        for slug in ("frokost", "lunsj"):
            gatherings.create(
                title="Frokostmøte", format="Frokostmøte", starts_at=now + timedelta(days=30),
                ends_at=now + timedelta(days=30, hours=2), venue_name="Ole Bull Scene",
                status=GatheringStatus.PUBLISHED, now=now, slug=slug, capacity=None)
        db.session.commit()

    def mail_of(slug):
        with app.app_context():
            return Counter(db.session.scalars(
                db.select(OutboxMessage.recipient).join(OutboxMessage.registration)
                .join(Gathering).where(Gathering.slug == slug)))

    started = time.monotonic()
    accepted = run(app, clock, "frokost", most_mail, step=2)
    mail = mail_of("frokost")
    print(f"code: {Path(klynge_rsvp.__file__).parent.parent}")
    print(f"every address new: forms accepted in an hour from one client address: {accepted}")
    print(f"every address new: mails queued in an hour from one client address: "
          f"{sum(mail.values())} (to {len(mail)} addresses)")
    with app.app_context():
        limiter.reset()
    run(app, clock, "lunsj", one_stranger, step=60)
    print(f"one stranger's address again and again: mails to that address in an hour: "
          f"{mail_of('lunsj')[VICTIM]}")
    print(f"(one app process, memory:// counters; simulated in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
