"""A private Dovecot IMAP server on 127.0.0.1 for tests, and small IMAP helpers.

Dovecot runs from a temporary directory with its own configuration (CONFIG below): base, state,
log and mail directories inside it, no chroot, a static password for every user name (each test
takes a fresh, empty mailbox) and a free port on 127.0.0.1, so it touches no system service.
"""

from __future__ import annotations

import atexit
import contextlib
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
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
auth_failure_delay = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {first_valid_uid}
# Any user name logs in with this password, so each test can take a fresh, empty mailbox.
passdb {{
  driver = static
  args = password={password}
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
        self.password = secrets.token_urlsafe(12)

    def start(self) -> Dovecot:
        d = self.dir
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir()
        if os.geteuid() == 0:
            ids = {"login_user": "dovenull", "internal_user": "dovecot", "internal_group": "dovecot",
                   "mail_user": "dovecot", "mail_group": "dovecot", "first_valid_uid": 100}
            shutil.chown(d / "mail", "dovecot", "dovecot")
        else:  # a rootless Dovecot: every process runs as the current user
            me = pwd.getpwuid(os.geteuid())
            ids = {"login_user": me.pw_name, "internal_user": me.pw_name, "internal_group": me.pw_name,
                   "mail_user": me.pw_uid, "mail_group": me.pw_gid, "first_valid_uid": me.pw_uid}
        (d / "dovecot.conf").write_text(CONFIG.format(d=d, port=self.port, password=self.password, **ids))
        with open(d / "start.log", "wb") as log:  # it daemonises: never pipe its output
            result = subprocess.run([self.binary, "-c", str(d / "dovecot.conf")], stdout=log,
                                    stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise RuntimeError("dovecot did not start: " + (d / "start.log").read_text())
        atexit.register(self.stop)  # also when the session ends without its teardown
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
        """A fresh, empty account."""
        user = f"arrangor-{secrets.token_hex(6)}@example.test"
        return Mailbox("127.0.0.1", self.port, user, self.password)

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid_file.exists():
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- REPLY messages as the calendar programs send them ----------------------------------------

ORGANIZER = "klynge@rsvp.test"
# The organiser mailbox's own server: its authserv-id (REPLY_AUTHSERV_ID in the tests' apps), and
# the header it writes for mail from example.no that it proved (aligned DKIM and DMARC pass).
AUTHSERV_ID = "mx.rsvp.test"
PASS = (f"{AUTHSERV_ID}; dkim=pass (2048-bit key; unprotected) header.d=example.no header.s=sel1 "
        f"header.b=AbCdEf12; spf=pass ({AUTHSERV_ID}: domain of x@example.no designates 192.0.2.7 "
        "as permitted sender) smtp.mailfrom=example.no; dmarc=pass (p=QUARANTINE sp=NONE) "
        "header.from=example.no")


def fold(line: str) -> str:
    """One content line folded at 75 octets, never inside a UTF-8 character (RFC 5545 3.1)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current)
            current = b""
        current += encoded
    out.append(current)
    return "\r\n ".join(part.decode() for part in out)


def reply_calendar(*, uid: str, address: str, partstat: str, sequence: int | None = 0,
                   attendee_line: str | None = None, prodid: str = "-//Test//EN",
                   method: str | None = "REPLY", extra: list[str] = ()) -> str:
    """A METHOD:REPLY VCALENDAR with one VEVENT, CRLF lines folded at 75 octets."""
    attendee = attendee_line or f"ATTENDEE;PARTSTAT={partstat}:mailto:{address}"
    lines = ["BEGIN:VCALENDAR", f"PRODID:{prodid}", "VERSION:2.0"]
    if method:
        lines.append(f"METHOD:{method}")
    lines += ["BEGIN:VEVENT", attendee, f"ORGANIZER;CN=Beredskapsklyngen:mailto:{ORGANIZER}",
              "SUMMARY;LANGUAGE=nb-NO:Frokostmøte om beredskap – «Når strømmen går» på Ole Bull",
              "DTSTART;TZID=Europe/Oslo:20260212T083000", "DTEND;TZID=Europe/Oslo:20260212T103000",
              f"UID:{uid}", "DTSTAMP:20260113T090000Z"]
    if sequence is not None:
        lines.append(f"SEQUENCE:{sequence}")
    lines += [*extra, "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)


def _charset(body_encoding) -> Charset:
    charset = Charset("utf-8")
    charset.body_encoding = body_encoding
    return charset


def _finish(message, *, sender: str, name: str, subject: str, auth: list[str] | None,
            message_id: str | None) -> bytes:
    message["From"] = formataddr((str(Header(name, "utf-8")), sender)) if name else sender
    message["To"] = formataddr(("Beredskapsklyngen", ORGANIZER))
    message["Subject"] = Header(subject, "utf-8")
    message["Date"] = formatdate(1768294800)
    message["Message-ID"] = message_id or make_msgid(domain="example.no")
    top = "".join(f"Authentication-Results: {value}\r\n" for value in (auth if auth is not None else [PASS]))
    received = f"Received: from mail.example.no (mail.example.no [192.0.2.7]) by {AUTHSERV_ID}\r\n"
    body = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return (top + received).encode() + body


def outlook_reply(*, uid: str, address: str, partstat: str = "ACCEPTED", sequence: int | None = 0,
                  sender: str | None = None, name: str = "Nordmann, Kari", auth=None,
                  message_id=None, attendee_line: str | None = None, method: str = "REPLY") -> bytes:
    """Outlook / Exchange: multipart/alternative, text/plain + text/calendar; method=REPLY, base64."""
    verb = {"ACCEPTED": "Godtatt", "DECLINED": "Avslått", "TENTATIVE": "Foreløpig"}.get(partstat, "Svar")
    calendar = reply_calendar(
        uid=uid, address=address, partstat=partstat, sequence=sequence, method=method,
        prodid="Microsoft Exchange Server 2010",
        attendee_line=attendee_line or f'ATTENDEE;PARTSTAT={partstat};CN="{name}":mailto:{address}',
        extra=["X-MICROSOFT-CDO-APPT-SEQUENCE:0", "X-MICROSOFT-CDO-OWNERAPPTID:-1978346571",
               "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY",
               "X-MICROSOFT-CDO-ALLDAYEVENT:FALSE", "X-MICROSOFT-DISALLOW-COUNTER:FALSE"])
    message = MIMEMultipart("alternative")
    message.attach(MIMEText("", "plain", _charset(BASE64)))
    part = MIMEText(calendar, "calendar", _charset(BASE64))
    part.set_param("method", method)
    message.attach(part)
    message["Thread-Topic"] = "Frokostmøte om beredskap"
    message["X-MS-Has-Attach"] = ""
    return _finish(message, sender=sender or address, name=name, auth=auth, message_id=message_id,
                   subject=f"{verb}: Frokostmøte om beredskap")


def gmail_reply(*, uid: str, address: str, partstat: str = "ACCEPTED", sequence: int | None = 0,
                sender: str | None = None, name: str = "Kari Nordmann", auth=None,
                message_id=None) -> bytes:
    """Gmail: multipart/mixed of multipart/alternative (text, HTML, text/calendar;method=REPLY)
    and the same calendar attached as invite.ics (application/ics)."""
    calendar = reply_calendar(
        uid=uid, address=address, partstat=partstat, sequence=sequence,
        prodid="-//Google Inc//Google Calendar 70.9054//EN",
        attendee_line=(f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};"
                       f"CN={name};X-NUM-GUESTS=0:mailto:{address}"),
        extra=["CREATED:20260113T085900Z", "LAST-MODIFIED:20260113T090000Z", "STATUS:CONFIRMED",
               "TRANSP:OPAQUE"])
    qp = _charset(QP)
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(f"{name} har svart på invitasjonen.\n", "plain", _charset(BASE64)))
    alternative.attach(MIMEText(f"<p>{name} har svart på invitasjonen.</p>", "html", qp))
    inline = MIMEText(calendar, "calendar", qp)
    inline.set_param("method", "REPLY")
    alternative.attach(inline)
    message = MIMEMultipart("mixed")
    message.attach(alternative)
    attached = MIMEApplication(calendar.encode(), "ics", name="invite.ics")
    attached.add_header("Content-Disposition", "attachment", filename="invite.ics")
    message.attach(attached)
    return _finish(message, sender=sender or address, name=name, auth=auth, message_id=message_id,
                   subject=f"Godtatt: Frokostmøte om beredskap @ tor. 12. feb. 2026 09:30 ({ORGANIZER})")


def apple_reply(*, uid: str, address: str, partstat: str = "DECLINED", sequence: int | None = 0,
                sender: str | None = None, name: str = 'Kari "Kaja" Nordmann', auth=None,
                message_id=None) -> bytes:
    """Apple Calendar: text/plain and the reply attached as a .ics file, quoted-printable, with no
    method= in the MIME type; CN with quotes (RFC 6868), EMAIL=, MAILTO: in capitals."""
    cn = name.replace('"', "^'")
    calendar = reply_calendar(
        uid=uid, address=address, partstat=partstat, sequence=sequence,
        prodid="-//Apple Inc.//macOS 14.2.1//EN",
        attendee_line=(f'ATTENDEE;CN="{cn}";CUTYPE=INDIVIDUAL;EMAIL="{address}";PARTSTAT={partstat};'
                       f"ROLE=REQ-PARTICIPANT:MAILTO:{address.upper()}"),
        extra=["REQUEST-STATUS:2.0;Success", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"])
    qp = _charset(QP)
    message = MIMEMultipart("mixed")
    message.attach(MIMEText("", "plain", qp))
    part = MIMEText(calendar, "calendar", qp)
    part.set_param("name", "iCal-20260113-100000.ics")
    part.add_header("Content-Disposition", "attachment", filename="iCal-20260113-100000.ics")
    message.attach(part)
    return _finish(message, sender=sender or address, name=name, auth=auth, message_id=message_id,
                   subject="Invitasjon avslått: Frokostmøte om beredskap")


def plain_mail(subject: str = "Spørsmål om parkering", sender: str = "ola@example.no") -> bytes:
    """Ordinary mail to the organisers: must be left untouched."""
    message = MIMEText("Hei! Er det parkering ved Ole Bull Scene?\n", "plain", _charset(QP))
    return _finish(message, sender=sender, name="Ola Nordmann", auth=None, message_id=None,
                   subject=subject)
