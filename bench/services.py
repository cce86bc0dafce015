"""What a benchmark run starts on 127.0.0.1 and stops again: databases, gunicorn, SMTP, workers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ROLE = "klynge"
# BENCH_PG_DATABASE: another name, for runs that must not share (and drop) the default one.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "klynge_bench")
PG_URL = f"postgresql+psycopg://{PG_ROLE}:{PG_ROLE}@127.0.0.1:5432/{PG_DATABASE}"
SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 (a throwaway run)
SENDER = "Beredskapsklyngen <klynge@bench.test>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def _psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(["su", "postgres", "-c", f'psql -d {database} -qtAc "{sql}"'],
                            check=True, capture_output=True, text=True)
    return result.stdout.strip()


def postgresql_available() -> str | None:
    """None when PostgreSQL can be used, else why not."""
    if shutil.which("pg_isready") is None:
        return "PostgreSQL is not installed"
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode != 0:
        return "PostgreSQL does not answer on 127.0.0.1:5432 (pg_ctlcluster 15 main start)"
    if os.geteuid() != 0:
        return "creating the bench database needs root (su postgres)"
    return None


def fresh_postgresql() -> str:
    """An empty database klynge_bench owned by the klynge role (made anew every run)."""
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname='{PG_ROLE}'") != "1":  # noqa: S608 (constants)
        _psql(f"CREATE ROLE {PG_ROLE} LOGIN PASSWORD '{PG_ROLE}' CREATEDB")
    _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    _psql(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_ROLE}")
    return PG_URL


def drop_postgresql() -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def app_env(database_url: str, *, smtp_port: int | None = None, **extra) -> dict:
    """The environment the app's processes (gunicorn, workers) run with."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "KLYNGE_BASE_URL": "http://127.0.0.1",
        "MAIL_DEFAULT_SENDER": SENDER,
        "MAIL_SERVER": "127.0.0.1" if smtp_port else "",
        "MAIL_PORT": str(smtp_port or 25),
        "KLYNGE_MAILBOX": "0",
        "KLYNGE_SENDER_THREAD": "0",
        "LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass
class Process:
    """A child process whose output goes to a log file in the run's folder."""

    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


@dataclass
class Stack:
    """Everything one run started, stopped in reverse order."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="klynge-bench-")))
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict, root: Path = ROOT) -> Process:
        log = self.folder / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(args, cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        handle.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def close(self, keep_folder: bool = False) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if not keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    # --- the pieces --------------------------------------------------------------------------

    def gunicorn(self, name: str, wsgi: str, env: dict, workers: int = 2,
                 root: Path = ROOT) -> tuple[Process, str]:
        """gunicorn with the production settings (gunicorn.conf.py), `workers` sync workers;
        `root`: the source folder to serve from (another checkout of the project, to compare)."""
        port = free_port()
        env = {**env, "WEB_CONCURRENCY": str(workers), "BIND": f"127.0.0.1:{port}",
               "GUNICORN_LOG_LEVEL": "warning", "PYTHONPATH": str(root)}
        process = self.start(name, [PYTHON, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"),
                                    wsgi], env, root)
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{name} exited; see {process.log}:\n{process.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 (http://127.0.0.1)
                    return True
            except OSError:
                return False

        wait_until(answers, 60, f"{name} to answer")
        return process, url

    def smtp(self) -> tuple[Process, int, Path]:
        """An aiosmtpd server (bench/smtp_sink.py) that logs each accepted message's time."""
        port = free_port()
        accepted = self.folder / f"smtp-{port}.log"
        process = self.start(f"smtp-{port}", [PYTHON, "-m", "bench.smtp_sink", str(port),
                                              str(accepted)], {**os.environ, "PYTHONPATH": str(ROOT)})

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(listening, 30, "the SMTP server")
        return process, port, accepted

    def worker(self, name: str, env: dict, args: list[str] | None = None) -> Process:
        """`flask klynge worker` (or another command given as `args`)."""
        return self.start(name, args or [PYTHON, "-m", "flask", "klynge", "worker"], env)


def gunicorn_worker_pids(master: Process) -> list[int]:
    """The worker processes of a gunicorn master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == master.popen.pid:
                pids.append(int(entry.name))
    return pids


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the most resident memory the process has had, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
