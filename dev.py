#!/usr/bin/env python3
"""Set-up in one command, on a machine with only Python 3.11+.

    python3 dev.py run [--port N]    install, create the database with demo data, serve
                                     http://127.0.0.1:5000 (or port N; PORT=N does the same)
    python3 dev.py klynge COMMAND …  a `klynge` command in the same development set-up, e.g.
                                     python3 dev.py klynge create-organiser you@example.org
    python3 dev.py test              install the test tools and run the whole test suite (and ruff)

Python packages go into .venv/ beside this file (run this file with another virtual
environment's Python and it uses that environment as it is). The tests also drive real system
programs: Chromium (browser tests), Dovecot (IMAP), PostgreSQL and Redis; on Debian, run as root,
`test` installs any that are missing with apt-get and starts PostgreSQL with a test database.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Run with a virtual environment's Python (.venv/bin/python, or another one's), this file uses
# that environment as it is and installs nothing: the project must be importable there already.
OWN_VENV = sys.prefix != sys.base_prefix
VENV = Path(sys.prefix) if OWN_VENV else ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DEFAULT_PORT = 5000


def call(args: list[str], env: dict | None = None) -> int:
    """Run a program to its end and return its exit code. Ctrl-C is the program's to handle
    (the worker finishes what it is sending, the server shuts down): we wait for it, and pass
    the interrupt on if it did not get one itself, rather than kill it as subprocess.run would."""
    with subprocess.Popen(args, cwd=ROOT, env=env) as process:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                try:
                    return process.wait(timeout=1)  # it got the same Ctrl-C from the terminal
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    process.send_signal(signal.SIGINT)


def sh(*args: str | Path, env: dict | None = None) -> None:
    """Run a command; stop with its exit code if it fails."""
    returncode = call([str(a) for a in args], env=env)
    if returncode != 0:
        sys.exit(returncode)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (again only when pyproject.toml changed)."""
    if sys.version_info < (3, 11):
        sys.exit("Klynge RSVP needs Python 3.11 or newer.")
    if OWN_VENV:
        return
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)

    def digest(extras: str) -> str:
        return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()

    # The test tools come with everything `run` needs: after `test`, `run` installs nothing.
    for done in [extras, "test"] if extras == "" else [extras]:
        stamp = VENV / f".installed-{done or 'base'}"
        if stamp.exists() and stamp.read_text() == digest(done):
            return
    stamp = VENV / f".installed-{extras or 'base'}"
    print(f"Installing Klynge RSVP{f' [{extras}]' if extras else ''} into .venv …", flush=True)
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    stamp.write_text(digest(extras))


def port_from(args: list[str]) -> int:
    """`--port N`, else PORT from the environment, else 5000."""
    parser = argparse.ArgumentParser(prog="python3 dev.py run")
    parser.add_argument("--port", type=int, default=os.environ.get("PORT") or DEFAULT_PORT,
                        help="where the app listens and its links point (default: PORT or 5000)")
    port = parser.parse_args(args).port
    if not 0 < port < 65536:
        parser.error(f"the port must be from 1 to 65535, not {port}")
    return port


def development_env(port: int) -> dict:
    """The development set-up, for `run` and every `klynge` command alike: debug mode (which
    accepts the development SECRET_KEY; production refuses it) and absolute links (mail, the
    calendar feed) to the port the app listens on, unless KLYNGE_BASE_URL says otherwise."""
    return {**os.environ, "FLASK_APP": "wsgi", "FLASK_DEBUG": "1",
            "KLYNGE_BASE_URL": os.environ.get("KLYNGE_BASE_URL") or f"http://127.0.0.1:{port}"}


def run(args: list[str]) -> None:
    """The embedded default: SQLite in instance/, demo data, mail readable at /e-post/."""
    port = port_from(args)
    ensure_venv("")
    env = {**development_env(port), "KLYNGE_SENDER_THREAD": "1"}
    sh(PYTHON, "-m", "flask", "klynge", "init", "--demo", env=env)
    local = f"http://127.0.0.1:{port}"
    links = "" if env["KLYNGE_BASE_URL"] == local else f"  (links in mail: {env['KLYNGE_BASE_URL']})"
    print(f"\nKlynge RSVP: {local}  (mail: {local}/e-post/){links}\n", flush=True)
    sh(PYTHON, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port), env=env)


def klynge(args: list[str]) -> None:
    """The `klynge` command (see README, Commands) in the development set-up of `run`: the
    checkout's code, debug mode, the same database, links to PORT."""
    ensure_venv("")
    sys.exit(call([str(PYTHON), "-c", "from klynge_rsvp import main; main()", *args],
                  env=development_env(port_from([]))))


SYSTEM_PACKAGES = {  # program on PATH → Debian package
    "chromium": "chromium",
    "dovecot": "dovecot-imapd",
    "pg_ctlcluster": "postgresql",
    "redis-server": "redis-server",  # shared rate-limit counters, as in production
}
TEST_POSTGRES_URL = "postgresql+psycopg://klynge:klynge@127.0.0.1:5432/klynge_test"


def ensure_system_programs() -> None:
    """Install Chromium, Dovecot and PostgreSQL from Debian's packages where they are missing."""
    missing = [package for program, package in SYSTEM_PACKAGES.items()
               if shutil.which(program) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        sys.exit(f"The tests need these programs: {', '.join(missing)}. Install them "
                 "(Debian: apt-get install " + " ".join(missing) + "), or run this as root on "
                 "Debian and it installs them.")
    print(f"Installing {', '.join(missing)} with apt-get …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh("apt-get", "update", "-qq", env=env)
    sh("apt-get", "install", "-y", "-qq", *missing, env=env)


def psql(sql: str) -> str:
    result = subprocess.run(["su", "postgres", "-c", f'psql -tAc "{sql}"'], check=True,
                            capture_output=True, text=True)
    return result.stdout.strip()


def ensure_postgresql() -> str | None:
    """Start the machine's PostgreSQL if it is down; make the test role and database."""
    if os.environ.get("TEST_POSTGRES_URL"):
        return os.environ["TEST_POSTGRES_URL"]
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
    running = subprocess.run(["pg_ctlcluster", version, "main", "status"],
                             capture_output=True, check=False).returncode == 0
    if not running:
        sh("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start")
    for _ in range(30):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0:
            break
        time.sleep(1)
    if psql("SELECT 1 FROM pg_roles WHERE rolname='klynge'") != "1":
        psql("CREATE ROLE klynge LOGIN PASSWORD 'klynge' CREATEDB")
    if psql("SELECT 1 FROM pg_database WHERE datname='klynge_test'") != "1":
        psql("CREATE DATABASE klynge_test OWNER klynge")
    return TEST_POSTGRES_URL


def parallel(pytest_args: list[str]) -> list[str]:
    """The whole suite runs in one pytest-xdist process per CPU (at least 2), a test file's
    tests in the same process (module fixtures: one wheel build, one shared app), the files in
    the order they are collected (the browser tests, the longest, first: xdist's default puts
    files with few tests last); with arguments, pytest runs as they say (add `-n 2`)."""
    if pytest_args:
        return pytest_args
    workers = os.environ.get("KLYNGE_TEST_WORKERS") or str(max(os.cpu_count() or 1, 2))
    return ["-n", workers, "--dist", "loadfile", "--no-loadscope-reorder"]


def test(pytest_args: list[str]) -> None:
    """Lint, then the whole suite on SQLite, then again on PostgreSQL."""
    ensure_venv("test")
    ensure_system_programs()
    sh(BIN / "ruff", "check", ".")
    pytest_args = parallel(pytest_args)
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    sh(PYTHON, "-m", "pytest", *pytest_args, env=env)
    postgres = ensure_postgresql()
    if postgres:
        print(f"\n--- the suite again on PostgreSQL ({postgres.rsplit('@', 1)[-1]}) ---", flush=True)
        sh(PYTHON, "-m", "pytest", *pytest_args, env={**env, "TEST_DATABASE_URL": postgres})
    else:
        sys.exit("\nNo PostgreSQL: the suite ran on SQLite only. Set TEST_POSTGRES_URL to a "
                 "database the tests may wipe, or run as root on Debian.")


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        run(rest)
    elif command == "klynge":
        klynge(rest)
    elif command == "test":
        test(rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main()
