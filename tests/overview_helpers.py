"""Helpers for the tests of announcements, the mailing list, the overview and the logs."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape

import sqlalchemy as sa

from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery

_TOKENS = [
    re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"'),  # {{ form.csrf_token }}
    re.compile(r'name="csrf_token" value="([^"]+)"'),  # a hand-written hidden input
]


def token(html: str) -> str:
    """A CSRF token from a page (either way it is written)."""
    for pattern in _TOKENS:
        match = pattern.search(html)
        if match:
            return match.group(1)
    raise AssertionError("no CSRF token on the page")


def deliver(smtp_server) -> list[EmailMessage]:
    """One delivery pass through the real SMTP server; the messages it accepted, parsed."""
    seen = len(smtp_server.handler.messages)
    report = delivery.deliver_due()
    assert report.retrying == [] and report.failed == [], report
    arrived = smtp_server.handler.parsed()[seen:]
    assert len(arrived) == len(report.sent)
    return arrived


def part(message: EmailMessage, subtype: str) -> str:
    """The text/<subtype> body of a message."""
    [found] = [p for p in message.walk() if p.get_content_type() == f"text/{subtype}"]
    return found.get_content()


def to_address(message: EmailMessage) -> str:
    [recipient] = message["To"].addresses
    return recipient.addr_spec


def links(text: str) -> list[str]:
    """Every https link in a text (or HTML: from href attributes too)."""
    return [unescape(link) for link in re.findall(r"https://[^\s\"<>]+", text)]


def path_of(url: str, base: str = "https://rsvp.test") -> str:
    """The path of a link to this site, for the test client."""
    assert url.startswith(base + "/"), url
    return url[len(base):]


class QueryCounter:
    """Counts the SQL statements run on the app's engine while active."""

    def __init__(self):
        self.statements: list[str] = []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)
