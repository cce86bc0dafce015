"""A real install: the wheel built from a clean copy of the checkout, installed with pip into a
fresh virtual environment outside the repository, set up with `klynge init` and served by
gunicorn, takes one registration whose confirmation reaches a real SMTP server.

This is what a server gets from `pip install .`, so nothing here imports the checkout: every
step is a program run from the new environment's bin/, in a directory that is not the
repository, with an environment that names no path in it.

The installed app uses the suite's database: a SQLite file of its own, or on the PostgreSQL pass
TEST_DATABASE_URL (emptied first), so the wheel's dependencies are tried against both.
"""

from __future__ import annotations

import email
import http.cookiejar
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tests.conftest import _reset_postgresql
from tests.pages import csrf_token, form_data

# Building and installing the wheel (`built`) once: under pytest-xdist these tests run in one worker.
pytestmark = pytest.mark.xdist_group("test_install")

ROOT = Path(__file__).resolve().parent.parent
SECRET = "an-installed-test-secret-of-forty-chars!"



def _checkout_files() -> list[str]:
    """The files a clean checkout has: tracked, plus new ones not ignored (an uncommitted file
    under test), never .venv/, instance/ or a compiled catalogue."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to know which files a clean checkout holds")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False,
                            **kwargs)
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the wheel, the fresh environment it is installed in, the checkout's file names)."""
    base = tmp_path_factory.mktemp("install")
    source = base / "checkout"
    files = _checkout_files()
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    dist = base / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist,
         source, cwd=base)
    wheel = next(dist.glob("klynge_rsvp-*.whl"))
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=base)
    return wheel, venv, files


def test_an_editable_install_reads_the_checkout_and_copies_nothing(built, tmp_path):
    """What dev.py makes: the package, templates and catalogues stay where they are in the
    checkout (a copy in site-packages would go stale as soon as one is edited)."""
    _wheel, _venv, files = built
    source = tmp_path / "checkout"
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--editable",
         source, cwd=tmp_path)
    [site_packages] = venv.glob("lib/python*/site-packages")
    assert not (site_packages / "klynge_rsvp").exists()
    found = _run(venv / "bin" / "python", "-c",
                 "import importlib.util; print(importlib.util.find_spec('klynge_rsvp').origin)",
                 cwd=tmp_path).stdout.strip()
    assert found == str(source / "klynge_rsvp" / "__init__.py")
    assert (venv / "bin" / "klynge").exists()
    assert not (source / "klynge_rsvp" / "templates").exists()  # RESOURCES: the checkout's


def test_the_wheel_carries_templates_static_files_migrations_and_catalogues(built):
    wheel, _venv, files = built
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static", "migrations"):
        in_checkout = {name for name in files if name.startswith(f"{folder}/")}
        assert in_checkout, folder
        assert {f"klynge_rsvp/{name}" for name in in_checkout} <= names
    for language in ("nb", "nn", "en"):
        for suffix in ("po", "mo"):
            assert f"klynge_rsvp/translations/{language}/LC_MESSAGES/messages.{suffix}" in names
    assert not any(name.startswith(("templates/", "static/", "migrations/", "tests/"))
                   for name in names)


def unit_command(unit: str, places: dict[str, str]) -> list[str]:
    """The ExecStart= of one of deploy/'s units as argv, its paths moved to `places`."""
    text = (ROOT / "deploy" / unit).read_text()
    for old, new in places.items():
        text = text.replace(old, new)
    [line] = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    return shlex.split(line)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log(directory: Path) -> str:
    return (directory / "gunicorn.log").read_text(errors="replace")[-4000:]


def _wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped:\n{_log(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http://127.0.0.1 only)
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _outbox(database_url: str) -> list[str]:
    """The status of each message in the outbox to the registrant (straight from the table)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT status FROM outbox_messages WHERE recipient = 'kari@example.no'"))
            return [str(status).lower() for (status,) in rows]
    finally:
        engine.dispose()


def test_the_installed_app_serves_a_page_and_a_registration(built, smtp_server, tmp_path):
    _wheel, venv, _files = built
    bin_ = venv / "bin"
    imported = _run(bin_ / "python", "-c", "import klynge_rsvp; print(klynge_rsvp.RESOURCES)",
                    cwd=tmp_path).stdout.strip()
    assert Path(imported).is_relative_to(venv), imported  # the wheel's copy, not the checkout
    catalogues = sorted(Path(imported).glob("translations/*/LC_MESSAGES/messages.mo"))
    assert len(catalogues) == 3
    compiled = {path: path.stat().st_mtime_ns for path in catalogues}

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'klynge.sqlite3'}"
    if database_url.startswith("postgresql"):
        _reset_postgresql(database_url)
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
           "KLYNGE_INSTANCE_PATH": str(tmp_path / "instance"), "KLYNGE_BASE_URL": base_url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port),
           "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "OUTBOX_POLL_SECONDS": "0.2"}

    first = _run(bin_ / "klynge", "init", cwd=tmp_path, env=env)
    assert "up to date" in first.stdout
    _run(bin_ / "klynge", "init", cwd=tmp_path, env=env)  # again: nothing to do, no error
    demo = _run(bin_ / "klynge", "init", "--demo", cwd=tmp_path, env=env)
    assert "Demo data loaded." in demo.stdout

    # The example systemd units' own commands, with this venv and configuration in place.
    shutil.copy(ROOT / "gunicorn.conf.py", tmp_path / "gunicorn.conf.py")
    places = {"/opt/klynge/venv": str(venv), "/etc/klynge/": f"{tmp_path}/"}
    server_log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(unit_command("klynge-web.service", places), cwd=tmp_path, env=env,
                              stdout=server_log, stderr=subprocess.STDOUT)
    worker = None
    try:
        _wait_for(f"{base_url}/healthz", server, log=tmp_path)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def get(path: str, language: str = "nb") -> str:
            request = urllib.request.Request(base_url + path,  # noqa: S310
                                             headers={"Accept-Language": language})
            with opener.open(request, timeout=30) as response:
                assert response.status == 200, path
                return response.read().decode()

        home = get("/")
        assert "<h1>Kommende samlinger</h1>" in home
        assert "<h1>Komande samlingar</h1>" in get("/", "nn")
        assert "<h1>Upcoming gatherings</h1>" in get("/", "en")
        stylesheet = re.search(r'href="(/static/[^"]+\.css[^"]*)"', home)
        assert stylesheet and "font" in get(stylesheet.group(1))

        link = re.search(r'href="(/samlinger/[^"/]+)"', home)
        assert link, home
        page = get(link.group(1))
        fields = {"csrf_token": csrf_token(page), **form_data(email="kari@example.no")}
        post = urllib.request.Request(base_url + link.group(1), method="POST",  # noqa: S310
                                      data=urllib.parse.urlencode(fields).encode(),
                                      headers={"Accept-Language": "nb"})
        with opener.open(post, timeout=30) as response:  # follows the 303 to the receipt
            receipt = response.read().decode()
        assert "<h1>Takk for påmeldingen</h1>" in receipt, receipt
        assert "kari@example.no" in receipt

        assert len(_outbox(database_url)) == 1

        worker = subprocess.Popen(unit_command("klynge-worker.service", places), cwd=tmp_path,
                                  env=env, stdout=server_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not smtp_server.handler.messages and time.monotonic() < deadline:
            assert worker.poll() is None, _log(tmp_path)
            time.sleep(0.2)
        [envelope] = smtp_server.handler.messages
        assert envelope.rcpt_tos == ["kari@example.no"]
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        links = message.get_body(("plain",)).get_content()
        assert f"{base_url}/" in links  # KLYNGE_BASE_URL reached the mail
        deadline = time.monotonic() + 30
        while _outbox(database_url) != ["sent"] and time.monotonic() < deadline:
            time.sleep(0.2)  # the "sent" is recorded just after the SMTP server said yes
        assert _outbox(database_url) == ["sent"]
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
        server_log.close()
    # systemd stops both with SIGTERM: each finishes what it has in hand and exits cleanly.
    assert (server.returncode, worker.returncode) == (0, 0), _log(tmp_path)
    assert "Worker stopped." in _log(tmp_path)

    # Nothing was written into the installed package: it may sit on a read-only file system.
    assert {path: path.stat().st_mtime_ns for path in catalogues} == compiled
    assert not (Path(imported) / "instance").exists()
    assert (tmp_path / "instance").is_dir()


def test_the_console_command_is_the_flask_command_group(built, tmp_path):
    _wheel, venv, _files = built
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    listed = _run(venv / "bin" / "klynge", "--help", cwd=tmp_path, env=env).stdout
    for command in ("init", "worker", "create-organiser", "reset-totp", "purge-personal-data",
                    "fetch-replies", "db"):
        assert re.search(rf"^  {command}\b", listed, re.MULTILINE), (command, listed)
    # Without a secret, an installed app still refuses to start, and says why.
    refused = subprocess.run([str(venv / "bin" / "klynge"), "init"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: SECRET_KEY is missing"), refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_installed_app_makes_a_certificate_with_the_font_it_carries(built, tmp_path):
    """fpdf2 and the DejaVu font come with the wheel: no font of the system's is needed."""
    _wheel, venv, _files = built
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    script = (
        "import sys\n"
        "from klynge_rsvp import certificates as c\n"
        "content = c.CertificateContent(language='nb', heading='Deltakerbevis', intro='',\n"
        "    name='Åse Ødegård', attended='', gathering='Øvelse', facts=[], issuer='',\n"
        "    verify_text='', verify_url='https://rsvp.test/bevis/abc')\n"
        "sys.stdout.buffer.write(str(c.FONTS).encode() + b'\\n')\n"
        "sys.stdout.buffer.write(c.render_pdf(content))\n")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    fonts, pdf = result.stdout.split(b"\n", 1)
    assert fonts.decode().startswith(str(venv)), fonts  # the wheel's copy, not the checkout's
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Åse Ødegård" in text


HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "CapabilityBoundingSet=", "SystemCallFilter=@system-service"]


@pytest.mark.parametrize("unit", ["klynge-web.service", "klynge-worker.service"])
def test_the_example_systemd_unit_verifies_against_an_installed_app(built, tmp_path, unit):
    _wheel, venv, _files = built
    text = (ROOT / "deploy" / unit).read_text()
    for option in [*HARDENING, "User=klynge", "EnvironmentFile=/etc/klynge/klynge.env",
                   "StateDirectory=klynge"]:
        assert re.search(rf"^{re.escape(option)}$", text, re.MULTILINE), option
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # systemd-analyze checks that the programs exist: the units' /opt/klynge/venv is the new one.
    (tmp_path / unit).write_text(text.replace("/opt/klynge/venv", str(venv)))
    verified = subprocess.run([analyze, "verify", f"./{unit}"], cwd=tmp_path,
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""


def test_the_environment_file_example_names_only_settings_the_app_reads():
    names = re.findall(r"^([A-Z_]+)=", (ROOT / "deploy" / "klynge.env.example").read_text(),
                       re.MULTILINE)
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", (ROOT / "README.md").read_text()))
    documented |= set(re.findall(r"^    ([A-Z_]+) ", (ROOT / "gunicorn.conf.py").read_text(),
                                 re.MULTILINE))
    assert {"SECRET_KEY", "DATABASE_URL", "KLYNGE_BASE_URL", "KLYNGE_INSTANCE_PATH"} <= set(names)
    assert set(names) <= documented, set(names) - documented
