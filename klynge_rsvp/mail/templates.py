"""A notice composed once with a stand-in's details, and each person's mail made from it.

notifications/merge.py finds the template (it composes the notice for two stand-ins and checks
that swapping the details turns one into the other); this module holds what a template is, how
it is stored, and how a person's details are put in. It needs no model and no composing, so the
sender fills a fan-out's notices in as it sends them (docs/decisions/0037), and the outbox row
reads the same bytes before that.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid

from markupsafe import escape

from .. import addresses, ics
from ..links import base_host
from . import headers as mail_headers
from .composed import ComposedMail


@dataclass(frozen=True)
class Personal:
    """What differs between two registrants of one audience."""

    name: str
    email: str
    token: str

    @classmethod
    def of(cls, person) -> Personal:
        """A registration's details (or those of a row with its name, email and token)."""
        return cls(person.name, person.email, person.token)


# Unusual enough never to occur in a template, and with the characters that HTML escaping,
# header encoding and URL quoting each treat differently, so any transformation shows.
STAND_INS = (
    Personal(name="Flettefelt Åse <&> \"A\" 'første'", email="flett-a@merge.klynge.invalid",
             token="FlettefeltTokenA7x2Qw9Zk4Lm8Rt1Yp5Vn3Cs6Hd0Jf"),  # noqa: S106 (a stand-in)
    Personal(name="Ørjan Flettesen <B> & \"andre\"", email="flett-b@merge.klynge.invalid",
             token="FlettefeltTokenB3k8Wz1Xq6Np4Gv9Ms2Tb7Ry5Lc0Dh"),  # noqa: S106
)

TO_MARKER = b"\x00to\x00"
ID_MARKER = b"\x00id\x00"


@dataclass(frozen=True)
class Part:
    """A body part that holds a person's details, decoded, with the first stand-in's in it."""

    marker: bytes  # where its encoded body goes in the skeleton
    content_type: str
    transfer_encoding: str
    content: bytes
    calendar: tuple[bytes, bytes, str | None, bool] | None  # before and after ATTENDEE, PARTSTAT, RSVP

    def personalised(self, personal: Personal) -> bytes:
        if self.calendar is not None:
            before, after, partstat, rsvp = self.calendar
            return before + ics.attendee_line(ics.Attendee(
                email=addresses.for_smtp(personal.email), name=personal.name, partstat=partstat,
                rsvp=rsvp)) + after
        if self.content_type == "text/plain":
            return swap(self.content.decode(), STAND_INS[0], personal).encode()
        return swap(self.content.decode(), STAND_INS[0], personal, escape).encode()  # HTML

    def encode(self, content: bytes) -> bytes:
        """As the email package encodes a body (email.encoders, email.quoprimime), in C."""
        if self.transfer_encoding == "base64":
            encoded = base64.encodebytes(content)
            if not content.endswith(b"\n"):
                encoded = encoded.removesuffix(b"\n")
        else:
            encoded = binascii.b2a_qp(content, istext=True)
        return encoded.replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class Template:
    """A whole mail with markers where the To header, the Message-ID and each personal part go."""

    kind: str
    subject: str  # with the first stand-in's details, if any
    skeleton: bytes
    parts: tuple[Part, ...]

    def fill(self, personal: Personal, message_id: str | None = None) -> ComposedMail:
        body = self.skeleton
        for part in self.parts:
            body = body.replace(part.marker, part.encode(part.personalised(personal)))
        body = body.replace(TO_MARKER, mail_headers.to_header(personal.name, personal.email))
        body = body.replace(ID_MARKER, mail_headers.message_id(
            message_id or make_msgid(domain=base_host())))
        return ComposedMail(kind=self.kind, recipient=addresses.for_smtp(personal.email),
                            subject=swap(self.subject, STAND_INS[0], personal), message=body)

    def queued(self, personal: Personal, template_id: int) -> ComposedMail:
        """The outbox row of a notice still to be filled in: who and what, not yet the bytes."""
        return ComposedMail(kind=self.kind, recipient=addresses.for_smtp(personal.email),
                            subject=swap(self.subject, STAND_INS[0], personal), message=b"",
                            template_id=template_id)

    def dumps(self) -> bytes:
        """The template as stored (`MailTemplate.body`): JSON, bytes in base64."""
        return json.dumps({
            "kind": self.kind, "subject": self.subject, "skeleton": _text(self.skeleton),
            "parts": [{"marker": _text(part.marker), "content_type": part.content_type,
                       "transfer_encoding": part.transfer_encoding, "content": _text(part.content),
                       "calendar": None if part.calendar is None else
                       [_text(part.calendar[0]), _text(part.calendar[1]), part.calendar[2],
                        part.calendar[3]]}
                      for part in self.parts],
        }).encode("ascii")

    @classmethod
    def loads(cls, stored: bytes) -> Template:
        data = json.loads(stored)
        return cls(kind=data["kind"], subject=data["subject"],
                   skeleton=base64.b64decode(data["skeleton"]), parts=tuple(
                       Part(marker=base64.b64decode(part["marker"]),
                            content_type=part["content_type"],
                            transfer_encoding=part["transfer_encoding"],
                            content=base64.b64decode(part["content"]),
                            calendar=None if part["calendar"] is None else (
                                base64.b64decode(part["calendar"][0]),
                                base64.b64decode(part["calendar"][1]),
                                part["calendar"][2], part["calendar"][3]))
                       for part in data["parts"]))


def _text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def message_id_for(key: str) -> str:
    """The Message-ID of the queued notice with this outbox key: the same each time it is made
    (a read before sending, a retry after a crash), and unique as the key is."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{base_host()}>"


@functools.lru_cache(maxsize=64)
def loaded(stored: bytes) -> Template:
    """A stored template, read once per process (a fan-out's rows share a handful)."""
    return Template.loads(stored)


def fill_queued(stored: bytes | None, person, key: str) -> ComposedMail | None:
    """The queued notice with outbox key `key`, filled in from its stored template for `person`
    (its registration, or a row with the registration's name, email, token and anonymised_at);
    None when there is no one to send it to (the registration is gone or erased) or no template."""
    if stored is None or person is None or not person.email or person.anonymised_at is not None:
        return None
    return loaded(stored).fill(Personal.of(person), message_id=message_id_for(key))


def swap(text: str, old: Personal, new: Personal, quote: Callable[[str], str] = str) -> str:
    """`old`'s details in `text` replaced by `new`'s, in one pass: a name that happens to hold
    a stand-in's address is never replaced again."""
    replacements = {str(quote(getattr(old, field))): str(quote(getattr(new, field)))
                    for field in ("name", "email", "token")}
    return _details_pattern(old, quote).sub(lambda found: replacements[found[0]], text)


@functools.cache
def _details_pattern(personal: Personal, quote: Callable[[str], str]) -> re.Pattern:
    return re.compile("|".join(re.escape(str(quote(getattr(personal, field))))
                               for field in ("name", "email", "token")))
