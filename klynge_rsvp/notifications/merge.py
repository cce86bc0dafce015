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

A fan-out does not even fill the template in for each person while the organiser waits
(docs/decisions/0037): `MailMerge.lazily` gives the template (mail/templates.py), the change
queues it once (`MailTemplate`) with one outbox row per person pointing to it, and the sender
fills each row in from the template and the registration as it sends it.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import Message

from .. import ics
from ..mail import headers as mail_headers
from ..mail.outbox import ComposedMail
from ..mail.templates import ID_MARKER, STAND_INS, TO_MARKER, Part, Personal, Template
from ..models import Registration
from ..names import looks_like_a_link
from .message import TO_HEADER

log = logging.getLogger(__name__)

# Audiences smaller than this are composed the ordinary way (two stand-ins would cost more).
SMALLEST_AUDIENCE = 3


class NotMergeable(Exception):
    """The composition read something personal that the merge cannot fill in."""


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
        self._templates: dict[tuple, Template | None] = {}

    def __call__(self, registration: Registration) -> ComposedMail:
        made = self.lazily(registration)
        if isinstance(made, Template):
            return made.fill(Personal.of(registration))
        return made

    def lazily(self, registration: Registration) -> ComposedMail | Template:
        """The person's mail, or the template their audience's mail is filled in from."""
        if looks_like_a_link(registration.name):
            return self._compose(registration)  # shown nowhere: the stand-in's would be swapped in
        key = audience(registration)
        self._seen[key] = self._seen.get(key, 0) + 1
        if self._seen[key] >= SMALLEST_AUDIENCE and key not in self._templates:
            self._templates[key] = self._prepare(registration)
        template = self._templates.get(key)
        if template is None:
            return self._compose(registration)
        return template

    def _prepare(self, registration: Registration) -> Template | None:
        try:
            first, second = (self._compose(_StandIn(registration, personal))  # type: ignore[arg-type]
                             for personal in STAND_INS)
            return checked(first, second)
        except NotMergeable as reason:
            log.warning("mail merge: composing each mail on its own (%s)", reason)
            return None


def _template_of(mail: ComposedMail, message: Message) -> Template:
    """A composed mail with a stand-in's details, and where someone else's go."""
    raw = mail.message
    parts: list[Part] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        marker = b"\x00part%d\x00" % len(parts)
        found = _part_of(part, marker)
        if not _personal(found):
            continue  # the same for everyone: stays in the skeleton as it is
        encoded = part.get_payload().encode("ascii")
        if raw.count(encoded) != 1:
            raise NotMergeable("a part's body is not unique in the message")
        raw = raw.replace(encoded, marker)
        parts.append(found)
    headers = raw[:raw.index(b"\r\n\r\n") + 2]
    to_lines = TO_HEADER.findall(headers)
    id_line = mail_headers.message_id(message["Message-ID"].strip())
    if len(to_lines) != 1 or raw.count(to_lines[0]) != 1 or raw.count(id_line) != 1:
        raise NotMergeable("the To or Message-ID header is not where it was expected")
    skeleton = raw.replace(to_lines[0], TO_MARKER).replace(id_line, ID_MARKER)
    return Template(kind=mail.kind, subject=mail.subject, skeleton=skeleton, parts=tuple(parts))


def checked(first: ComposedMail, second: ComposedMail) -> Template:
    """The template of `first`, if it makes `second` from the second stand-in's details."""
    first_message, second_message = (email.message_from_bytes(m.message) for m in (first, second))
    template = _template_of(first, first_message)
    made = template.fill(STAND_INS[1])
    if made.subject != second.subject or made.recipient != second.recipient:
        raise NotMergeable("the subject or recipient holds more than the details")
    difference = _difference(email.message_from_bytes(made.message), second_message)
    if difference:
        raise NotMergeable(difference)
    return template


def _personal(part: Part) -> bool:
    """Whether it holds a person's details (text, HTML, the calendar's ATTENDEE)."""
    return part.calendar is not None or part.content_type in ("text/plain", "text/html")


def _part_of(part: Message, marker: bytes) -> Part:
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
    return Part(marker, content_type, transfer_encoding, content, calendar)


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
