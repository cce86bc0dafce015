"""Helpers for the organisers' gathering, registration and check-in pages."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Gathering, OutboxMessage, Registration
from tests.conftest import registration_request
from tests.pages import csrf_token


def upcoming_gathering(app, make_gathering, *, days=30, **overrides) -> int:
    """A published gathering `days` from the real now; returns its id."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(starts_at=now + timedelta(days=days), now=now, **overrides)
        db.session.commit()
        return gathering.id


def register(app, gathering_id: int, *numbers, **overrides) -> list[int]:
    """Register people `numbers` (conftest.person) one after another; returns their ids."""
    ids = []
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        for n in numbers:
            request = registration_request(n, **overrides)
            [outcome] = rsvp.register(gathering, request, now=utcnow())
            ids.append(outcome.registration.id)
        db.session.commit()
    return ids


def post_page(client, page_url: str, data: dict, action: str | None = None, **kw):
    """GET `page_url`, then POST `data` with the page's CSRF token to `action` (default: same)."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    return client.post(action or page_url, data={"csrf_token": csrf_token(page.text), **data}, **kw)


def button_token(html: str) -> str:
    """The CSRF token of a button-only form (hidden input written by hand)."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def registration(registration_id: int) -> Registration:
    return db.session.get(Registration, registration_id)


def audit_actions(gathering_id: int | None = None) -> list[str]:
    query = sa.select(AuditEntry.action).order_by(AuditEntry.id)
    if gathering_id is not None:
        query = query.where(AuditEntry.gathering_id == gathering_id)
    return list(db.session.scalars(query))


def outbox(registration_id: int) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage)
                                   .where(OutboxMessage.registration_id == registration_id)
                                   .order_by(OutboxMessage.id)))


def parsed(message: OutboxMessage) -> EmailMessage:
    return message_from_bytes(message.message, policy=policy.default)
