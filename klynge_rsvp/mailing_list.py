"""The network's mailing list: sign-up with double opt-in, confirmation, one-click unsubscribe.

Nobody is on the list until they confirm from their own inbox, and no answer to the sign-up
form tells whether an address is on the list already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from . import history, notifications, stored_text
from .extensions import db
from .mail import outbox
from .models import (
    AuditEntry,
    Organiser,
    OutboxMessage,
    Subscriber,
    SubscriberState,
    new_token,
)
from .rsvp import email_key
from .stored_text import said

# An address in an audit entry's text ("Meldte ola@example.no av e-postlisten").
_ADDRESS = re.compile(r"[^\s<>()\[\]{},;:\"'«»@]+@[^\s<>()\[\]{},;:\"'«»@]*[^\s<>()\[\]{},;:\"'«».@]")


@dataclass(frozen=True)
class Counts:
    confirmed: int
    pending: int
    unsubscribed: int


def find(key: str) -> Subscriber | None:
    """The subscriber with this (folded) address."""
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.email_key == key))


def sign_up(email: str, name: str = "", *, now: datetime) -> Subscriber:
    """Ask the address to confirm; a confirmed subscriber is left alone and sent nothing.

    At most one confirmation an hour goes to an address, however many times it is typed in
    (the idempotency key holds the hour): the form cannot be used to flood someone's inbox.
    """
    key = email_key(email)
    subscriber = find(key)
    if subscriber is None:
        subscriber = Subscriber(email=email.strip(), email_key=key, name=name.strip(),
                                created_at=now)
        db.session.add(subscriber)
        db.session.flush()
    elif subscriber.is_subscribed:
        return subscriber
    else:
        if subscriber.unsubscribed_at is not None:
            # Back after leaving: a fresh opt-in, counted again only once confirmed.
            subscriber.unsubscribed_at = None
            subscriber.confirmed_at = None
            subscriber.confirm_token = new_token()
        subscriber.email = email.strip()
        subscriber.name = name.strip() or subscriber.name
        subscriber.created_at = now  # a new opt-in: kept unconfirmed only for so long from now
        db.session.flush()
    outbox.enqueue(
        notifications.compose_subscription_confirmation(subscriber, now=now),
        key=f"mailing-list-confirm:{subscriber.id}:{subscriber.confirm_token[:16]}:{now:%Y%m%d%H}",
        now=now,
    )
    return subscriber


def find_by_confirm_token(token: str) -> Subscriber | None:
    """The subscriber a confirmation link belongs to (None once they have left the list)."""
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.confirm_token == token))


def find_by_unsubscribe_token(token: str) -> Subscriber | None:
    """The subscriber an unsubscribe link belongs to."""
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.unsubscribe_token == token))


def confirm(subscriber: Subscriber, *, now: datetime) -> bool:
    """Put a signed-up address on the list; False if it was on it already."""
    if subscriber.confirmed_at is not None:
        return False
    subscriber.confirmed_at = now
    db.session.flush()
    return True


def unsubscribe(subscriber: Subscriber, *, now: datetime, by: Organiser | None = None) -> bool:
    """Take the address off the list; False if it was off already.

    The old confirmation link stops working, so it cannot put the address back on the list.
    `by` is an organiser acting on someone's request (None: the subscriber themselves).
    """
    if subscriber.unsubscribed_at is not None:
        return False
    subscriber.unsubscribed_at = now
    subscriber.confirm_token = new_token()
    db.session.flush()
    if by is not None:
        history.audit("unsubscribe", by=by, now=now,
                      summary=said("unsubscribed_by_organiser", email=subscriber.email))
    return True


def _state_condition(state: SubscriberState):
    if state == SubscriberState.CONFIRMED:
        return sa.and_(Subscriber.confirmed_at.is_not(None), Subscriber.unsubscribed_at.is_(None))
    if state == SubscriberState.PENDING:
        return sa.and_(Subscriber.confirmed_at.is_(None), Subscriber.unsubscribed_at.is_(None))
    return Subscriber.unsubscribed_at.is_not(None)


def subscribed() -> sa.Select:
    """Everyone on the list now, in sign-up order (a query)."""
    return (sa.select(Subscriber).where(_state_condition(SubscriberState.CONFIRMED))
            .order_by(Subscriber.id))


def listing(state: SubscriberState) -> sa.Select:
    """The subscribers in `state`, newest first (a query, for paging)."""
    return (sa.select(Subscriber).where(_state_condition(state))
            .order_by(Subscriber.created_at.desc(), Subscriber.id.desc()))


def counts() -> Counts:
    """How many are on the list, waiting to confirm, and gone (one query)."""
    def count(state):
        return sa.func.coalesce(sa.func.sum(sa.case((_state_condition(state), 1), else_=0)), 0)

    row = db.session.execute(sa.select(
        count(SubscriberState.CONFIRMED), count(SubscriberState.PENDING),
        count(SubscriberState.UNSUBSCRIBED),
    ).select_from(Subscriber)).one()
    return Counts(confirmed=int(row[0]), pending=int(row[1]), unsubscribed=int(row[2]))


def forget_unconfirmed(*, now: datetime, days: int = 30) -> int:
    """Forget sign-ups nobody confirmed within `days`: an address someone else typed in is not
    kept. Returns how many went (for the retention purge)."""
    return _forget(sa.and_(_state_condition(SubscriberState.PENDING),
                           Subscriber.created_at < now - timedelta(days=days)), now=now)


def forget_unsubscribed(*, now: datetime, days: int = 30) -> int:
    """Forget addresses that left the list more than `days` ago (until then organisers see
    who left). Returns how many went (for the retention purge)."""
    return _forget(Subscriber.unsubscribed_at < now - timedelta(days=days), now=now)


# Where the list itself names a subscriber's address in the audit log.
_AUDITED_ACTIONS = ("unsubscribe",)
FORGOTTEN_ADDRESS = "[slettet abonnent]"


def _forget(condition, *, now: datetime) -> int:
    """Delete the subscribers matching `condition`, the mail sent to them as subscribers (the
    confirmation, the newsletters), and their address in the list's audit entries."""
    gone = db.session.execute(sa.select(Subscriber.email, Subscriber.email_key).where(condition)).all()
    if not gone:
        return 0
    keys = [key for _, key in gone]
    for start in range(0, len(keys), 500):
        db.session.execute(sa.delete(OutboxMessage).where(
            OutboxMessage.registration_id.is_(None),
            sa.func.lower(OutboxMessage.recipient).in_(keys[start:start + 500]),
            sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        ).execution_options(synchronize_session="fetch"))
    addresses = {form.lower() for email, key in gone for form in (email.strip(), key)}
    entries = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action.in_(_AUDITED_ACTIONS), stored_text.mentions(AuditEntry, "summary", "@")))
    for entry in entries:
        stored_text.scrub(entry, "summary", lambda text: _ADDRESS.sub(
            lambda match: FORGOTTEN_ADDRESS if match.group(0).lower() in addresses
            else match.group(0), text))
    db.session.execute(sa.delete(Subscriber).where(condition)
                       .execution_options(synchronize_session="fetch"))
    db.session.flush()
    return len(gone)
