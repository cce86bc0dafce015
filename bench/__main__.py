"""Run the benchmark suite: `.venv/bin/python -m bench` from the project folder (see README.md).

Starts everything on 127.0.0.1 (gunicorn with 2 workers for the app and for the baseline app, an
SMTP server, sender workers; a temporary SQLite database and a fresh PostgreSQL database
klynge_bench), measures, stops everything, and prints one table per database. Every figure is set
against a baseline measured in the same run, in alternating rounds (baseline, subject, baseline,
subject …); each shows the median of the rounds with their min and max.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import pickle
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bench import seed, services
from bench.stats import Row, Spread, Table, percentile

PHASES = ("pages", "registration", "floor", "latency", "worker-load", "fanout", "memory")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def release_database() -> None:
    """End the harness's own transaction: on SQLite an open one holds the write lock."""
    from flask import has_app_context

    from klynge_rsvp.extensions import db

    if has_app_context():
        db.session.commit()


def loadgen(spec: dict) -> dict:
    """Run the load client in its own process (bounded by time and count)."""
    release_database()
    limit = spec.get("duration", 5) + 180
    result = subprocess.run([services.PYTHON, "-m", "bench.loadgen", json.dumps(spec)],
                            cwd=services.ROOT, capture_output=True, text=True, timeout=limit,
                            check=False, env={**os.environ, "PYTHONPATH": str(services.ROOT)})
    if result.returncode != 0:
        raise RuntimeError(f"load client failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def wait_for_mail(log_file: Path, match, count: int, timeout: float) -> list[tuple[float, str]]:
    """Wait until `count` messages the SMTP sink accepted (its log: `<unix time> <recipient>`
    lines) satisfy `match(recipient)`; returns them as (time, recipient).

    The log is read on from where the last look ended: re-reading the whole of it 50 times a
    second took CPU from the processes being measured.
    """
    release_database()
    deadline = time.monotonic() + timeout
    found: list[tuple[float, str]] = []
    position, partial = 0, b""
    while True:
        if log_file.exists():
            with log_file.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
            position += len(chunk)
            complete, _, partial = (partial + chunk).rpartition(b"\n")
            for line in complete.decode().splitlines():
                when, _, recipient = line.partition(" ")
                if recipient and match(recipient):
                    found.append((float(when), recipient))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in
                         ("flask", "sqlalchemy", "gunicorn", "psycopg", "aiosmtpd", "xlsxwriter"))
    return [f"- CPU: {cpu}, {os.cpu_count()} cores (nproc); memory {memory / 1024 / 1024:.1f} GiB",
            f"- {platform.system()} {platform.release()}; Python {platform.python_version()}; "
            f"SQLite {sqlite3.sqlite_version}",
            f"- {versions}"]


class Run:
    """One database kind: its services, its data, its measurements."""

    def __init__(self, kind: str, args: argparse.Namespace):
        self.kind, self.args = kind, args
        self.stack = services.Stack()
        self.tables: list[Table] = []
        self.memory: dict[str, Spread] = {}
        self.sender_peaks: list[float] = []
        self.baseline_sender_peaks: list[float] = []

    # --- set-up ----------------------------------------------------------------------------------

    def __enter__(self) -> Run:
        from flask_migrate import upgrade

        from bench import baseline_app
        from klynge_rsvp import create_app

        if self.kind == "sqlite":
            self.url = f"sqlite:///{self.stack.folder / 'bench.sqlite3'}"
        else:
            self.url = services.fresh_postgresql()
        self.smtp, self.smtp_port, self.smtp_log = self.stack.smtp()
        self.app = create_app({
            "SECRET_KEY": services.SECRET, "SQLALCHEMY_DATABASE_URI": self.url,
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.smtp_port,
            "MAIL_DEFAULT_SENDER": services.SENDER, "KLYNGE_BASE_URL": "http://127.0.0.1",
            "KLYNGE_SENDER_THREAD": False, "LOG_FORMAT": "text",
        })
        self.context = self.app.app_context()
        self.context.push()
        upgrade()
        baseline_app.create_table(self.url)
        self.env = services.app_env(self.url, smtp_port=self.smtp_port)
        self.web, self.web_url = self.stack.gunicorn("web", "bench.wsgi_app:app", self.env)
        self.base, self.base_url = self.stack.gunicorn("baseline", "bench.baseline_app:app", self.env)
        return self

    def __exit__(self, *exc) -> None:
        from klynge_rsvp.extensions import db

        db.session.remove()
        db.engine.dispose()
        self.context.pop()
        self.stack.close(keep_folder=self.args.keep)
        if self.args.keep:
            log(f"logs and database kept in {self.stack.folder}")
        if self.kind == "postgresql" and not self.args.keep:
            services.drop_postgresql()

    def has(self, endpoint: str) -> bool:
        return endpoint in self.app.view_functions

    def skipped(self, title: str, why: str) -> None:
        log(f"{title}: skipped: {why}")
        self.tables.append(Table(title, notes=[f"skipped: {why}"]))

    def start_workers(self, count: int, poll_only: bool = False,
                      **settings: str) -> list[services.Process]:
        release_database()
        args = [services.PYTHON, "-m", "bench.poll_worker"] if poll_only else None
        env = {**self.env, **settings}
        workers = [self.stack.worker(f"worker-{time.monotonic_ns()}-{n}", env, args)
                   for n in range(count)]
        for worker in workers:
            services.wait_until(lambda w=worker: "Worker started" in w.log.read_text()
                                or w.popen.poll() is not None, 60, "a worker to start")
            if worker.popen.poll() is not None:
                raise RuntimeError(f"worker exited: {worker.log.read_text()[-2000:]}")
        time.sleep(0.5)  # past the first (empty) pass, listening
        return workers

    def stop_workers(self, workers: list[services.Process], peaks: list[float]) -> None:
        for worker in workers:
            peak = services.peak_rss_mib(worker.popen.pid)
            if peak:
                peaks.append(peak)
            self.stack.stop(worker)

    # --- 1. registration throughput and latency -------------------------------------------------

    def registration(self) -> None:
        title = f"Registration through the real form ({self.kind}, gunicorn 2 workers)"
        if not self.has("public.register"):
            return self.skipped(title, "the public registration endpoint is missing")
        gathering = seed.gathering(capacity=None, title="Benk: påmelding")
        table = Table(title)
        cpu_notes = []
        for clients in self.args.clients:
            rate = [Spread() for _ in range(3)]
            pct = {p: [Spread() for _ in range(3)] for p in (50, 95, 99)}
            client_cpu = Spread()
            errors = 0
            for r in range(self.args.rounds):
                spec = {"clients": clients, "duration": self.args.duration, "max_count": 20000}
                base = loadgen({**spec, "mode": "insert", "base": self.base_url,
                                "prefix": f"b{clients}-{r}"})
                subj = loadgen({**spec, "mode": "register", "base": self.web_url,
                                "slug": gathering.slug, "prefix": f"r{clients}-{r}"})
                errors += subj["errors"] + base["errors"]
                for sample in (subj, base):
                    if sample["errors"]:
                        log(f"errors: {sample['error_samples']}")
                s_rate, b_rate = subj["count"] / subj["elapsed"], base["count"] / base["elapsed"]
                rate[0].add(s_rate)
                rate[1].add(b_rate)
                rate[2].add(s_rate / b_rate)
                for p in (50, 95, 99):
                    s, b = percentile(subj["latencies_ms"], p), percentile(base["latencies_ms"], p)
                    pct[p][0].add(s)
                    pct[p][1].add(b)
                    pct[p][2].add(s / b)
                client_cpu.add(1000 * subj["cpu_seconds"] / max(subj["count"], 1))
                log(f"{self.kind} c={clients} round {r + 1}: {s_rate:.0f} reg/s vs {b_rate:.0f} "
                    f"inserts/s, p95 {pct[95][0].values[-1]:.0f} ms")
            best = rate[0].median
            verdict = ("meets 10×19 and 10×3" if best >= 190 else "meets 10×3/s" if best >= 30
                       else "below 30/s")
            verdict += ", ≥0.25× baseline" if rate[2].median >= 0.25 else ", <0.25× baseline"
            table.rows.append(Row(f"{clients} clients: registrations/s", *rate, unit="1/s",
                                  target="≥30 (≥190); ≥0.25×", verdict=verdict))
            for p in (50, 95, 99):
                table.rows.append(Row(f"{clients} clients: p{p} latency", *pct[p], unit="ms"))
            cpu_notes.append(f"{clients} clients: the load client used {client_cpu.show(2)} ms CPU "
                             f"per registration; {errors} failed iterations")
        table.notes = [
            "Subject: one registration = GET the gathering page, POST the form (CSRF token, session "
            "cookie, a fresh address), 303 to the receipt, GET the receipt; its latency spans all "
            "three. Baseline: POST to a bare Flask endpoint inserting one row (bench/baseline_app.py), "
            "same gunicorn settings, same database, same load client (bench/loadgen.py).",
            *cpu_notes,
        ]
        self.tables.append(table)
        seed.clear_outbox()
        return None

    # --- 1b. registration against the floor app (issue 20, target 1) ----------------------------

    def floor(self) -> None:
        """Klynge's complete registration against bench/floor_app.py: the same journey by a
        minimal Flask + Flask-WTF app, same server settings, database and load client, in
        interleaved rounds (floor, Klynge, floor, Klynge …); the figure is Klynge / floor."""
        from bench import floor_app

        title = f"Registration against the floor app ({self.kind}, gunicorn 2 workers)"
        if not self.has("public.register"):
            return self.skipped(title, "the public registration endpoint is missing")
        floor_app.create_tables(self.url)
        floor, floor_url = self.stack.gunicorn("floor", "bench.floor_app:app", self.env)
        # --compare ROOT: the same app from another checkout (the code before a change), served
        # beside this one and measured in the same rounds, so before and after share a run.
        targets = [("Klynge", self.web_url)]
        extra = []
        if self.args.compare:
            other, other_url = self.stack.gunicorn("compare", "bench.wsgi_app:app", self.env,
                                                   root=self.args.compare.resolve())
            extra.append(other)
            targets.insert(0, (f"Klynge at {self.args.compare}", other_url))
        gathering = seed.gathering(capacity=None, title="Benk: golv")
        table = Table(title)
        notes = []
        try:
            for clients in self.args.clients:
                rates = {name: [Spread() for _ in range(3)] for name, _ in targets}
                p95 = {name: [Spread() for _ in range(3)] for name, _ in targets}
                errors = 0
                for r in range(self.args.rounds):
                    spec = {"clients": clients, "duration": self.args.duration, "max_count": 20000,
                            "mode": "register", "slug": gathering.slug}
                    base = loadgen({**spec, "base": floor_url, "prefix": f"fb{clients}-{r}"})
                    b_rate = base["count"] / base["elapsed"]
                    b95 = percentile(base["latencies_ms"], 95)
                    errors += base["errors"]
                    said = [f"floor {b_rate:.0f}/s"]
                    for number, (name, url) in enumerate(targets):
                        subj = loadgen({**spec, "base": url, "prefix": f"fs{number}{clients}-{r}"})
                        errors += subj["errors"]
                        for sample in (subj, base):
                            if sample["errors"]:
                                log(f"errors: {sample['error_samples']}")
                        s_rate = subj["count"] / subj["elapsed"]
                        s95 = percentile(subj["latencies_ms"], 95)
                        for spreads, s, b in ((rates[name], s_rate, b_rate), (p95[name], s95, b95)):
                            spreads[0].add(s)
                            spreads[1].add(b)
                            spreads[2].add(s / b)
                        said.append(f"{name} {s_rate:.0f}/s ({s_rate / b_rate:.2f}×)")
                    log(f"{self.kind} floor c={clients} round {r + 1}: {', '.join(said)}")
                for name, _ in targets:
                    label = "" if name == "Klynge" else f" ({name})"
                    table.rows.append(Row(f"{clients} clients: registrations/s{label}", *rates[name],
                                          unit="1/s", target="≥ 0.5× floor",
                                          verdict="meets" if rates[name][2].median >= 0.5
                                          else "misses"))
                    table.rows.append(Row(f"{clients} clients: p95 latency{label}", *p95[name],
                                          unit="ms"))
                notes.append(f"{clients} clients: {errors} failed iterations")
        finally:
            for process in [floor, *extra]:
                self.stack.stop(process)
        table.notes = [
            "Subject: Klynge's complete registration (GET the gathering page, POST the form with "
            "its CSRF token and a fresh address, 303, GET the receipt; organisation matching, the "
            "seat lock and the full confirmation committed with it). Baseline: the floor app "
            "(bench/floor_app.py): the same three requests by a minimal Flask + Flask-WTF app "
            "that inserts the registration and one outbox row holding a prebuilt 8 KB message. "
            "Same gunicorn settings, database and load client; rounds interleaved, floor first "
            "(then, with --compare, the other checkout, then this one).",
            *notes,
        ]
        self.tables.append(table)
        seed.clear_outbox()
        return None

    # --- 3. mail latency ------------------------------------------------------------------------

    def latency(self) -> None:
        from klynge_rsvp.extensions import db
        from klynge_rsvp.models import OutboxMessage

        title = f"Mail latency: registration committed → confirmation accepted ({self.kind})"
        if not self.has("public.register"):
            return self.skipped(title, "the public registration endpoint is missing")
        seed.clear_outbox()
        gathering = seed.gathering(capacity=None, title="Benk: e-post")
        p50, p95, worst = (Spread(), Spread(), Spread()), (Spread(), Spread(), Spread()), Spread()
        for r in range(self.args.rounds):
            measured = {}
            for variant in ("baseline", "subject"):
                workers = self.start_workers(1, poll_only=variant == "baseline")
                prefix = f"l{variant[0]}{r}"
                result = loadgen({"mode": "register", "base": self.web_url, "slug": gathering.slug,
                                  "prefix": prefix, "clients": 2, "pace": 0.3,
                                  "duration": self.args.duration + 2, "max_count": 40})
                mails = wait_for_mail(self.smtp_log, lambda rcpt, p=prefix: rcpt.startswith(p + "-"),
                                      result["count"], timeout=60)
                self.stop_workers(workers, [])
                created = dict(db.session.execute(
                    sa.select(OutboxMessage.recipient, OutboxMessage.created_at)
                    .where(OutboxMessage.recipient.startswith(prefix + "-"))).all())
                db.session.commit()
                measured[variant] = [t - created[rcpt].timestamp() for t, rcpt in mails]
                if len(mails) < result["count"]:
                    log(f"only {len(mails)} of {result['count']} confirmations arrived")
            if not measured["subject"] or not measured["baseline"]:
                raise RuntimeError("no confirmation arrived; see the logs (--keep)")
            for i, variant in enumerate(("subject", "baseline")):
                p50[i].add(1000 * percentile(measured[variant], 50))
                p95[i].add(1000 * percentile(measured[variant], 95))
            p50[2].add(p50[0].values[-1] / p50[1].values[-1])
            p95[2].add(p95[0].values[-1] / p95[1].values[-1])
            worst.add(1000 * max(measured["subject"]))
            log(f"{self.kind} mail latency round {r + 1}: p95 {p95[0].values[-1]:.0f} ms "
                f"(poll only: {p95[1].values[-1]:.0f} ms)")
        wake = "LISTEN/NOTIFY" if self.kind == "postgresql" else "PRAGMA data_version checks"
        self.tables.append(Table(title, rows=[
            Row("p50", *p50, unit="ms"),
            Row("p95", *p95, unit="ms", target="< 2000 ms",
                verdict="meets" if p95[0].median < 2000 else "misses"),
        ], notes=[
            f"Subject: `flask klynge worker`, woken by {wake} (OUTBOX_POLL_SECONDS=2 as a safety "
            "net). Baseline: the same sender woken only by its 2 s poll (bench/poll_worker.py).",
            "Two clients register about 3 times a second each; latency = SMTP server's acceptance "
            "time − the outbox row's created_at (taken before the commit, so an upper bound). "
            f"Slowest subject confirmation: {worst.show(0)} ms.",
        ]))
        return None

    # --- 3b. registrations with a worker sending (issue 20, target 2) --------------------------

    def worker_load(self) -> None:
        """Registrations/s with and without one `flask klynge worker` sending every confirmation
        to the SMTP sink during the run, in interleaved rounds (without, with, without, with …),
        and the p95 from commit to accepted mail in the rounds with the worker."""
        from klynge_rsvp.extensions import db
        from klynge_rsvp.models import OutboxMessage

        title = f"Registration with a worker sending on the same machine ({self.kind})"
        if not self.has("public.register"):
            return self.skipped(title, "the public registration endpoint is missing")
        seed.clear_outbox()
        gathering = seed.gathering(capacity=None, title="Benk: med sender")
        table = Table(title)
        notes = []
        for clients in self.args.load_clients:
            rate, p95 = (Spread(), Spread(), Spread()), Spread()
            errors = missing = 0
            for r in range(self.args.rounds):
                spec = {"mode": "register", "base": self.web_url, "slug": gathering.slug,
                        "clients": clients, "duration": self.args.duration, "max_count": 20000}
                alone = loadgen({**spec, "prefix": f"wa{clients}-{r}"})
                seed.clear_outbox()  # their confirmations must not wait for the next round's worker
                prefix = f"ws{clients}-{r}"
                workers = self.start_workers(1)
                try:
                    sending = loadgen({**spec, "prefix": prefix})
                    mails = wait_for_mail(self.smtp_log, lambda rcpt, p=prefix:
                                          rcpt.startswith(p + "-"), sending["count"], timeout=120)
                finally:
                    self.stop_workers(workers, [])
                created = dict(db.session.execute(
                    sa.select(OutboxMessage.recipient, OutboxMessage.created_at)
                    .where(OutboxMessage.recipient.startswith(prefix + "-"))).all())
                db.session.commit()
                latencies = [t - created[rcpt].timestamp() for t, rcpt in mails if rcpt in created]
                errors += alone["errors"] + sending["errors"]
                missing += sending["count"] - len(mails)
                s_rate = sending["count"] / sending["elapsed"]
                b_rate = alone["count"] / alone["elapsed"]
                for spread, value in zip(rate, (s_rate, b_rate, s_rate / b_rate), strict=True):
                    spread.add(value)
                p95.add(1000 * percentile(latencies, 95))
                log(f"{self.kind} worker-load c={clients} round {r + 1}: {s_rate:.0f}/s with the "
                    f"worker vs {b_rate:.0f}/s without ({s_rate / b_rate:.2f}×), p95 commit → "
                    f"accepted {p95.values[-1]:.0f} ms")
            table.rows.append(Row(f"{clients} clients: registrations/s, worker sending",
                                  *rate, unit="1/s", target="≥ 0.8× without",
                                  verdict="meets" if rate[2].median >= 0.8 else "misses"))
            table.rows.append(Row(f"{clients} clients: p95 commit → accepted mail", p95,
                                  Spread(), Spread(), unit="ms", target="< 2000 ms",
                                  verdict="meets" if p95.median < 2000 else "misses"))
            notes.append(f"{clients} clients: {errors} failed iterations, {missing} confirmations "
                         "not accepted within 120 s of the round's end")
        table.notes = [
            "Subject: the complete registration through the real form (as in the registration "
            "table) while one `flask klynge worker` (default settings) sends every confirmation "
            "to the SMTP sink, all on the same machine. Baseline: the same load with no worker "
            "running, in the same rounds (without first); its confirmations are counted as sent "
            "before the next run. Latency: the sink's acceptance time − the outbox row's "
            "created_at (taken before the commit, so an upper bound); the sending run's mail is "
            "waited for before the worker stops.",
            *notes,
        ]
        self.tables.append(table)
        seed.clear_outbox()
        return None

    # --- 2. notice fan-out ----------------------------------------------------------------------

    def fanout(self) -> None:
        from klynge_rsvp import lifecycle
        from klynge_rsvp.clock import utcnow
        from klynge_rsvp.extensions import db
        from klynge_rsvp.models import Gathering, OutboxMessage, Registration

        size = self.args.fanout
        title = f"Notice fan-out: postpone a gathering with {size} registrants ({self.kind})"
        if not hasattr(lifecycle, "postpone"):
            return self.skipped(title, "klynge_rsvp.lifecycle.postpone does not exist yet")
        seed.clear_outbox()

        def prepared() -> Gathering:
            made = seed.gathering(capacity=None, title="Benk: utsettes")
            seed.registrations(made.id, size, domain=f"f{made.id}.bench")
            return made

        def postpone(gathering_id: int, workers: int, **settings: str) -> tuple[float, float, int]:
            running = self.start_workers(workers, **settings)
            try:
                gathering = db.session.get(Gathering, gathering_id)
                started = time.time()
                lifecycle.postpone(gathering, message="Vi finner en ny dato.", now=utcnow(), by=None)
                db.session.commit()
                committed = time.time()
                mails = wait_for_mail(self.smtp_log, lambda r, d=f"@f{gathering_id}.bench":
                                      r.endswith(d), size, timeout=600)
            finally:
                self.stop_workers(running, self.sender_peaks)
            return max(t for t, _ in mails) - started, committed - started, len(mails)

        def store_bytes(messages: Path) -> float:
            """The floor under queueing: the same pre-built notices stored as bytes, one
            multi-row INSERT into a bare table, and the commit."""
            rows = pickle.loads(messages.read_bytes())  # noqa: S301 (the harness wrote it)
            table = sa.table("bench_queued", sa.column("recipient"), sa.column("message"))
            release_database()
            started = time.perf_counter()
            with db.engine.begin() as connection:
                connection.execute(sa.insert(table), [{"recipient": recipient, "message": message}
                                                      for recipient, message in rows])
            elapsed = time.perf_counter() - started
            with db.engine.begin() as connection:
                connection.execute(sa.delete(table))
            return elapsed

        def baseline(messages: Path, r: int, k: int) -> float:
            result = subprocess.run(
                [services.PYTHON, "-m", "bench.smtp_baseline", str(self.smtp_port), str(messages),
                 f"b{r}{k}.baseline"], cwd=services.ROOT, capture_output=True, text=True,
                timeout=600, check=True, env={**os.environ, "PYTHONPATH": str(services.ROOT)})
            report = json.loads(result.stdout)
            self.baseline_sender_peaks.append(report["peak_rss_mib"])
            mails = wait_for_mail(self.smtp_log, lambda rcpt: rcpt.endswith(f"@b{r}{k}.baseline"),
                                  size, timeout=60)
            return max(t for t, _ in mails) - report["started"]

        warm = prepared()
        total, _, count = postpone(warm.id, 1)
        log(f"warm-up fan-out: {count} notices in {total:.2f} s")
        messages = self.stack.folder / "fanout-messages.pickle"
        messages.write_bytes(pickle.dumps(db.session.execute(
            sa.select(OutboxMessage.recipient, OutboxMessage.message)
            .join(Registration, OutboxMessage.registration_id == Registration.id)
            .where(Registration.gathering_id == warm.id).order_by(OutboxMessage.id)).all()))
        db.session.commit()
        with db.engine.begin() as connection:
            key, blob = (("BIGSERIAL", "BYTEA") if self.kind == "postgresql"
                         else ("INTEGER", "BLOB"))
            connection.execute(sa.text(f"CREATE TABLE IF NOT EXISTS bench_queued (id {key} "
                                       f"PRIMARY KEY, recipient VARCHAR(320), message {blob})"))
        # (workers, settings): the default; one SMTP connection per worker (as before decision
        # 0002); more workers
        runs = {"one": (1, {}), "single": (1, {"OUTBOX_SMTP_CONNECTIONS": "1"}),
                "more": (self.args.workers, {})}
        totals = {run: (Spread(), Spread(), Spread()) for run in runs}
        sending = {run: (Spread(), Spread(), Spread()) for run in runs}
        compose = Spread()
        queueing = (Spread(), Spread(), Spread())
        lost = 0
        for r in range(self.args.rounds):
            for k, (run, (workers, settings)) in enumerate(runs.items()):
                b = baseline(messages, r, k)
                total, composed, count = postpone(prepared().id, workers, **settings)
                lost += size - count
                for spread, value in zip(totals[run], (total, b, total / b), strict=True):
                    spread.add(value)
                for spread, value in zip(sending[run], (total - composed, b,
                                                        (total - composed) / b), strict=True):
                    spread.add(value)
                if run == "one":
                    compose.add(composed)
                    floor = store_bytes(messages)
                    for spread, value in zip(queueing, (composed, floor, composed / floor),
                                             strict=True):
                        spread.add(value)
                log(f"{self.kind} fan-out round {r + 1}, {run} ({workers} worker(s) {settings}): "
                    f"{total:.2f} s (composing {composed:.2f} s) vs smtplib {b:.2f} s")
        from klynge_rsvp.config import DEFAULTS
        connections = self.env.get("OUTBOX_SMTP_CONNECTIONS") or DEFAULTS["OUTBOX_SMTP_CONNECTIONS"]
        more = f"{self.args.workers} workers"

        def faster(spreads: dict) -> str:
            return "faster" if spreads["more"][0].median < spreads["one"][0].median else "not faster"

        self.tables.append(Table(title, rows=[
            Row("queueing the postponement (lifecycle.postpone until committed)", *queueing,
                unit="s", digits=2, target="< 2 s",
                verdict="meets" if queueing[0].median < 2 else "misses"),
            Row(f"1 worker ({connections} SMTP connections): postpone → last notice accepted",
                *totals["one"], unit="s", digits=2, target="≤ 1.2×",
                verdict="meets" if totals["one"][2].median <= 1.2 else "misses"),
            Row("1 worker, 1 SMTP connection: postpone → last notice accepted", *totals["single"],
                unit="s", digits=2),
            Row(f"{more}: postpone → last notice accepted", *totals["more"], unit="s", digits=2,
                target="< 1 worker", verdict=faster(totals)),
            Row(f"1 worker ({connections} SMTP connections): sending alone (commit → last accepted)",
                *sending["one"], unit="s", digits=2),
            Row("1 worker, 1 SMTP connection: sending alone", *sending["single"], unit="s",
                digits=2),
            Row(f"{more}: sending alone", *sending["more"], unit="s", digits=2,
                verdict=faster(sending)),
        ], notes=[
            f"Subject: lifecycle.postpone (composing every notice, calendar part included) and its "
            f"commit, then `flask klynge worker` process(es) already running deliver them; timed "
            f"from the call to the SMTP server's acceptance of the last notice. Composing and "
            f"committing alone took {compose.show(2)} s (1-worker rounds).",
            "Baseline: smtplib sending the same pre-built messages over one connection to the "
            "same SMTP server (bench/smtp_baseline.py), from its start to the last acceptance.",
            "Queueing (the organiser's click, issue 20 target 4: under 2 s): lifecycle.postpone "
            "in-process (locking, composing every notice, inserting the outbox rows, the audit "
            "entry) and its commit. Its baseline: the same pre-built notices stored as bytes by "
            "one multi-row INSERT into a bare table and a commit, in the same round.",
            f"Notices missing at the end: {lost}.",
        ]))
        return None

    # --- 4. pages at scale ----------------------------------------------------------------------

    def pages(self) -> None:
        title = f"Pages at scale: 20 gatherings, 10,000 registrations ({self.kind})"
        made = seed.pages_dataset()
        login = seed.organiser()
        target = made[0]
        table = Table(title)
        pages = [
            ("public gathering page (500 registrations)", "public.gathering",
             f"/samlinger/{target.slug}", None),
            ("registration list (500 registrations, first page of 100)", "admin.registrations",
             f"/arrangor/samlinger/{target.id}/pameldinger", login),
            ("dashboard (admin.index)", "admin.index", "/arrangor/", login),
        ]
        count = self.args.page_requests
        for label, endpoint, path, credentials in pages:
            if not self.has(endpoint):
                table.notes.append(f"{label}: skipped: endpoint {endpoint} does not exist yet")
                continue
            spreads = (Spread(), Spread(), Spread())
            for _ in range(self.args.rounds):
                base = loadgen({"mode": "get", "base": self.base_url, "path": "/row",
                                "max_count": count, "duration": 60})
                subj = loadgen({"mode": "get", "base": self.web_url, "path": path,
                                "login": credentials, "max_count": count, "duration": 120})
                if subj["errors"]:
                    break
                s, b = percentile(subj["latencies_ms"], 95), percentile(base["latencies_ms"], 95)
                for spread, value in zip(spreads, (s, b, s / b), strict=True):
                    spread.add(value)
            if subj["errors"]:
                table.notes.append(f"{label}: failed: {subj['error_samples'][0]} (see --keep logs)")
                log(f"{label}: failed: {subj['error_samples'][0]}")
                continue
            table.rows.append(Row(f"{label}: p95", *spreads, unit="ms", target="< 50 ms",
                                  verdict="meets" if spreads[0].median < 50 else "misses"))
            log(f"{self.kind} {label}: p95 {spreads[0].show()} ms")

        big = seed.gathering(capacity=None, title="Benk: eksport")
        seed.registrations(big.id, 10_000, domain=f"x{big.id}.bench", waiting=0, cancelled=200)
        exports = [
            ("CSV export, 10,000 rows", "admin.export_csv",
             f"/arrangor/samlinger/{big.id}/pameldinger.csv", f"/export.csv?g={big.id}", "< 2000 ms"),
            ("Excel export, 10,000 rows", "admin.export_xlsx",
             f"/arrangor/samlinger/{big.id}/pameldinger.xlsx", f"/export.xlsx?g={big.id}", "< 2000 ms"),
            ("registration list, 10,000 registrations, first page (stress; no target)",
             "admin.registrations",
             f"/arrangor/samlinger/{big.id}/pameldinger", "/row", ""),
        ]
        for label, endpoint, path, base_path, target_text in exports:
            if not self.has(endpoint):
                table.notes.append(f"{label}: skipped: endpoint {endpoint} does not exist yet")
                continue
            spreads = (Spread(), Spread(), Spread())
            for _ in range(self.args.rounds):
                base = loadgen({"mode": "get", "base": self.base_url, "path": base_path,
                                "max_count": 3, "duration": 120})
                subj = loadgen({"mode": "get", "base": self.web_url, "path": path,
                                "login": login, "max_count": 3, "duration": 120})
                if subj["errors"]:
                    break
                s, b = percentile(subj["latencies_ms"], 50), percentile(base["latencies_ms"], 50)
                for spread, value in zip(spreads, (s, b, s / b), strict=True):
                    spread.add(value)
            if subj["errors"]:
                table.notes.append(f"{label}: failed: {subj['error_samples'][0]} (see --keep logs)")
                log(f"{label}: failed: {subj['error_samples'][0]}")
                continue
            verdict = "" if not target_text else ("meets" if spreads[0].median < 2000 else "misses")
            table.rows.append(Row(f"{label}: time", *spreads, unit="ms", target=target_text,
                                  verdict=verdict, digits=0))
            log(f"{self.kind} {label}: {spreads[0].show(0)} ms")
        table.notes[:0] = [
            f"Pages: p95 of {count} sequential requests per round (logged in as an administrator "
            "for organiser pages); baseline: a bare Flask endpoint reading one row into a tiny "
            "template (bench/baseline_app.py /row). Data: 14 upcoming and 6 held gatherings with "
            "500 registrations each (confirmed, waiting, cancelled, checked in), 200 mails. "
            "The dashboard's reach figures (distinct people and organisations, which read every "
            "registration) are stored by a running worker every 30 s; no worker runs in this "
            "phase, so the dashboard computes them and reuses them for up to 60 s per process "
            "(statistics.recent_reach): most requests measured reuse them, and the first in a "
            "minute pays about 25 ms more.",
            "Exports and the 10,000-row list: a 21st gathering with 10,000 registrations; the "
            "median of 3 downloads per round; baseline: the same rows read with one SQL query and "
            "written by csv.writer / XlsxWriter (constant memory) in the bare app.",
        ]
        self.tables.append(table)
        return None

    # --- 5. memory ------------------------------------------------------------------------------

    def memory_table(self) -> None:
        web = [services.peak_rss_mib(pid) for pid in services.gunicorn_worker_pids(self.web)]
        base = [services.peak_rss_mib(pid) for pid in services.gunicorn_worker_pids(self.base)]
        web, base = [v for v in web if v], [v for v in base if v]
        rows = []
        if web and base:
            rows.append(Row("web worker (gunicorn), peak RSS", Spread([max(web)]), Spread([max(base)]),
                            Spread([max(web) / max(base)]), unit="MiB"))
        if self.sender_peaks and self.baseline_sender_peaks:
            rows.append(Row("sender worker, peak RSS", Spread([max(self.sender_peaks)]),
                            Spread([max(self.baseline_sender_peaks)]),
                            Spread([max(self.sender_peaks) / max(self.baseline_sender_peaks)]),
                            unit="MiB"))
        self.tables.append(Table(f"Memory: peak RSS (VmHWM) after the runs above ({self.kind})",
                                 rows=rows, notes=[
            "Web: the largest of the 2 gunicorn workers' VmHWM after every phase above; baseline: "
            "the bare app's workers. Sender: the largest `flask klynge worker` VmHWM, read just "
            "before it was stopped after a fan-out; baseline: the smtplib sender process."]))

    def run(self) -> list[Table]:
        for phase in self.args.phases:
            try:
                if phase == "memory":
                    self.memory_table()
                else:
                    getattr(self, phase.replace("-", "_"))()
            except Exception as error:  # one broken phase must not hide the others' figures
                from klynge_rsvp.extensions import db

                log(f"{phase} failed: {error!r}")
                db.session.rollback()
                self.tables.append(Table(f"{phase} ({self.kind})",
                                         notes=[f"failed: {type(error).__name__}: {error}"]))
        return self.tables


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (default 3)")
    parser.add_argument("--duration", type=float, default=4.0,
                        help="seconds per registration load round (default 4)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--fanout-size", "--fanout", dest="fanout", type=int, default=10_000,
                        help="registrants the fan-out phase notifies (default 10,000)")
    parser.add_argument("--load-clients", type=int, nargs="+", default=[4, 8],
                        help="clients in the worker-load phase (default 4 8)")
    parser.add_argument("--workers", type=int, default=3, help="workers in the parallel fan-out")
    parser.add_argument("--page-requests", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds of 2 s, 200 registrants: a smoke test, not a result")
    parser.add_argument("--output", type=Path, help="also write the tables (Markdown) here")
    parser.add_argument("--keep", action="store_true", help="keep the logs and SQLite database")
    parser.add_argument("--compare", type=Path, metavar="ROOT",
                        help="floor phase: also measure the app from this other checkout (e.g. "
                        "`git worktree add /tmp/before main`) in the same rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.fanout, args.page_requests = 2, 2.0, 200, 15
    if "memory" in args.phases:  # it reads what the others left: always last
        args.phases = [p for p in args.phases if p != "memory"] + ["memory"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    out = ["# Klynge RSVP benchmark", "", *machine(), f"- command: python -m bench "
           f"{' '.join(sys.argv[1:])}".rstrip(), ""]
    for kind in kinds:
        if kind == "postgresql" and (why := services.postgresql_available()):
            out.append(f"## PostgreSQL\n\nskipped: {why}\n")
            continue
        log(f"--- {kind} ---")
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        with Run(kind, args) as run:
            for table in run.run():
                out.extend([table.render(), ""])
                print(table.render() + "\n", flush=True)
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        out.append(f"_{kind}: load average (1, 5, 15 min) {' '.join(load_before)} before, "
                   f"{' '.join(load_after)} after: other work shared the cores._\n")
    text = "\n".join(out)
    if args.output:
        args.output.write_text(text + "\n")
    print("\n".join(out[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
