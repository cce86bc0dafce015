#!/usr/bin/env python3
"""Set-up in one command, on a machine with only Python 3.11+.

    python3 dev.py run     install, create the database with demo data, serve http://127.0.0.1:5000
    python3 dev.py test    install the test tools and run the whole test suite (and ruff)

Everything goes into .venv/ beside this file; nothing is installed system-wide.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def sh(*args: str | Path, env: dict | None = None) -> None:
    """Run a command; stop with its exit code if it fails."""
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (again only when pyproject.toml changed)."""
    if sys.version_info < (3, 11):
        sys.exit("Klynge RSVP needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing Klynge RSVP{f' [{extras}]' if extras else ''} into .venv …", flush=True)
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    stamp.write_text(digest)


def run() -> None:
    """The embedded default: SQLite in instance/, demo data, mail readable at /e-post/."""
    ensure_venv("")
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_DEBUG": "1", "KLYNGE_SENDER_THREAD": "1"}
    sh(BIN / "flask", "klynge", "init", "--demo", env=env)
    print("\nKlynge RSVP: http://127.0.0.1:5000  (mail: http://127.0.0.1:5000/e-post/)\n", flush=True)
    sh(BIN / "flask", "run", "--host", "127.0.0.1", "--port", os.environ.get("PORT", "5000"),
       env=env)


def test(pytest_args: list[str]) -> None:
    """Lint, then the whole suite on SQLite, then again on PostgreSQL if TEST_POSTGRES_URL is set."""
    ensure_venv("test")
    sh(BIN / "ruff", "check", ".")
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    sh(PYTHON, "-m", "pytest", *pytest_args, env=env)
    postgres = os.environ.get("TEST_POSTGRES_URL")
    if postgres:
        print(f"\n--- the suite again on PostgreSQL ({postgres.rsplit('@', 1)[-1]}) ---", flush=True)
        sh(PYTHON, "-m", "pytest", *pytest_args, env={**env, "TEST_DATABASE_URL": postgres})
    else:
        print("\nTEST_POSTGRES_URL is not set: the suite ran on SQLite only.", flush=True)


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        run()
    elif command == "test":
        test(rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main()
