"""What became of one attempt to send a message, in terms an organiser can act on.

The sender stores a failed attempt as a kind (one of the names below), the SMTP reply code when
the server gave one, and the server's own words ("550 5.1.1 <x@y>: User unknown");
labels.py says what each kind means in plain language. Pure functions: no app, no
database, no network.
"""

from __future__ import annotations

import ast
import re
import smtplib
import ssl
from dataclasses import dataclass

# The recipient's server refused the message for good (a 5xx reply) ...
NO_SUCH_RECIPIENT = "no_such_recipient"  # 5.1.1 user unknown, 5.1.2 no such domain
MAILBOX_FULL = "mailbox_full"  # 552, 5.2.2
POLICY = "policy"  # 5.7.x: spam, blocked, not allowed
REFUSED = "refused"  # any other 5xx
# ... or cannot take the address or the headers as they are written (no SMTPUTF8) ...
UTF8_ADDRESS = "utf8_address"
UTF8_HEADERS = "utf8_headers"
BAD_ADDRESS = "bad_address"  # no usable address at all (e.g. a domain IDNA cannot write)
# ... or a bug, or data no one foresaw: the sender's log has the traceback.
ERROR = "error"
# Tried again later, until OUTBOX_MAX_ATTEMPTS:
TRY_LATER = "try_later"  # any 4xx reply
UNREACHABLE = "unreachable"  # connection refused, no such host, a refused greeting
TIMEOUT = "timeout"
CONNECTION_LOST = "connection_lost"
TLS = "tls"
# Our own set-up: every message would meet it, so none is failed for it (retried, and every
# connection of the pass stops).
SENDER_REFUSED = "sender_refused"
LOGIN_REFUSED = "login_refused"

PERMANENT = frozenset({NO_SUCH_RECIPIENT, MAILBOX_FULL, POLICY, REFUSED, UTF8_ADDRESS,
                       UTF8_HEADERS, BAD_ADDRESS, ERROR})
CONFIGURATION = frozenset({SENDER_REFUSED, LOGIN_REFUSED})
KINDS = PERMANENT | CONFIGURATION | {TRY_LATER, UNREACHABLE, TIMEOUT, CONNECTION_LOST, TLS}


@dataclass(frozen=True)
class Outcome:
    """A failed attempt: its kind, the SMTP reply code (if any) and the server's words."""

    kind: str
    text: str
    code: int | None = None

    @property
    def permanent(self) -> bool:
        """Whether trying again cannot help: the message is failed at once."""
        return self.kind in PERMANENT


# An enhanced status code (RFC 3463) at the start of a reply's text: class.subject.detail.
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
# Servers that give no enhanced code still say what they mean in a few common ways.
_UNKNOWN_USER = re.compile(r"user unknown|unknown (user|recipient)|no such (user|mailbox|recipient)"
                           r"|does(n't| not) exist", re.IGNORECASE)
_SPAM = re.compile(r"spam|blocked|black ?list|block ?list|policy", re.IGNORECASE)


def of_reply(code: int, message: bytes | str) -> Outcome:
    """A reply the server gave instead of accepting (to MAIL, RCPT or DATA)."""
    text = _reply_text(code, message)
    return Outcome(_reply_kind(code, text.removeprefix(f"{code} ")), text, code)


def _reply_kind(code: int, words: str) -> str:
    enhanced = _ENHANCED.match(words)
    subject, detail = (int(enhanced[2]), int(enhanced[3])) if enhanced else (None, None)
    if subject == 1 and detail in (7, 8):  # the sender's address (Postfix says so at RCPT)
        return SENDER_REFUSED
    if not 500 <= code < 600:
        return TRY_LATER
    if subject == 6 and detail == 7:  # non-ASCII addresses not permitted (RFC 6531)
        return UTF8_ADDRESS
    if subject == 6 and detail == 9:  # UTF-8 headers cannot be passed on
        return UTF8_HEADERS
    if subject == 1:
        return BAD_ADDRESS if detail == 3 else NO_SUCH_RECIPIENT
    if subject == 2 and detail == 2:
        return MAILBOX_FULL
    if subject == 7:
        return POLICY
    if subject is None:
        if code == 552:
            return MAILBOX_FULL
        if code == 551 or _UNKNOWN_USER.search(words):
            return NO_SUCH_RECIPIENT
        if code == 553:
            return BAD_ADDRESS
        if _SPAM.search(words):
            return POLICY
    return REFUSED


def _reply_text(code: int | None, message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    words = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    return f"{code} {words}".strip() if code is not None and code >= 0 else words


def of_error(error: BaseException, *, connecting: bool = False) -> Outcome:
    """What an exception from smtplib or the socket under it means; `connecting`: it came while
    the connection was being opened (greeting, STARTTLS, login) rather than with a message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code, message = next(iter(error.recipients.values()))
        return of_reply(code, message)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return Outcome(LOGIN_REFUSED, _reply_text(error.smtp_code, error.smtp_error),
                       error.smtp_code)
    if isinstance(error, smtplib.SMTPSenderRefused):
        outcome = of_reply(error.smtp_code, error.smtp_error)
        kind = SENDER_REFUSED if 500 <= error.smtp_code < 600 else outcome.kind
        return Outcome(kind, outcome.text, outcome.code)
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        kind = TRY_LATER if 400 <= error.smtp_code < 500 else UNREACHABLE
        return Outcome(kind, _reply_text(error.smtp_code, error.smtp_error), error.smtp_code)
    if isinstance(error, smtplib.SMTPResponseException):
        return of_reply(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Outcome(UTF8_ADDRESS, str(error))
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # A 421 before the line dropped, or a silent server (smtplib says only that it hung up).
        if isinstance(error.__context__, smtplib.SMTPResponseException | TimeoutError):
            return of_error(error.__context__, connecting=connecting)
        return Outcome(UNREACHABLE if connecting else CONNECTION_LOST, str(error))
    if isinstance(error, TimeoutError):
        return Outcome(TIMEOUT, str(error) or "timed out")
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return Outcome(TLS, getattr(error, "reason", None) or str(error))
    if isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError) \
            and not connecting:
        return Outcome(CONNECTION_LOST, error.strerror or str(error))
    if isinstance(error, smtplib.SMTPException):  # "STARTTLS extension not supported", and such
        return Outcome(TLS if "tls" in str(error).lower() else UNREACHABLE, str(error))
    if isinstance(error, OSError):
        return Outcome(UNREACHABLE if connecting else CONNECTION_LOST, error.strerror or str(error))
    return Outcome(ERROR, f"{type(error).__name__}: {error}")


# How the sender wrote a failure before outcomes were stored: "SMTPDataError: (554, b'…')",
# "SMTPRecipientsRefused: {'x@y': (550, b'…')}", "ConnectionRefusedError: [Errno 111] …"
_REPLY = re.compile(r"([245]\d\d) (.*)", re.DOTALL)
_OLD_ERROR = re.compile(r"(?P<name>\w+): (?P<rest>.*)", re.DOTALL)
_OLD_REPLY = re.compile(r"\((?P<code>-?\d+), (?P<message>b?'(?:[^'\\]|\\.)*'|b?\"(?:[^\"\\]|\\.)*\")[,)]")
_OLD_KINDS = {
    "SMTPAuthenticationError": LOGIN_REFUSED, "SMTPSenderRefused": SENDER_REFUSED,
    "TimeoutError": TIMEOUT, "timeout": TIMEOUT, "SSLError": TLS, "SSLCertVerificationError": TLS,
    "SMTPServerDisconnected": CONNECTION_LOST, "ConnectionResetError": CONNECTION_LOST,
    "BrokenPipeError": CONNECTION_LOST, "ConnectionRefusedError": UNREACHABLE,
    "gaierror": UNREACHABLE, "OSError": UNREACHABLE, "SMTPConnectError": UNREACHABLE,
    "SMTPHeloError": UNREACHABLE,
}


def of_stored(kind: str, code: int | None, text: str) -> Outcome | None:
    """The outcome a row holds (None: no failure); a row from before kinds were stored is read
    from the text the sender wrote then, so no one ever sees Python's repr of an error."""
    if kind:
        return Outcome(kind, text, code)
    if not text:
        return None
    reply = _REPLY.match(text)
    if reply is not None:  # a server's reply, written without its kind
        return of_reply(int(reply[1]), reply[2])
    old = _OLD_ERROR.fullmatch(text.strip())
    if old is None or not old["name"][0].isalpha():
        return Outcome("", text)
    name, rest = old["name"], old["rest"]
    reply = _OLD_REPLY.search(rest)
    if reply is not None:
        try:
            message = ast.literal_eval(reply["message"])
        except (ValueError, SyntaxError):
            message = reply["message"]
        outcome = of_reply(int(reply["code"]), message)
        if name == "SMTPSenderRefused" and 500 <= outcome.code < 600:
            return Outcome(SENDER_REFUSED, outcome.text, outcome.code)
        return outcome
    words = re.sub(r"^\[Errno -?\d+\] ", "", re.sub(r" \(\w+: .*\)$", "", rest, flags=re.DOTALL))
    return Outcome(_OLD_KINDS.get(name, ""), words if name in _OLD_KINDS else text)
