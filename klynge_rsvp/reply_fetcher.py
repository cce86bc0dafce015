"""Reads calendar replies from the organiser mailbox over IMAP, one pass at a time.

Every message that holds a calendar reply is recorded and applied (replies.receive) and then
moved to the done folder. Other mail is left exactly as it was: fetched with BODY.PEEK (so not
marked read), never flagged, never moved. Each reply counts once, also when a move failed after
the commit or two fetchers read the mailbox at the same moment: the CalendarReply fingerprint is
unique, and a message recorded before is only moved.

The worker runs a pass every REPLY_FETCH_SECONDS (worker.py); `flask klynge fetch-replies`, one.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from . import replies
from .clock import utcnow
from .extensions import db
from .models import CalendarReply, ReplyOutcome

log = logging.getLogger(__name__)

# Messages read per pass; the rest wait for the next one.
MAX_PER_PASS = 200
# A cheap look at each message's structure first: only these can hold a calendar part.
_CALENDAR_HINT = re.compile(rb'"(?:calendar|ics|x-vcalendar|x-ics)"|\.ics"', re.IGNORECASE)


class FetchError(Exception):
    """The mailbox could not be read as configured."""


@dataclass
class FetchReport:
    """What one pass did."""

    applied: int = 0
    ignored: int = 0
    held: int = 0
    duplicates: int = 0  # recorded before (by an earlier pass or another fetcher): only moved
    other_mail: int = 0  # no calendar reply in it: left untouched
    moved: int = 0
    not_moved: int = 0
    failed: int = 0  # could not be recorded: left in place for the next pass

    @property
    def handled(self) -> int:
        return self.applied + self.ignored + self.held + self.duplicates

    def summary(self) -> str:
        text = (f"Calendar replies: {self.applied} applied, {self.ignored} ignored, {self.held} held "
                f"for an organiser, {self.duplicates} handled before; {self.other_mail} other "
                f"messages left untouched; {self.moved} moved to the done folder.")
        if self.not_moved:
            text += f" {self.not_moved} could not be moved (they are not applied again)."
        if self.failed:
            text += f" {self.failed} failed and stay in the mailbox for the next pass."
        return text


def is_configured(app: Flask) -> bool:
    """Whether an organiser mailbox is set up (REPLY_IMAP_HOST)."""
    return bool(app.config.get("REPLY_IMAP_HOST"))


def open_connection() -> imaplib.IMAP4:
    """A logged-in IMAP connection as configured by REPLY_IMAP_*, with a socket timeout."""
    config = current_app.config
    host, timeout = config["REPLY_IMAP_HOST"], config["REPLY_IMAP_TIMEOUT"]
    if not host:
        raise FetchError("REPLY_IMAP_HOST is not set: there is no mailbox to read.")
    if config["REPLY_IMAP_TLS"]:
        connection = imaplib.IMAP4_SSL(host, config["REPLY_IMAP_PORT"],
                                       ssl_context=ssl.create_default_context(), timeout=timeout)
    else:
        connection = imaplib.IMAP4(host, config["REPLY_IMAP_PORT"], timeout=timeout)
    try:
        connection.login(config["REPLY_IMAP_USER"], config["REPLY_IMAP_PASSWORD"])
    except BaseException:
        _logout(connection)
        raise
    return connection


def fetch_replies() -> FetchReport:
    """One pass over the reply folder: record and apply each calendar reply, then move it.

    Commits after every message, so a failure later in the pass keeps what was done.
    """
    config = current_app.config
    report = FetchReport()
    connection = open_connection()
    try:
        mailbox = ReplyMailbox(connection, config["REPLY_IMAP_FOLDER"],
                               config["REPLY_IMAP_DONE_FOLDER"])
        candidates = mailbox.candidates(limit=MAX_PER_PASS)
        report.other_mail += mailbox.without_calendar
        for uid in candidates:
            raw = mailbox.fetch(uid)
            if raw is None:  # moved away meanwhile (another fetcher)
                continue
            message = replies.read_message(raw, authserv_id=config["REPLY_AUTHSERV_ID"])
            if message is None:
                report.other_mail += 1
                continue
            if not record(message, report):
                continue
            if mailbox.move(uid):
                report.moved += 1
            else:
                report.not_moved += 1
    finally:
        _logout(connection)
    if report.held and not config["REPLY_AUTHSERV_ID"]:
        log.warning("REPLY_AUTHSERV_ID is not set: no calendar reply is applied by itself, every "
                    "one waits for an organiser (see the README, Calendar replies)")
    return report


def record(message: replies.ReplyMessage, report: FetchReport) -> bool:
    """Record and apply one reply in its own transaction; False if it must be tried again."""
    try:
        row = replies.receive(message, now=utcnow())
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        recorded = _recorded(message.fingerprint)
        db.session.rollback()  # hold no transaction (on SQLite: the write lock) while moving
        if not recorded:
            log.exception("calendar reply %s could not be recorded", message.message_id)
            report.failed += 1
            return False
        report.duplicates += 1  # another fetcher committed it first
        return True
    except Exception:
        db.session.rollback()
        log.exception("calendar reply %s could not be applied", message.message_id)
        report.failed += 1
        return False
    if row is None:
        report.duplicates += 1
    elif row.outcome == ReplyOutcome.APPLIED:
        report.applied += 1
    elif row.outcome == ReplyOutcome.HELD:
        report.held += 1
    else:
        report.ignored += 1
    return True


def _recorded(fingerprint: str) -> bool:
    return db.session.scalar(
        sa.select(CalendarReply.id).where(CalendarReply.fingerprint == fingerprint)) is not None


class ReplyMailbox:
    """The reply folder of one IMAP connection, and the folder handled mail goes to."""

    def __init__(self, connection: imaplib.IMAP4, folder: str, done_folder: str):
        self.connection = connection
        self.capabilities = capabilities(connection)
        delimiter = hierarchy_delimiter(connection)
        self.done = quote(mailbox_name(done_folder, delimiter))
        self._done_exists = False
        self.without_calendar = 0  # messages the last `candidates` passed over
        typ, data = connection.select(quote(mailbox_name(folder, delimiter)))
        if typ != "OK":
            raise FetchError(f"Cannot open the IMAP folder {folder!r}: {_text(data)}")

    def candidates(self, *, limit: int) -> list[bytes]:
        """UIDs of messages whose structure has a calendar part (oldest first), at most `limit`."""
        typ, data = self.connection.uid("SEARCH", "UNDELETED")
        uids = data[0].split() if typ == "OK" and data and data[0] else []
        found: list[bytes] = []
        for start in range(0, len(uids), 500):
            typ, data = self.connection.uid("FETCH", b",".join(uids[start:start + 500]),
                                            "(UID BODYSTRUCTURE)")
            for response in fetch_responses(data if typ == "OK" else []):
                match = re.search(rb"\bUID (\d+)", response)
                if match and _CALENDAR_HINT.search(response):
                    found.append(match.group(1))
                elif match:
                    self.without_calendar += 1
        return sorted(found, key=int)[:limit]

    def fetch(self, uid: bytes) -> bytes | None:
        """The whole message, read without marking it read."""
        typ, data = self.connection.uid("FETCH", uid, "(BODY.PEEK[])")
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple) and b"BODY[]" in item[0]:
                return item[1]
        return None

    def move(self, uid: bytes) -> bool:
        """Move one message to the done folder: UID MOVE, else COPY + \\Deleted + UID EXPUNGE."""
        try:
            if not self._ensure_done_folder():
                return False
            if "MOVE" in self.capabilities:
                typ, data = self.connection.uid("MOVE", uid, self.done)
                return self._ok(typ, data, uid) or _already_gone(data)
            typ, data = self.connection.uid("COPY", uid, self.done)
            if not self._ok(typ, data, uid):
                return _already_gone(data)
            typ, data = self.connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
            if not self._ok(typ, data, uid):
                return False
            # Only this UID: a plain EXPUNGE (or CLOSE) would also remove mail a person marked
            # deleted. Without UIDPLUS the copy stays flagged \Deleted, and is skipped.
            if "UIDPLUS" in self.capabilities:
                typ, data = self.connection.uid("EXPUNGE", uid)
                self._ok(typ, data, uid)
            return True
        except imaplib.IMAP4.error as error:
            log.warning("calendar reply UID %s not moved: %s", uid.decode(), error)
            return False

    def _ensure_done_folder(self) -> bool:
        if self._done_exists:
            return True
        typ, data = self.connection.list('""', self.done)
        if not (typ == "OK" and any(data)):
            typ, data = self.connection.create(self.done)
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if d):
                log.warning("cannot create the IMAP folder %s: %s", self.done, _text(data))
                return False
            self.connection.subscribe(self.done)
        self._done_exists = True
        return True

    @staticmethod
    def _ok(typ: str, data: list, uid: bytes) -> bool:
        if typ != "OK" and not _already_gone(data):
            log.warning("calendar reply UID %s not moved: %s", uid.decode(), _text(data))
        return typ == "OK"


def _already_gone(data: list) -> bool:
    """The server says the message was expunged meanwhile: another fetcher moved it."""
    return "EXPUNGEISSUED" in _text(data).upper()


def capabilities(connection: imaplib.IMAP4) -> set[str]:
    """What the server offers once logged in (Dovecot names MOVE and UIDPLUS only then)."""
    typ, data = connection.capability()
    words: set[str] = set()
    for line in data if typ == "OK" else []:
        words.update((line or b"").decode("ascii", "replace").upper().split())
    return words | {c.upper() for c in connection.capabilities}


def hierarchy_delimiter(connection: imaplib.IMAP4) -> str | None:
    """The server's folder separator ("/" or "."), or None for a flat namespace."""
    typ, data = connection.list('""', '""')
    for line in data if typ == "OK" else []:
        match = re.search(rb'\) (?:"((?:[^"\\]|\\.)*)"|NIL)', line or b"")
        if match:
            return match.group(1).decode().replace("\\\\", "\\") if match.group(1) else None
    return None


def mailbox_name(path: str, delimiter: str | None) -> str:
    """A folder path written with "/" (e.g. Klynge/Behandlet) in the server's own terms."""
    parts = [part for part in path.split("/") if part]
    return modified_utf7((delimiter or "/").join(parts))


def modified_utf7(name: str) -> str:
    """IMAP's modified UTF-7 for folder names (RFC 3501 5.1.3): "Svar ø" → "Svar &APg-"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote(name: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch_responses(data: list) -> list[bytes]:
    """imaplib's FETCH data, one bytes per message (literals joined back into their line)."""
    responses: list[bytes] = []
    after_literal = False
    for item in data:
        if isinstance(item, tuple):
            piece = item[0] + item[1]
            if after_literal and responses:
                responses[-1] += piece
            else:
                responses.append(piece)
            after_literal = True
        elif isinstance(item, bytes):
            if after_literal and responses:
                responses[-1] += item
            else:
                responses.append(item)
            after_literal = False
    return responses


def _text(data: list) -> str:
    return " ".join(d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d)
                    for d in data or [] if d)


def _logout(connection: imaplib.IMAP4) -> None:
    # LOGOUT, never CLOSE: CLOSE would expunge every message flagged \Deleted, not only ours.
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        connection.logout()
