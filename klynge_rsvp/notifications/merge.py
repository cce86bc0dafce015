"""Mail merge: the same notice to many registrants, composed once per audience.

When a gathering moves, is postponed, gets a new date or is cancelled, hundreds of people get
the same notice; only their name, address and personal links differ. Composing each one with
the templates, icalendar and the email package costs milliseconds, so a fan-out of a thousand
would hold the organiser's request for seconds.

Instead, an audience (people who share language, status and calendar state) gets its notice
composed twice, for two stand-in people whose details are unusual strings. If the first
stand-in's details, swapped for the second's, give exactly the second's mail (subject, text,
HTML, calendar part and MIME structure, read back with the email parser), each real person's
mail is made the same way from the first. If not, because a template changed a name, say, or
read something a stand-in does not share, every person of that audience is composed the
ordinary way. Either way each person gets the mail the ordinary way would have made.
"""

from __future__ import annotations

import base64
import binascii
import email
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import make_msgid

from markupsafe import escape

from .. import addresses, ics
from ..links import base_host
from ..mail.outbox import ComposedMail
from ..models import Registration
from ..names import looks_like_a_link
from . import headers as mail_headers
from .message import TO_HEADER, to_header

log = logging.getLogger(__name__)

# Audiences smaller than this are composed the ordinary way (two stand-ins would cost more).
SMALLEST_AUDIENCE = 3


class NotMergeable(Exception):
    """The composition read something personal that the merge cannot fill in."""


@dataclass(frozen=True)
class Personal:
    """What differs between two registrants of one audience."""

    name: str
    email: str
    token: str


# Unusual enough never to occur in a template, and with the characters that HTML escaping,
# header encoding and URL quoting each treat differently, so any transformation shows.
STAND_INS = (
    Personal(name="Flettefelt Åse <&> \"A\" 'første'", email="flett-a@merge.klynge.invalid",
             token="FlettefeltTokenA7x2Qw9Zk4Lm8Rt1Yp5Vn3Cs6Hd0Jf"),  # noqa: S106 (a stand-in)
    Personal(name="Ørjan Flettesen <B> & \"andre\"", email="flett-b@merge.klynge.invalid",
             token="FlettefeltTokenB3k8Wz1Xq6Np4Gv9Ms2Tb7Ry5Lc0Dh"),  # noqa: S106
)

# What a stand-in borrows from a real registrant of the audience: what the audience shares.
_SHARED = frozenset({"gathering", "gathering_id", "language", "status", "ical_sequence_bump",
                     "reconfirmation", "calendar_partstat", "mode"})


def audience(registration: Registration) -> tuple:
    """The people who get the same notice apart from their personal details."""
    return (registration.gathering_id, registration.language, registration.status,
            registration.ical_sequence_bump, registration.reconfirmation,
            registration.calendar_partstat, registration.mode)


class _StandIn:
    """A registration with a stand-in's details; anything else personal stops the merge."""

    def __init__(self, real: Registration, personal: Personal):
        self._real = real
        self.name, self.email, self.token = personal.name, personal.email, personal.token

    @property
    def ical_sequence(self) -> int:
        return self._real.ical_sequence

    def __getattr__(self, attribute: str):
        if attribute in _SHARED:
            return getattr(self._real, attribute)
        if attribute.startswith("__"):  # Jinja and friends probe for protocols
            raise AttributeError(attribute)
        raise NotMergeable(f"the mail reads registration.{attribute}")


class MailMerge:
    """Composes `compose(registration)` for many registrants; see the module docstring."""

    def __init__(self, compose: Callable[[Registration], ComposedMail]):
        self._compose = compose
        self._seen: dict[tuple, int] = {}
        self._templates: dict[tuple, _Template | None] = {}

    def __call__(self, registration: Registration) -> ComposedMail:
        if looks_like_a_link(registration.name):
            return self._compose(registration)  # shown nowhere: the stand-in's would be swapped in
        key = audience(registration)
        self._seen[key] = self._seen.get(key, 0) + 1
        if self._seen[key] >= SMALLEST_AUDIENCE and key not in self._templates:
            self._templates[key] = self._prepare(registration)
        template = self._templates.get(key)
        if template is None:
            return self._compose(registration)
        return template.fill(Personal(registration.name, registration.email, registration.token))

    def _prepare(self, registration: Registration) -> _Template | None:
        try:
            first, second = (self._compose(_StandIn(registration, personal))  # type: ignore[arg-type]
                             for personal in STAND_INS)
            return _Template.checked(first, second)
        except NotMergeable as reason:
            log.warning("mail merge: composing each mail on its own (%s)", reason)
            return None


class _Template:
    """A composed mail with a stand-in's details, and how to put someone else's in."""

    def __init__(self, mail: ComposedMail, message: Message):
        self.kind, self.subject = mail.kind, mail.subject
        raw = mail.message
        self.parts: list[_Part] = []
        for part in message.walk():
            if part.is_multipart():
                continue
            marker = b"\x00part%d\x00" % len(self.parts)
            found = _Part.of(part, marker)
            if not found.personal:
                continue  # the same for everyone: stays in the skeleton as it is
            encoded = part.get_payload().encode("ascii")
            if raw.count(encoded) != 1:
                raise NotMergeable("a part's body is not unique in the message")
            raw = raw.replace(encoded, marker)
            self.parts.append(found)
        headers = raw[:raw.index(b"\r\n\r\n") + 2]
        to_lines = TO_HEADER.findall(headers)
        id_line = mail_headers.message_id(message["Message-ID"].strip())
        if len(to_lines) != 1 or raw.count(to_lines[0]) != 1 or raw.count(id_line) != 1:
            raise NotMergeable("the To or Message-ID header is not where it was expected")
        self.skeleton = raw.replace(to_lines[0], b"\x00to\x00").replace(id_line, b"\x00id\x00")

    @classmethod
    def checked(cls, first: ComposedMail, second: ComposedMail) -> _Template:
        """The template of `first`, if it makes `second` from the second stand-in's details."""
        first_message, second_message = (email.message_from_bytes(m.message) for m in (first, second))
        template = cls(first, first_message)
        made = template.fill(STAND_INS[1])
        if made.subject != second.subject or made.recipient != second.recipient:
            raise NotMergeable("the subject or recipient holds more than the details")
        difference = _difference(email.message_from_bytes(made.message), second_message)
        if difference:
            raise NotMergeable(difference)
        return template

    def fill(self, personal: Personal) -> ComposedMail:
        body = self.skeleton
        for part in self.parts:
            body = body.replace(part.marker, part.encode(part.personalised(personal)))
        body = body.replace(b"\x00to\x00", to_header(personal.name, personal.email))
        body = body.replace(b"\x00id\x00", mail_headers.message_id(make_msgid(domain=base_host())))
        return ComposedMail(kind=self.kind, recipient=addresses.for_smtp(personal.email),
                            subject=_swap(self.subject, STAND_INS[0], personal),
                            message=body)


@dataclass(frozen=True)
class _Part:
    marker: bytes
    content_type: str
    transfer_encoding: str
    content: bytes  # decoded, with the first stand-in's details
    calendar: tuple[bytes, bytes, str | None, bool] | None  # before and after ATTENDEE, PARTSTAT, RSVP

    @property
    def personal(self) -> bool:
        """Whether it holds a person's details (text, HTML, the calendar's ATTENDEE)."""
        return self.calendar is not None or self.content_type in ("text/plain", "text/html")

    @classmethod
    def of(cls, part: Message, marker: bytes) -> _Part:
        content_type = part.get_content_type()
        transfer_encoding = (part["Content-Transfer-Encoding"] or "").lower()
        if transfer_encoding not in ("quoted-printable", "base64"):
            raise NotMergeable(f"a {content_type} part in {transfer_encoding or '7bit'}")
        content = part.get_payload(decode=True)
        calendar = None
        if content_type == "text/calendar":
            calendar = _split_at_attendee(content)
        elif content_type in ("text/plain", "text/html"):
            content = content.replace(b"\r\n", b"\n")
        elif STAND_INS[0].email.encode() in content or STAND_INS[0].token.encode() in content:
            raise NotMergeable(f"personal details in a {content_type} part")
        return cls(marker, content_type, transfer_encoding, content, calendar)

    def personalised(self, personal: Personal) -> bytes:
        if self.calendar is not None:
            before, after, partstat, rsvp = self.calendar
            return before + ics.attendee_line(ics.Attendee(
                email=addresses.for_smtp(personal.email), name=personal.name, partstat=partstat,
                rsvp=rsvp)) + after
        if self.content_type == "text/plain":
            return _swap(self.content.decode(), STAND_INS[0], personal).encode()
        return _swap(self.content.decode(), STAND_INS[0], personal, escape).encode()  # HTML

    def encode(self, content: bytes) -> bytes:
        """As the email package encodes a body (email.encoders, email.quoprimime), in C."""
        if self.transfer_encoding == "base64":
            encoded = base64.encodebytes(content)
            if not content.endswith(b"\n"):
                encoded = encoded.removesuffix(b"\n")
        else:
            encoded = binascii.b2a_qp(content, istext=True)
        return encoded.replace(b"\n", b"\r\n")


def _swap(text: str, old: Personal, new: Personal, quote: Callable[[str], str] = str) -> str:
    """`old`'s details in `text` replaced by `new`'s, in one pass: a name that happens to hold
    a stand-in's address is never replaced again."""
    replacements = {str(quote(getattr(old, field))): str(quote(getattr(new, field)))
                    for field in ("name", "email", "token")}
    return _details_pattern(old, quote).sub(lambda found: replacements[found[0]], text)


@functools.cache
def _details_pattern(personal: Personal, quote: Callable[[str], str]) -> re.Pattern:
    return re.compile("|".join(re.escape(str(quote(getattr(personal, field))))
                               for field in ("name", "email", "token")))


def _split_at_attendee(calendar: bytes) -> tuple[bytes, bytes, str | None, bool]:
    for partstat in [None, *sorted(ics.PARTSTATS)]:
        for rsvp in (True, False):
            line = ics.attendee_line(ics.Attendee(email=STAND_INS[0].email, name=STAND_INS[0].name,
                                                  partstat=partstat, rsvp=rsvp))
            if calendar.count(line) == 1:
                before, after = calendar.split(line)
                return before, after, partstat, rsvp
    raise NotMergeable("no ATTENDEE line for the stand-in in the calendar part")


def _difference(made: Message, expected: Message) -> str:
    """What differs between two mails, apart from Message-ID and MIME boundaries ('' if nothing)."""
    made_parts, expected_parts = list(made.walk()), list(expected.walk())
    if len(made_parts) != len(expected_parts):
        return "the MIME structure differs"
    for index, (ours, theirs) in enumerate(zip(made_parts, expected_parts, strict=True)):
        ours_headers, theirs_headers = _headers(ours), _headers(theirs)
        if ours_headers != theirs_headers:
            return f"part {index}: headers differ ({ours_headers} != {theirs_headers})"
        if not ours.is_multipart():
            ours_body, theirs_body = ours.get_payload(decode=True), theirs.get_payload(decode=True)
            if ours.get_content_type().startswith("text/") and ours.get_content_type() != "text/calendar":
                ours_body, theirs_body = (re.sub(rb"\r\n", b"\n", b) for b in (ours_body, theirs_body))
            if ours_body != theirs_body:
                return f"part {index} ({ours.get_content_type()}): the body differs"
    return ""


def _headers(part: Message) -> list[tuple[str, str]]:
    shown = []
    for name, value in part.items():
        if name.lower() == "message-id":
            continue
        if name.lower() == "content-type":
            params = [(k, v) for k, v in part.get_params() or [] if k.lower() != "boundary"]
            shown.append((name, repr(params)))
            continue
        shown.append((name, str(make_header(decode_header(value)))))
    return shown
