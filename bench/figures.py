"""How long the figures across gatherings take at 1,000, 10,000 and 100,000 registrations.

    .venv/bin/python -m bench.figures            # SQLite, in a temporary folder
    .venv/bin/python -m bench.figures 1000 5000  # other sizes

For each size it builds a database with the migrations, fills it with plain INSERTs (one
gathering per 1,000 registrations, half of them with check-in, 5 % anonymised, people and
organisations coming back), then times `figures.figures` for all years and for one year, beside
the overview's `statistics.reach()` (one GROUP BY over every registration, the baseline) in
alternating rounds, and prints the medians in milliseconds and as a ratio to the baseline.
Numbers only: nothing here is asserted (CONTRIBUTING.md, "Speed targets live in bench/").
"""

from __future__ import annotations

import logging
import statistics as stats
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_migrate import upgrade

from klynge_rsvp import create_app, figures, statistics
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    Gathering,
    GatheringStatus,
    Organisation,
    Registration,
    RegistrationStatus,
    Sector,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OSLO = ZoneInfo("Europe/Oslo")
ROUNDS = 5


def fill(count: int) -> None:
    gatherings = max(count // 1000, 3)
    organisations = max(count // 50, 20)
    people = max(count // 4, count // gatherings + 1)  # so no one is twice at one gathering
    start = datetime(2018, 2, 23, 8, tzinfo=UTC)
    db.session.execute(sa.insert(Organisation), [
        {"name": f"Virksomhet {n}", "name_key": f"virksomhet {n}", "sector": list(Sector)[n % 4],
         "created_at": start} for n in range(organisations)])
    rows = []
    for g in range(gatherings):
        starts_at = start + timedelta(days=(NOW - start).days * g // gatherings)
        rows.append({"slug": f"samling-{g}", "title": f"Samling {g}", "format": "Frokostmøte",
                     "venue_name": "Bergen", "starts_at": starts_at,
                     "ends_at": starts_at + timedelta(hours=2), "status": GatheringStatus.PUBLISHED,
                     "ical_uid": f"{uuid.uuid4()}@bench", "created_at": start, "updated_at": start})
    db.session.execute(sa.insert(Gathering), rows)
    gathering_ids = db.session.scalars(sa.select(Gathering.id).order_by(Gathering.id)).all()
    organisation_ids = db.session.scalars(sa.select(Organisation.id).order_by(Organisation.id)).all()
    statuses = [RegistrationStatus.CONFIRMED] * 8 + [RegistrationStatus.WAITING,
                                                     RegistrationStatus.CANCELLED]
    batch = []
    for n in range(count):
        g = n % len(gathering_ids)
        person = (n // len(gathering_ids) + 37 * g) % people  # comes back at other gatherings
        email = f"p{person}@example.no"
        anonymised = n % 20 == 0
        if anonymised:
            email = f"slettet-x{n}@invalid"
        batch.append({
            "gathering_id": gathering_ids[g],
            "organisation_id": organisation_ids[person % len(organisation_ids)],
            "name": "Deltaker", "sort_name": "deltaker", "email": email, "email_key": email,
            "consented_at": start,
            "status": statuses[n % len(statuses)], "token": uuid.uuid4().hex + str(n),
            "checked_in_at": start if g % 2 == 0 and n % 3 else None,
            "anonymised_at": start if anonymised else None,
            "created_at": start, "updated_at": start})
        if len(batch) == 5000:
            db.session.execute(sa.insert(Registration), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(Registration), batch)
    db.session.commit()


def timed(work) -> float:
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) * 1000


def run(count: int, folder: Path) -> str:
    path = folder / f"figures-{count}.sqlite3"
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-" * 6,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
        fill(count)
        year = figures.years(NOW, OSLO)[1]
        subjects = {
            "reach() baseline": statistics.reach,
            "figures, all years": lambda: figures.figures(NOW, figures.Period(), OSLO),
            f"figures, {year}": lambda: figures.figures(NOW, figures.Period(year), OSLO),
        }
        times = {name: [] for name in subjects}
        for _ in range(ROUNDS):
            for name, work in subjects.items():
                times[name].append(timed(work))
                db.session.rollback()
        organisations = len(figures.figures(NOW, figures.Period(), OSLO).organisations)
        db.engine.dispose()
    base = stats.median(times["reach() baseline"])
    lines = [f"{count:>7,} registrations ({organisations} organisations with attendance), "
             f"median of {ROUNDS}:"]
    for name, values in times.items():
        median = stats.median(values)
        lines.append(f"  {name:<22} {median:8.1f} ms  (min {min(values):.1f}, max {max(values):.1f})"
                     f"  ×{median / base:.2f} of baseline")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    logging.disable(logging.INFO)  # the migrations' lines
    sizes = [int(size) for size in argv] or [1_000, 10_000, 100_000]
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            print(run(count, Path(folder)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
