"""Flat as data grows (issue 20, targets 3 and 5): the same figures at 1,000, 10,000 and 100,000
registrations, and the memory they take.

    .venv/bin/python -m bench.growth                                  # SQLite, 3 sizes
    .venv/bin/python -m bench.growth --db postgresql --output /tmp/growth.md --plots docs/performance

For each size it makes a database of its own (a SQLite file, or the PostgreSQL database
`$BENCH_PG_DATABASE_<size>`, default klynge_bench_growth_<size>), upgrades it with the migrations
and fills it with multi-row INSERTs: 20, 200 or 1,000 gatherings (14 upcoming, the rest held over
the past years), the registrations spread over them (people and organisations coming back), one
delivered mail and one or two history lines per registration, a few audit lines per gathering.
One upcoming gathering, the *measured* one, has 500 registrations at every size: what it shows
must not depend on the rest. Then one gunicorn per size (the production gunicorn.conf.py, 2 sync
workers) and one `flask klynge worker` per size run side by side, and every figure is measured
in interleaved rounds (round 1: 1k, 10k, 100k; round 2: 1k, 10k, 100k …), so that the machine's
noise falls on every size alike. Each figure is shown as median [min–max] and as the ratio of
its median to the median at the smallest size; the target is ≤ 1.2×.

Last, a separate database with one 50,000-row gathering (and one of 5,000): the web worker's
VmHWM after the 5,000-row exports and after the 50,000-row ones shows whether the exports stream
(constant memory) or build the file in memory.

Numbers only, nothing asserted (CONTRIBUTING.md, "Speed targets live in bench/"); run it under
`nice -n 19` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench import seed, services
from bench.__main__ import loadgen, log, machine
from bench.stats import Spread, percentile

GATHERINGS = {1_000: 20, 10_000: 200, 100_000: 1_000}
UPCOMING = 14
MEASURED = 500  # registrations in the measured gathering, at every size
MESSAGE = b"x" * 2048  # a delivered mail's stored bytes (the real ones are 6-10 KB)


# --- the app the gunicorns serve ---------------------------------------------------------------


def cold_app():
    """bench.wsgi_app's app, where `?benk_kald=1` drops the overview's reach figures reused in
    the process first, so that request pays what the first one in a minute pays: reading the
    figures the worker stored. `?benk_kald=uten` also passes over what the worker stored (the
    reach, the figures across gatherings), so the request computes them, as when no worker is
    storing them. Nothing else differs."""
    from flask import has_request_context, request

    from bench.wsgi_app import app
    from klynge_rsvp import figures, statistics

    def unless_asked(stored):
        def read(*args):
            if has_request_context() and request.args.get("benk_kald") == "uten":
                return None
            return stored(*args)
        return read

    statistics.stored_reach = unless_asked(statistics.stored_reach)
    figures.stored_page = unless_asked(figures.stored_page)

    @app.before_request
    def forget_reach() -> None:
        if request.args.get("benk_kald"):
            statistics.forget_recent_reach()

    return app


def has_stored_figures(url: str) -> bool:
    """Whether the worker has stored the reach and the figures across gatherings yet."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM figure_snapshots WHERE name IN ('reach', 'figures:alle')"
            )).scalar() == 2
    finally:
        engine.dispose()


# --- data --------------------------------------------------------------------------------------


def fill(size: int) -> dict:
    """`size` registrations over GATHERINGS[size] gatherings, with their mail, history and audit
    rows; returns what the measurements need (slugs and ids)."""
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db
    from klynge_rsvp.models import (
        AuditEntry,
        Gathering,
        GatheringStatus,
        OutboxMessage,
        OutboxStatus,
        Registration,
        RegistrationEvent,
        RegistrationStatus,
    )
    from klynge_rsvp.names import sort_key

    began = time.monotonic()
    now = utcnow()
    count_gatherings = GATHERINGS.get(size, max(size // 100, 20))
    orgs = seed.organisations(max(60, size // 50))
    login = seed.organiser()
    organiser_id = db.session.scalar(sa.text("SELECT id FROM organisers WHERE email = :e"),
                                     {"e": login["email"]})
    measured = seed.gathering(days_from_now=20, capacity=None, title="Benk: målt samling")
    signup = seed.gathering(days_from_now=25, capacity=None, title="Benk: påmelding")
    held = count_gatherings - UPCOMING
    rows = []
    for g in range(count_gatherings - 1):  # the measured one is the last
        if g < UPCOMING - 1:
            starts = now + timedelta(days=3 + 4 * g)
        else:  # held: spread over the past years, back to about 8 years ago
            starts = now - timedelta(days=7 + (3000 * (g - UPCOMING + 1)) // max(held, 1))
        rows.append({"slug": f"vekst-{g}-{uuid.uuid4().hex[:6]}", "title": f"Samling {g}",
                     "format": "Frokostmøte", "venue_name": "Bergen", "starts_at": starts,
                     "ends_at": starts + timedelta(hours=2), "status": GatheringStatus.PUBLISHED,
                     "capacity": 400, "ical_uid": f"{uuid.uuid4()}@bench",
                     "created_at": starts - timedelta(days=60),
                     "updated_at": starts - timedelta(days=60), "published_at": starts - timedelta(days=60),
                     "description": "Om beredskap. " * 10})
    db.session.execute(sa.insert(Gathering), rows)
    others = db.session.execute(sa.select(Gathering.id, Gathering.starts_at).where(
        Gathering.id.not_in([measured.id, signup.id])).order_by(Gathering.id)).all()
    targets = [(measured.id, measured.starts_at, MEASURED)]
    rest = size - MEASURED
    for n, (gid, starts) in enumerate(others):
        share = rest // len(others) + (1 if n < rest % len(others) else 0)
        targets.append((gid, starts, share))
    people = max(size // 4, 1000)
    statuses = [RegistrationStatus.CONFIRMED] * 8 + [RegistrationStatus.WAITING,
                                                     RegistrationStatus.CANCELLED]
    serial = 0
    batch: list[dict] = []

    def flush_batch() -> None:
        if not batch:
            return
        db.session.execute(sa.insert(Registration), batch)
        tokens = [row["token"] for row in batch]
        ids = db.session.execute(sa.select(Registration.id, Registration.email,
                                           Registration.checked_in_at, Registration.created_at)
                                 .where(Registration.token.in_(tokens))).all()
        db.session.execute(sa.insert(OutboxMessage), [
            {"idempotency_key": f"growth-{rid}", "kind": "confirmation", "recipient": email,
             "subject": "Du er påmeldt", "stored_message": MESSAGE, "registration_id": rid,
             "status": OutboxStatus.SENT, "attempts": 1, "next_attempt_at": created,
             "created_at": created, "sent_at": created, "transport": "smtp", "last_error": ""}
            for rid, email, _checked, created in ids])
        events = [{"registration_id": rid, "at": created, "kind": "registered", "note": ""}
                  for rid, _email, _checked, created in ids]
        events += [{"registration_id": rid, "at": checked, "kind": "checked_in",
                    "organiser_id": organiser_id, "note": ""}
                   for rid, _email, checked, _created in ids if checked]
        db.session.execute(sa.insert(RegistrationEvent), events)
        batch.clear()

    for gid, starts, share in targets:
        past = starts < now
        for k in range(share):
            person = (gid * 37 + k) % people  # once per gathering, coming back to others
            email = f"p{person}@vekst.test"
            status = statuses[serial % len(statuses)]
            created = min(starts, now) - timedelta(days=10, minutes=k)
            batch.append({
                "gathering_id": gid, "organisation_id": orgs[person % len(orgs)],
                "name": f"Deltaker {person} Ås", "sort_name": sort_key(f"Deltaker {person} Ås"),
                "email": email, "email_key": email,
                "job_title": "Rådgiver", "needs": "Vegetar" if serial % 10 == 0 else "",
                "comment": "", "consented_at": created, "status": status,
                "waiting_since": created if status == RegistrationStatus.WAITING else None,
                "token": uuid.uuid4().hex + uuid.uuid4().hex[:16], "language": "nb",
                "ical_sequence_bump": 0, "created_at": created, "updated_at": created,
                "cancelled_at": created if status == RegistrationStatus.CANCELLED else None,
                "checked_in_at": starts if past and status == RegistrationStatus.CONFIRMED
                and serial % 5 else None,
            })
            serial += 1
            if len(batch) >= 5000:
                flush_batch()
    flush_batch()
    steady_state(now)
    audit = []
    for gid, starts, _share in targets:
        for action in ("created", "published", "changed", "mail_sent"):
            audit.append({"at": starts - timedelta(days=60), "organiser_id": organiser_id,
                          "actor": login["email"], "action": action, "gathering_id": gid,
                          "summary": "Benk"})
    db.session.execute(sa.insert(AuditEntry), audit)
    seed.sent_and_failed_mail()
    db.session.commit()
    counted = {name: db.session.scalar(sa.text(f"SELECT count(*) FROM {name}"))  # noqa: S608
               for name in ("gatherings", "registrations", "outbox_messages",
                            "registration_events", "audit_entries")}
    log(f"seeded {size:,}: {counted} in {time.monotonic() - began:.1f} s")
    return {"measured": measured.id, "measured_slug": measured.slug, "signup_slug": signup.slug,
            "login": login, "counted": counted, "seconds": time.monotonic() - began}


def steady_state(now) -> None:
    """What the daily purge (privacy.purge_personal_data) has done to the held gatherings by
    now: registrations past the retention anonymised and their mail deleted, needs answers gone
    from gatherings past NEEDS_RETENTION_DAYS. Without it the sender worker's first pass would
    anonymise years of backlog in one transaction while being measured."""
    from flask import current_app

    from klynge_rsvp.extensions import db
    from klynge_rsvp.models import Gathering, OutboxMessage, Registration
    from klynge_rsvp.names import sort_key
    from klynge_rsvp.privacy import ERASED_NAME

    config = current_app.config
    old = sa.select(Gathering.id).where(
        Gathering.ends_at < now - timedelta(days=config["PERSONAL_DATA_RETENTION_DAYS"]))
    old_registrations = sa.select(Registration.id).where(Registration.gathering_id.in_(old))
    db.session.execute(sa.delete(OutboxMessage).where(
        OutboxMessage.registration_id.in_(old_registrations)))
    erased = sa.literal("slettet-") + sa.cast(Registration.id, sa.String) + sa.literal("@invalid")
    db.session.execute(sa.update(Registration).where(Registration.gathering_id.in_(old)).values(
        name=ERASED_NAME, sort_name=sort_key(ERASED_NAME), email=erased, email_key=erased,
        job_title="", needs="", comment="",
        anonymised_at=now - timedelta(days=1), updated_at=now - timedelta(days=1)))
    db.session.execute(sa.update(Registration).where(Registration.gathering_id.in_(
        sa.select(Gathering.id).where(
            Gathering.ends_at < now - timedelta(days=config["NEEDS_RETENTION_DAYS"])))).values(
        needs=""))


def export_fill() -> dict:
    """One gathering of 50,000 registrations and one of 5,000, for the exports' memory."""
    small = seed.gathering(capacity=None, title="Benk: eksport 5 000")
    seed.registrations(small.id, 5_000, domain=f"e{small.id}.bench", cancelled=100)
    big = seed.gathering(capacity=None, title="Benk: eksport 50 000")
    seed.registrations(big.id, 50_000, domain=f"e{big.id}.bench", cancelled=500)
    return {"small": small.id, "big": big.id, "login": seed.organiser()}


# --- databases ---------------------------------------------------------------------------------


def pg_name(size: int | str) -> str:
    return f"{os.environ.get('BENCH_PG_DATABASE', 'klynge_bench_growth')}_{size}"


def database_url(kind: str, stack: services.Stack, size: int | str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{stack.folder / f'growth-{size}.sqlite3'}"
    name = pg_name(size)
    services._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    services._psql(f"CREATE DATABASE {name} OWNER {services.PG_ROLE}")
    return f"postgresql+psycopg://{services.PG_ROLE}:{services.PG_ROLE}@127.0.0.1:5432/{name}"


def prepare(url: str, smtp_port: int, filler) -> dict:
    """Upgrade the database at `url` and fill it, in an app context of its own."""
    from flask_migrate import upgrade

    from klynge_rsvp import create_app
    from klynge_rsvp.extensions import db

    app = create_app({"SECRET_KEY": services.SECRET, "SQLALCHEMY_DATABASE_URI": url,
                      "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port,
                      "MAIL_DEFAULT_SENDER": services.SENDER, "KLYNGE_BASE_URL": "http://127.0.0.1",
                      "KLYNGE_SENDER_THREAD": False, "LOG_FORMAT": "text"})
    with app.app_context():
        upgrade()
        made = filler()
        if url.startswith("postgresql"):
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE"))
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return made


# --- measuring ---------------------------------------------------------------------------------

FIGURES = [  # key, label, unit
    ("rate", "registrations/s (4 clients, complete registration)", "1/s"),
    ("register_p95", "registration p95 (4 clients)", "ms"),
    ("public", "public gathering page p95", "ms"),
    ("list", "registration list p95 (500 registrations)", "ms"),
    ("dashboard", "dashboard p95 (reach reused)", "ms"),
    ("dashboard_cold", "dashboard p95, first request in a minute (reach as stored)", "ms"),
    ("dashboard_unstored", "dashboard p95, reach computed on the request (no worker)", "ms"),
    ("figures", "cross-gathering figures page p95 (all years, as stored)", "ms"),
    ("figures_unstored", "cross-gathering figures page p95, computed on the request (no worker)",
     "ms"),
    ("csv", "CSV export, 500 rows (median of 3)", "ms"),
    ("xlsx", "Excel export, 500 rows (median of 3)", "ms"),
]
MEMORY = [("web_rss", "web worker peak RSS (VmHWM)", "MiB"),
          ("worker_rss", "sender worker peak RSS (VmHWM)", "MiB")]


def get_p(url: str, path: str, login: dict | None, count: int, p: float = 95) -> float:
    result = loadgen({"mode": "get", "base": url, "path": path, "login": login,
                      "max_count": count, "duration": 300})
    if result["errors"]:
        raise RuntimeError(f"GET {path}: {result['error_samples'][0]}")
    return percentile(result["latencies_ms"], p)


def measure_round(site: dict, args: argparse.Namespace, r: int) -> dict[str, float]:
    url, made, login = site["url"], site["made"], site["made"]["login"]
    gid = made["measured"]
    out = {}
    reg = loadgen({"mode": "register", "base": url, "slug": made["signup_slug"], "clients": 4,
                   "duration": args.duration, "max_count": 5000, "prefix": f"g{site['size']}-{r}"})
    if reg["errors"]:
        log(f"registration errors: {reg['error_samples']}")
    out["rate"] = reg["count"] / reg["elapsed"]
    out["register_p95"] = percentile(reg["latencies_ms"], 95)
    n = args.page_requests
    out["public"] = get_p(url, f"/samlinger/{made['measured_slug']}", None, n)
    out["list"] = get_p(url, f"/arrangor/samlinger/{gid}/pameldinger", login, n)
    out["dashboard"] = get_p(url, "/arrangor/", login, n)
    out["dashboard_cold"] = get_p(url, "/arrangor/?benk_kald=1", login, n)
    out["dashboard_unstored"] = get_p(url, "/arrangor/?benk_kald=uten", login, n)
    out["figures"] = get_p(url, "/arrangor/tall", login, max(n // 2, 5))
    out["figures_unstored"] = get_p(url, "/arrangor/tall?benk_kald=uten", login, max(n // 2, 5))
    out["csv"] = get_p(url, f"/arrangor/samlinger/{gid}/pameldinger.csv", login, 3, 50)
    out["xlsx"] = get_p(url, f"/arrangor/samlinger/{gid}/pameldinger.xlsx", login, 3, 50)
    return out


def web_peak(process: services.Process) -> float:
    peaks = [services.peak_rss_mib(pid) for pid in services.gunicorn_worker_pids(process)]
    return max((p for p in peaks if p), default=float("nan"))


def export_memory(kind: str, stack: services.Stack, smtp_port: int) -> dict:
    """VmHWM of the one web worker after 5,000-row exports, then after 50,000-row ones."""
    url = database_url(kind, stack, "export")
    made = prepare(url, smtp_port, export_fill)
    env = services.app_env(url, smtp_port=smtp_port)
    web, web_url = stack.gunicorn("export", "bench.growth:cold_app()", env, workers=1)
    out: dict = {}
    try:
        base = "/arrangor/samlinger/{}/pameldinger.{}"
        for label, gid in (("5000", made["small"]), ("50000", made["big"])):
            for fmt in ("csv", "xlsx"):
                out[f"{fmt}_{label}_ms"] = get_p(web_url, base.format(gid, fmt), made["login"], 1,
                                                 50)
                out[f"{fmt}_{label}_rss"] = web_peak(web)
                log(f"export {fmt} {label} rows: {out[f'{fmt}_{label}_ms']:.0f} ms, "
                    f"peak RSS {out[f'{fmt}_{label}_rss']:.1f} MiB")
    finally:
        stack.stop(web)
    if kind == "postgresql":
        services._psql(f"DROP DATABASE IF EXISTS {pg_name('export')} WITH (FORCE)")
    return out


# --- output ------------------------------------------------------------------------------------


def render(results: dict, sizes: list[int], export: dict, kind: str) -> str:
    first = sizes[0]
    head = ["figure", "unit", *[f"{s:,} median [min–max]" for s in sizes],
            *[f"{s:,}/{first:,}" for s in sizes[1:]], f"≤ 1.2× at {sizes[-1]:,}"]
    lines = [f"## Flat as data grows ({kind})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, unit in FIGURES + MEMORY:
        spreads = [Spread(results[s].get(key, [])) for s in sizes]
        base = spreads[0].median
        ratios = [s.median / base if base else float("nan") for s in spreads[1:]]
        if key == "rate":  # higher is better: flat means not slower
            verdict = "meets" if ratios and ratios[-1] >= 1 / 1.2 else "misses"
            shown = [f"{x:.2f}" for x in ratios]
        else:
            verdict = "meets" if ratios and ratios[-1] <= 1.2 else "misses"
            shown = [f"{x:.2f}" for x in ratios]
        digits = 0 if key in ("csv", "xlsx") else 1
        lines.append("| " + " | ".join([label, unit, *[s.show(digits) for s in spreads],
                                         *shown, verdict]) + " |")
    lines.append("")
    if export:
        lines += [f"### Exports of 50,000 rows in constant memory ({kind}, 1 web worker)", "",
                  "| export | 5,000 rows: time | peak RSS after | 50,000 rows: time | peak RSS after |",
                  "|---|---|---|---|---|"]
        for fmt, name in (("csv", "CSV"), ("xlsx", "Excel")):
            lines.append(f"| {name} | {export[f'{fmt}_5000_ms']:.0f} ms | "
                         f"{export[f'{fmt}_5000_rss']:.1f} MiB | {export[f'{fmt}_50000_ms']:.0f} ms | "
                         f"{export[f'{fmt}_50000_rss']:.1f} MiB |")
        lines += ["", "Peak RSS is the worker's VmHWM (the most it has ever held), read after each "
                  "download in the order CSV 5,000, Excel 5,000, CSV 50,000, Excel 50,000.", ""]
    return "\n".join(lines)


def plot(results: dict, sizes: list[int], kind: str, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for key, label, unit in FIGURES + MEMORY:
        spreads = [Spread(results[s].get(key, [])) for s in sizes]
        if not all(s.values for s in spreads):
            continue
        medians = [s.median for s in spreads]
        low = [m - min(s.values) for m, s in zip(medians, spreads, strict=True)]
        high = [max(s.values) - m for m, s in zip(medians, spreads, strict=True)]
        figure, axes = plt.subplots(figsize=(5.5, 3.6), dpi=100)
        axes.errorbar(sizes, medians, yerr=[low, high], marker="o", capsize=4,
                      label="median [min–max]")
        if key == "rate":
            axes.axhline(medians[0] / 1.2, color="grey", linestyle="--",
                         label=f"target: ≥ 1/1.2 of {sizes[0]:,}")
        else:
            axes.axhline(medians[0] * 1.2, color="grey", linestyle="--",
                         label=f"target: ≤ 1.2× {sizes[0]:,}")
        axes.set_xscale("log")
        axes.set_xticks(sizes, [f"{s:,}" for s in sizes])
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes.set_ylim(bottom=0)
        axes.set_xlabel("registrations in the database")
        axes.set_ylabel(unit)
        axes.set_title(f"{label} ({kind})", fontsize=9)
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = folder / f"growth-{kind}-{key}.png"
        figure.savefig(path)
        plt.close(figure)
        made.append(path)
    return made


# --- the run -----------------------------------------------------------------------------------


def run(kind: str, args: argparse.Namespace) -> tuple[str, dict]:
    stack = services.Stack()
    sites = []
    results: dict[int, dict[str, list[float]]] = {size: {} for size in args.sizes}
    export: dict = {}
    try:
        _smtp, smtp_port, _smtp_log = stack.smtp()
        for size in args.sizes:
            url = database_url(kind, stack, size)
            made = prepare(url, smtp_port, lambda size=size: fill(size))
            env = services.app_env(url, smtp_port=smtp_port)
            web, web_url = stack.gunicorn(f"web-{size}", "bench.growth:cold_app()", env)
            worker = stack.worker(f"worker-{size}", env)
            services.wait_until(lambda w=worker: "Worker started" in w.log.read_text()
                                or w.popen.poll() is not None, 120, "a worker to start")
            # Its first jobs store the figures the overview and the figures page read.
            services.wait_until(lambda url=url: has_stored_figures(url), 300,
                                "the worker to store the figures")
            sites.append({"size": size, "url": web_url, "made": made, "web": web,
                          "worker": worker})
        for site in sites:  # warm each worker (imports, templates, caches): not measured
            made, gid = site["made"], site["made"]["measured"]
            get_p(site["url"], f"/samlinger/{made['measured_slug']}", None, 4)
            for path in ("/arrangor/", "/arrangor/tall", f"/arrangor/samlinger/{gid}/pameldinger",
                         f"/arrangor/samlinger/{gid}/pameldinger.csv",
                         f"/arrangor/samlinger/{gid}/pameldinger.xlsx"):
                get_p(site["url"], path, made["login"], 4)
        for r in range(args.rounds):
            for site in sites:
                figures = measure_round(site, args, r)
                for key, value in figures.items():
                    results[site["size"]].setdefault(key, []).append(value)
                log(f"{kind} round {r + 1}, {site['size']:,}: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in figures.items()))
        for site in sites:
            size = site["size"]
            results[size]["web_rss"] = [web_peak(site["web"])]
            peak = services.peak_rss_mib(site["worker"].popen.pid)
            results[size]["worker_rss"] = [peak] if peak else []
            stack.stop(site["web"])
            stack.stop(site["worker"])
        if args.export_memory:
            export = export_memory(kind, stack, smtp_port)
    finally:
        stack.close(keep_folder=args.keep)
        if kind == "postgresql":
            for size in args.sizes:
                services._psql(f"DROP DATABASE IF EXISTS {pg_name(size)} WITH (FORCE)")
    seeded = ", ".join(f"{s['size']:,}: {s['made']['seconds']:.0f} s ({s['made']['counted']})"
                       for s in sites)
    text = render(results, args.sizes, export, kind) + f"\nSeeding: {seeded}.\n"
    return text, {"results": {str(k): v for k, v in results.items()}, "export": export}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds of registration load per round and size (default 3)")
    parser.add_argument("--page-requests", type=int, default=20,
                        help="requests per page per round and size (default 20)")
    parser.add_argument("--no-export-memory", dest="export_memory", action="store_false",
                        help="skip the 50,000-row export memory run")
    parser.add_argument("--output", type=Path, help="also write the Markdown (and a .json) here")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write one PNG per figure here")
    parser.add_argument("--keep", action="store_true", help="keep the logs and SQLite files")
    args = parser.parse_args(argv)
    args.sizes = sorted(set(args.sizes))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.db == "postgresql" and (why := services.postgresql_available()):
        print(f"skipped: {why}")
        return 1
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    text, data = run(args.db, args)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    out = ["# Klynge RSVP: flat as data grows", "", *machine(),
           f"- command: python -m bench.growth {' '.join(sys.argv[1:] if argv is None else argv)}",
           f"- load average (1, 5, 15 min) {' '.join(load_before)} before, "
           f"{' '.join(load_after)} after", "", text]
    if args.plots:
        for path in plot({int(k): v for k, v in data["results"].items()}, args.sizes, args.db,
                         args.plots):
            out.append(f"- plot: {path}")
    report = "\n".join(out)
    print(report, flush=True)
    if args.output:
        args.output.write_text(report + "\n")
        args.output.with_suffix(".json").write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
