"""CPU per registration, in-process: Klynge's journey against the floor app's (issue 20).

    python -m bench.cpu                         # 3 interleaved rounds, SQLite
    python -m bench.cpu --compare /tmp/before   # also the app from another checkout
    python -m bench.cpu --rounds 5 --count 300

Each round runs, each in a fresh process, the floor app (bench/floor_app.py), then the other
checkout if given, then this one: `--warm` registrations to warm up, then `--count` timed
ones through Flask's test client (GET the page, POST with the CSRF token, 303, GET the receipt),
with time.process_time() around each request. The process's own CPU only: no HTTP server, no
load client, and no database server's CPU (the database is a temporary SQLite file unless
BENCH_CPU_DATABASE_URL is set). Throughput under gunicorn (`python -m bench --phases floor`)
depends on what else the machine runs; this figure depends much less on it, so it shows what
a change to the code did.

Prints one Markdown table: ms per registration and per request, median [min–max] of the
rounds, and the ratio to the floor in the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PARTS = ("page", "post", "receipt")


def journey(client, slug: str, n: int, times: dict | None) -> None:
    """One registration through `client`; adds each request's CPU seconds to `times`."""
    client.delete_cookie("session")
    page = f"/samlinger/{slug}"
    began = time.process_time()
    body = client.get(page).get_data(as_text=True)
    after_page = time.process_time()
    response = client.post(page, data={
        "csrf_token": TOKEN.search(body).group(1), "name": f"Deltaker {n}",
        "email": f"c{n}@example.no", "job_title": "Rådgiver", "organisation": "Bergen kommune",
        "sector": "offentlig", "consent": "y"})
    after_post = time.process_time()
    if response.status_code != 303 or not response.headers["Location"].endswith("/kvittering"):
        raise RuntimeError(f"POST answered {response.status_code}")
    if client.get(response.headers["Location"]).status_code != 200:
        raise RuntimeError("no receipt")
    ended = time.process_time()
    if times is not None:
        for part, spent in zip(PARTS, (after_page - began, after_post - after_page,
                                       ended - after_post), strict=True):
            times[part] += spent


def one(target: str, warm: int, count: int) -> dict:
    """Run in a fresh process: the app under test, its data, the timed registrations."""
    import logging

    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="klynge-cpu-"))
    url = os.environ.get("BENCH_CPU_DATABASE_URL") or f"sqlite:///{folder / 'cpu.sqlite3'}"
    secret = "bench-secret-key-0123456789abcdef"  # noqa: S105 (a throwaway run)
    if target == "floor":
        os.environ.update({"DATABASE_URL": url, "SECRET_KEY": secret})
        from bench import floor_app

        floor_app.create_tables(url)
        app, slug = floor_app.app, "golv"
    else:
        from flask_migrate import upgrade

        from bench import seed
        from klynge_rsvp import create_app
        from klynge_rsvp.extensions import db

        app = create_app({
            "SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": url,
            "KLYNGE_BASE_URL": "http://127.0.0.1",
            "MAIL_DEFAULT_SENDER": "Beredskapsklyngen <klynge@bench.test>",
            "KLYNGE_SENDER_THREAD": False, "LOG_FORMAT": "json",
            "REGISTRATION_RATE_LIMIT": "1000000 per minute",
            "REGISTRATION_GATHERING_RATE_LIMIT": "1000000 per minute"})
        with app.app_context():
            upgrade()
            slug = seed.gathering(capacity=None, title="Benk: CPU").slug
            db.session.commit()
    client = app.test_client()
    for n in range(warm):
        journey(client, slug, n, None)
    times = dict.fromkeys(PARTS, 0.0)
    for n in range(warm, warm + count):
        journey(client, slug, n, times)
    return {part: 1000 * spent / count for part, spent in times.items()}


def measure(target: str, root: Path, args: argparse.Namespace) -> dict:
    # By path, so another checkout (without this file) can be measured: its klynge_rsvp and
    # bench come first on the path; the floor app always comes from this checkout.
    path = ROOT if target == "floor" else root
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one", target, "--warm", str(args.warm),
         "--count", str(args.count)], cwd=path, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(path)}, timeout=1200)
    if result.returncode != 0:
        raise RuntimeError(f"{target} at {path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--compare", type=Path, metavar="ROOT",
                        help="also measure the app from this other checkout, in the same rounds")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.warm, args.count)))
        return 0

    from bench.stats import Spread

    targets = [("floor", "floor", ROOT)]
    if args.compare:
        targets.append((f"Klynge at {args.compare}", "klynge", args.compare.resolve()))
    targets.append(("Klynge", "klynge", ROOT))
    spent = {name: {part: Spread() for part in (*PARTS, "total", "ratio")}
             for name, _, _ in targets}
    load = Path("/proc/loadavg").read_text().split()[:3]
    for r in range(args.rounds):
        floor_total = None
        for name, target, root in targets:
            result = measure(target, root, args)
            total = sum(result.values())
            floor_total = floor_total or total
            for part in PARTS:
                spent[name][part].add(result[part])
            spent[name]["total"].add(total)
            spent[name]["ratio"].add(total / floor_total)
            print(f"[bench.cpu] round {r + 1}: {name} {total:.2f} ms", file=sys.stderr, flush=True)
    lines = ["| target | page ms | POST ms | receipt ms | total ms | ÷ floor (same round) |",
             "|---|---|---|---|---|---|"]
    for name, _, _ in targets:
        cells = [spent[name][part].show(2) for part in (*PARTS, "total", "ratio")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    after = Path("/proc/loadavg").read_text().split()[:3]
    lines += ["", f"CPU ms per registration, in-process (Flask's test client), {args.count} timed "
              f"after {args.warm} to warm up, median [min–max] of {args.rounds} interleaved rounds; "
              f"load average {' '.join(load)} before, {' '.join(after)} after."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
