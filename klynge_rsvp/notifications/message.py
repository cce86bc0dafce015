"""The MIME message every email is built with, and the language it is written in."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from email import charset as email_charset
from email import policy
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import Message

from .. import addresses, participation
from ..clock import local_zone
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES
from ..links import absolute_url, base_host
from ..mail import headers as mail_headers
from ..mail.headers import to_header
from ..mail.outbox import ComposedMail
from ..models import Registration
from ..names import shown_name

# The language of the mail being composed (None: no in_language block is open).
_composing_in: ContextVar[str | None] = ContextVar("composing_in", default=None)


def mail_language(code: str | None) -> str:
    """One of our languages: the code itself if we have it, else Bokmål."""
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@contextmanager
def in_language(code: str | None) -> Iterator[str]:
    """Compose in this language, whatever the request's: gettext, templates and dates.

    Everything a mail says (subject, text, HTML, the calendar part's words, dates) must be
    made inside the block.
    """
    language = mail_language(code)
    token = _composing_in.set(language)
    try:
        with force_locale(language):
            yield language
    finally:
        _composing_in.reset(token)


def in_registrants_language(compose: Callable[..., ComposedMail]) -> Callable[..., ComposedMail]:
    """Decorates a compose_* function whose first argument is the registration: the whole
    mail is composed in the language the person registered in."""

    @functools.wraps(compose)
    def composed(registration: Registration, *args, **kwargs) -> ComposedMail:
        with in_language(registration.language):
            return compose(registration, *args, **kwargs)

    return composed


@dataclass(frozen=True)
class InlineImage:
    """A picture shown inside the HTML body, which refers to it as cid:<cid>."""

    cid: str
    data: bytes
    filename: str
    subtype: str = "png"


class CalendarMessage(Message):
    """A Flask-Mail message whose multipart/alternative also holds an iMIP calendar part.

    Flask-Mail's own `attach` would add Content-Disposition: attachment, which makes Outlook
    and Gmail show a file instead of an invitation (RFC 6047: the part must be an alternative).
    Only the MIME body is made here: `build` writes the header fields itself (headers.py says
    why the email package's writer cannot be used for them).
    """

    def __init__(self, *args, calendar: bytes | None = None, method: str | None = None,
                 inline_images: list[InlineImage] | None = None, **kw):
        super().__init__(*args, **kw)
        self.calendar = calendar
        self.method = method
        self.inline_images = inline_images or []

    def _mimetext(self, text, subtype="plain"):
        # Quoted-printable keeps every line 7-bit: safe through relays without 8BITMIME.
        utf8 = email_charset.Charset("utf-8")
        utf8.body_encoding = email_charset.QP
        return MIMEText(text, subtype, utf8)

    def _message(self):
        alternative = MIMEMultipart("alternative")
        alternative.attach(self._mimetext(self.body, "plain"))
        for subtype, content in self.alts.items():
            alternative.attach(self._mimetext(content, subtype))
        if self.inline_images:
            _relate_images(alternative, self.inline_images)
        if self.calendar is not None:
            part = MIMEBase("text", "calendar", method=self.method, charset="UTF-8")
            part.set_payload(self.calendar)
            encode_base64(part)
            alternative.attach(part)
        message = MIMEMultipart()
        message.attach(alternative)
        return message


def _relate_images(alternative: MIMEMultipart, images: list[InlineImage]) -> None:
    # The HTML and its pictures become one multipart/related in the HTML's place, so the
    # calendar part stays a direct child of multipart/alternative (RFC 2387, RFC 6047).
    parts = alternative.get_payload()
    index = next(i for i, part in enumerate(parts) if part.get_content_type() == "text/html")
    related = MIMEMultipart("related", type="text/html")
    related.attach(parts[index])
    for image in images:
        part = MIMEImage(image.data, image.subtype)
        part.add_header("Content-ID", f"<{image.cid}>")
        part.add_header("Content-Disposition", "inline", filename=image.filename)
        related.attach(part)
    parts[index] = related


def build(*, kind: str, to_name: str, to_email: str, subject: str, text: str, html: str,
          now: datetime, calendar: bytes | None = None, method: str | None = None,
          headers: list[bytes] | None = None,
          inline_images: list[InlineImage] | None = None) -> ComposedMail:
    """A whole email as bytes, ready for the outbox.

    `headers`: further header fields, each written with a function of headers.py
    (List-Unsubscribe and friends). A line break in any header text raises ValueError: the
    forms refuse them, and none is ever sent.
    """
    message = CalendarMessage(body=text, html=html, calendar=calendar, method=method,
                              inline_images=inline_images, charset="utf-8")
    sender_name, sender_address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    fields = [
        mail_headers.mailbox("From", sender_name, sender_address),
        to_header(to_name, to_email),
        mail_headers.unstructured("Subject", subject),
        mail_headers.date(now.astimezone(local_zone(current_app.config["KLYNGE_TIMEZONE"]))),
        mail_headers.message_id(make_msgid(domain=base_host())),
        *(headers or []),
    ]
    raw = b"".join(fields) + message._message().as_bytes(policy=_BODY_POLICY)
    return ComposedMail(kind=kind, recipient=addresses.for_smtp(to_email), subject=subject,
                        message=raw)


# The MIME body's own headers are short ASCII (Content-Type, Content-ID …): written as they are,
# with CRLF. Byte for byte what policy.SMTP writes for them, without its header parsing, which
# cost more than half of composing a mail.
_BODY_POLICY = policy.compat32.clone(linesep="\r\n")

# The To header in a header block, with its continuation lines (the first is the message's own).
TO_HEADER = re.compile(rb"^To: .*\r\n(?:[ \t].*\r\n)*", re.MULTILINE)


def registration_context(registration: Registration) -> dict:
    """What every email to a registrant can show: the gathering and their manage link."""
    gathering = registration.gathering
    return {
        "registration": registration,
        "gathering": gathering,
        "network_name": current_app.config["KLYNGE_NETWORK_NAME"],
        "manage_url": absolute_url("manage.show", token=registration.token),
        "gathering_url": absolute_url("public.gathering", slug=gathering.slug),
        # The meeting link: only for a confirmed online participant (else None).
        "meeting": participation.meeting_for(registration),
        # Someone who attends a hybrid gathering online is not in the room: their place line
        # says so and names the room second (an online-only gathering's venue is the organiser's
        # own words for it).
        "attends_online": participation.asks_mode(gathering)
        and participation.mode_of(registration) == participation.ONLINE,
    }


def to_registrant(kind: str, registration: Registration, subject: str, *, now: datetime,
                  calendar: bytes | None = None, method: str | None = None,
                  inline_images: dict[str, bytes] | None = None, **context) -> ComposedMail:
    """An email to one registrant from the templates email/<kind>.txt and .html.

    `inline_images` maps a name to PNG data; the HTML template shows each as
    <img src="cid:{{ cid[name] }}">. Must run inside the registrant's in_language block (the
    compose_* functions are decorated with in_registrants_language), so the subject, computed
    by the caller, is in their language too.
    """
    if _composing_in.get() != mail_language(registration.language):
        raise RuntimeError(f"compose the {kind!r} mail inside in_language(registration.language)")
    inline_images = inline_images or {}
    cids = {name: make_msgid(idstring=name, domain=base_host())[1:-1] for name in inline_images}
    images = [InlineImage(cid=cids[name], data=data, filename=f"{name}.png")
              for name, data in inline_images.items()]
    context = {
        **registration_context(registration),
        "greeting_name": shown_name(registration.name),
        "has_calendar": calendar is not None,
        "calendar_method": method,
        "cid": cids,
        **context,
    }
    return build(
        kind=kind, to_name=registration.name, to_email=registration.email, subject=subject,
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
        now=now, calendar=calendar, method=method, inline_images=images,
    )
