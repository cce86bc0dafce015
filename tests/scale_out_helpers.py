"""Separate processes for the scale-out tests: gunicorn app servers and `flask klynge worker`s,
each on 127.0.0.1, all on the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_app():
    """The gunicorn app factory (`tests.scale_out_helpers:make_app()`): the real app, with the
    per-address registration limit raised, since every test client comes from 127.0.0.1."""
    from klynge_rsvp import create_app

    return create_app({"REGISTRATION_RATE_LIMIT": "10000 per minute"})


def environment(config: dict, smtp_port: int, **extra) -> dict:
    return {
        **os.environ,
        "FLASK_APP": "wsgi",
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "scale-out-test-secret-0123456789",
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_DEFAULT_SENDER": config["MAIL_DEFAULT_SENDER"],
        "KLYNGE_BASE_URL": "http://127.0.0.1",
        "KLYNGE_SENDER_THREAD": "0",
        **{key: str(value) for key, value in extra.items()},
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    # Output to a file, not a pipe: a full pipe would block a chatty server.
    with log.open("ab") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    process.log = log
    return process


def start_app_server(env: dict, log: Path, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """gunicorn with the production gunicorn.conf.py on a free port; returns it and its URL."""
    port = free_port()
    server = _spawn([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                     "tests.scale_out_helpers:make_app()"],
                    {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}, log)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            return True
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 (127.0.0.1)
                return True
        except OSError:
            return False

    assert wait_for(answers, 60), "gunicorn did not start"
    assert server.poll() is None, log.read_text()
    return server, url


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return _spawn([sys.executable, "-m", "flask", "klynge", "worker"], env, log)


def stop_all(processes: list[subprocess.Popen]) -> list[str]:
    """SIGTERM each, wait for each; returns their output."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return [process.log.read_text(errors="replace") for process in processes]
