"""A private Dovecot IMAP server on 127.0.0.1 for tests (see RECIPES.md), and small IMAP helpers."""

from __future__ import annotations

import imaplib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {first_valid_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Mailbox:
    """One IMAP account on the test server."""

    host: str
    port: int
    user: str
    password: str

    def connect(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4(self.host, self.port, timeout=10)
        connection.login(self.user, self.password)
        return connection

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message into `folder`, unread."""
        connection = self.connect()
        try:
            typ, data = connection.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            connection.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[set[str], bytes]]:
        """(flags, raw message) of every message in `folder`, read without setting \\Seen."""
        connection = self.connect()
        try:
            typ, data = connection.select(quote(folder), readonly=True)
            if typ != "OK":
                return []
            typ, data = connection.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            found = []
            for item in data:
                if isinstance(item, tuple):
                    flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode()
                    found.append((set(flags.split()), item[1]))
            return found
        finally:
            connection.logout()

    def folders(self) -> list[str]:
        connection = self.connect()
        try:
            _, data = connection.list()
            return [re.search(rb' "?([^"]+)"?$', line).group(1).decode() for line in data if line]
        finally:
            connection.logout()


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dovecot:
    """Dovecot started from a config in a temporary folder, stopped (and removed) by `stop`."""

    def __init__(self) -> None:
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        # Dovecot's processes (login as dovenull, mail as dovecot) must reach the folder.
        self.dir = Path(tempfile.mkdtemp(prefix="klynge-dovecot-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.users = self.dir / "users"

    def start(self) -> Dovecot:
        d = self.dir
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir()
        self.users.write_text("")
        if os.geteuid() == 0:
            ids = {"login_user": "dovenull", "internal_user": "dovecot", "internal_group": "dovecot",
                   "mail_user": "dovecot", "mail_group": "dovecot", "first_valid_uid": 100}
            shutil.chown(d / "mail", "dovecot", "dovecot")
        else:  # a rootless Dovecot: every process runs as the current user
            me = pwd.getpwuid(os.geteuid())
            ids = {"login_user": me.pw_name, "internal_user": me.pw_name, "internal_group": me.pw_name,
                   "mail_user": me.pw_uid, "mail_group": me.pw_gid, "first_valid_uid": me.pw_uid}
        (d / "dovecot.conf").write_text(CONFIG.format(d=d, port=self.port, **ids))
        with open(d / "start.log", "wb") as log:  # it daemonises: never pipe its output
            result = subprocess.run([self.binary, "-c", str(d / "dovecot.conf")], stdout=log,
                                    stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise RuntimeError("dovecot did not start: " + (d / "start.log").read_text())
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot is not answering: " + self.log())
            time.sleep(0.05)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def new_mailbox(self) -> Mailbox:
        """A fresh, empty account (Dovecot re-reads the users file when it changes)."""
        user = f"arrangor-{secrets.token_hex(4)}@example.test"
        password = secrets.token_urlsafe(12)
        with open(self.users, "a") as users:
            users.write(f"{user}:{{PLAIN}}{password}::::::\n")
        return Mailbox("127.0.0.1", self.port, user, password)

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 15)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid_file.exists():
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)
