"""A newcomer's first hour: the README's commands, run as written, in the development set-up.

Each command is taken from the README itself and run in a subprocess, with this suite's Python
in place of `python3` (dev.py, run by a virtual environment's Python, uses that environment as it
is rather than installing into .venv/), on a database of the test's own.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _reset_postgresql
from tests.pages import csrf_token, form_data

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PASSWORD = "korrekt-hest-batteri-stift-2026"

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix,
                                reason="dev.py installs into .venv/ unless run from a venv")


def readme_command(pattern: str) -> tuple[dict, list[str]]:
    """The one command in the README's backticks that matches `pattern`: the variables it sets
    (`PORT=5055 python3 …`) and its argv."""
    found = {match for match in re.findall(r"`([^`\n]+)`", README) if re.search(pattern, match)}
    assert len(found) == 1, (pattern, found)
    words = shlex.split(found.pop())
    variables = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        variables[name] = value
    assert words[:2] == ["python3", "dev.py"], words
    return variables, [sys.executable, *words[1:]]


@pytest.fixture
def database_url(tmp_path):
    """The suite's database, emptied: the development set-up's own, as `dev.py run` leaves it."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'klynge.sqlite3'}"
    if url.startswith("postgresql"):
        _reset_postgresql(url)
    return url


def development_env(database_url: str, **extra) -> dict:
    """The shell of someone who has just cloned the repository: no SECRET_KEY, no FLASK_*."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FLASK_", "KLYNGE_", "TEST_")) and key not in {
               "SECRET_KEY", "PORT", "DATABASE_URL", "MAIL_SERVER", "PYTHONPATH"}}
    return {**env, "DATABASE_URL": database_url, **extra}


def test_create_organiser_works_as_the_readme_writes_it(database_url, tmp_path):
    env = development_env(database_url)
    subprocess.run([sys.executable, "dev.py", "klynge", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    current = subprocess.run([sys.executable, "dev.py", "klynge", "db", "current"], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True)
    assert "(head)" in current.stdout
    variables, command = readme_command(r"create-organiser you@example\.org$")
    assert variables == {}
    # A new session has no terminal: the password prompt reads the two lines from stdin.
    created = subprocess.run(command, cwd=ROOT, env=env, input=f"{PASSWORD}\n{PASSWORD}\n",
                             capture_output=True, text=True, check=False, start_new_session=True)
    assert created.returncode == 0, created.stderr
    assert "Created administrator you@example.org." in created.stdout
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT email, role FROM organisers")).all()
    finally:
        engine.dispose()
    assert [(email, str(role).lower()) for email, role in rows] == [
        ("you@example.org", "administrator")]


def test_production_still_refuses_the_development_secret(database_url):
    refused = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "klynge", "create-organiser",
         "you@example.org"], cwd=ROOT, env=development_env(database_url), input="x\nx\n",
        capture_output=True, text=True, check=False, start_new_session=True)
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr
    assert "python3 dev.py klynge" in refused.stderr  # and says what to run instead


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("how", ["PORT", "--port"])
def test_the_port_sets_where_the_app_listens_and_its_links(how, database_url, tmp_path):
    # The README's command, with its example port swapped for a free one.
    port = _free_port()
    if how == "PORT":
        extra, command = readme_command(r"^PORT=\d+ python3 dev\.py run$")
        assert command == [sys.executable, "dev.py", "run"]
        extra["PORT"] = str(port)
    else:
        extra, command = readme_command(r"^python3 dev\.py run --port \d+$")
        command[-1] = str(port)
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=development_env(database_url, **extra),
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        home = _get_when_up(base_url + "/", server, log_path)
        startup = log_path.read_text(errors="replace")
        assert f"Klynge RSVP: {base_url}  (mail: {base_url}/e-post/)" in startup
        assert f"<code>{base_url}/kalender" in home or f"<code>{base_url}/" in home
        assert f"webcal://127.0.0.1:{port}/" in home
        assert ":5000" not in home

        # A registration's mail links to the same port.
        link = re.search(r'href="(/samlinger/[^"/]+)"', home)
        assert link, home
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(base_url + link.group(1), timeout=30) as response:
            page = response.read().decode()
        fields = {"csrf_token": csrf_token(page), **form_data(email="kari@example.no")}
        with opener.open(base_url + link.group(1),
                         urllib.parse.urlencode(fields).encode(), timeout=30) as response:
            assert "Takk for påmeldingen" in response.read().decode()
        engine = sa.create_engine(database_url)
        try:
            with engine.connect() as connection:
                [raw] = connection.execute(sa.text(
                    "SELECT message FROM outbox_messages WHERE recipient = 'kari@example.no'"
                )).scalars().all()
        finally:
            engine.dispose()
        assert f"{base_url}/".encode() in raw
        assert b"127.0.0.1:5000" not in raw
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # dev.py, flask and its reloader's child
            server.wait(timeout=30)


def _get_when_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1)
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url}:\n{log.read_text(errors='replace')}")


def test_an_interrupted_dev_py_command_lets_the_program_stop_in_its_own_way(database_url):
    """`python3 dev.py klynge worker` interrupted (Ctrl-C, here sent to dev.py alone): dev.py
    passes the interrupt on and waits, so the worker finishes its pass and says so, instead of
    being killed half a second later with a traceback from dev.py."""
    import selectors

    env = development_env(database_url, PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "dev.py", "klynge", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    # A test process of pytest-xdist ignores SIGINT, and a child inherits that: dev.py is
    # started as from a terminal, with the default.
    with subprocess.Popen([sys.executable, "dev.py", "klynge", "worker"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) as worker:
        try:
            waiting = selectors.DefaultSelector()
            waiting.register(worker.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            while "Worker started" not in worker.stdout.readline():
                assert waiting.select(timeout=max(deadline - time.monotonic(), 0)), "no start"
            waiting.close()
            worker.send_signal(signal.SIGINT)  # to dev.py only: the worker hears it from dev.py
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.communicate()
    assert worker.returncode == 0, err
    assert "Worker stopped." in out
    assert "Traceback" not in err
