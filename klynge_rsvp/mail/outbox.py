"""The durable outbox: mail is queued in the transaction that causes it, and sent later.

Rows are claimed by a worker's pass (delivery.py) with a lease. On PostgreSQL the claim uses
`FOR UPDATE SKIP LOCKED`, so several workers never take the same row; on SQLite the write
transaction is already exclusive. A claim whose worker died runs out and the row is retried.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..database import is_postgresql
from ..errors import DomainError
from ..extensions import db
from ..models import MailTemplate, OutboxMessage, OutboxStatus, Registration
from . import wakeup
from .composed import ComposedMail


def enqueue(
    mail: ComposedMail, *, key: str, now: datetime, registration: Registration | None = None
) -> OutboxMessage:
    """Queue `mail` in the current transaction; a key queued before is not queued again.

    The row is written with the transaction's next flush, so a fan-out of a thousand notices
    goes to the database as a few multi-row INSERTs rather than a thousand round trips.
    """
    queued = db.session.info.setdefault("outbox_keys", {})  # this transaction's, not flushed yet
    if key in queued and queued[key] in db.session:  # (a rolled-back savepoint drops rows)
        return queued[key]
    with db.session.no_autoflush:
        existing = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing
    row = OutboxMessage(
        idempotency_key=key,
        kind=mail.kind,
        recipient=mail.recipient,
        subject=mail.subject,
        message=mail.message,
        registration=registration,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(row)
    queued[key] = row
    wakeup.wake_on_commit(db.session)
    return row


def enqueue_many(mails: list[tuple[ComposedMail, str, Registration | None]], *,
                 now: datetime) -> int:
    """Queue a fan-out's mails, each (mail, key, registration), in one multi-row INSERT.

    For keys the caller has just found new with `queued_keys`: a thousand ORM objects would
    cost more than composing the mail in them. Returns how many were queued.
    """
    if not mails:
        return 0
    db.session.execute(sa.insert(OutboxMessage), [
        {"idempotency_key": key, "kind": mail.kind, "recipient": mail.recipient,
         "subject": mail.subject, "stored_message": mail.message, "template_id": mail.template_id,
         "registration_id": registration.id if registration is not None else None,
         "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now,
         "created_at": now, "last_error": "", "error_kind": "", "transport": ""}
        for mail, key, registration in mails
    ])
    wakeup.wake_on_commit(db.session)
    return len(mails)


def queued_keys(keys: Iterable[str]) -> set[str]:
    """Which of `keys` were queued before (one query per thousand keys)."""
    keys, found = list(keys), set()
    for start in range(0, len(keys), 1000):
        found.update(db.session.scalars(sa.select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.in_(keys[start:start + 1000]))))
    return found


def claim_due(*, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due messages for this sender and return their ids (caller commits).

    A person's mail goes out in the order it was queued: a message waits while an older one to
    the same address is unsent (claimed by another worker, or waiting for its retry). So a
    batch holds at most one message per person, and an invitation never overtakes the
    cancellation queued after it, however many workers send.
    """
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    query = (
        sa.select(OutboxMessage.id, OutboxMessage.recipient)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if is_postgresql():
        query = query.with_for_update(skip_locked=True)
    ids: list[int] = []
    # Held-back messages are passed over, page by page, so they never keep other people's mail
    # waiting behind them.
    for page in itertools.count():
        due = db.session.execute(query.offset(page * limit)).all()
        ids += _oldest_of_their_recipient(due)[:limit - len(ids)]
        if len(due) < limit or len(ids) == limit:
            break
    if ids:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(claimed_until=now + lease)
        )
    return ids


def _oldest_of_their_recipient(due: list) -> list[int]:
    """The (id, recipient) rows that are their recipient's oldest unsent message, in order.

    A second query, not a correlated subquery in the claim: misled by a table's stale
    statistics after a large fan-out, PostgreSQL's planner compared every pending row with
    every other (0.1 s per claim at 1,000 pending messages, growing with their square).
    """
    if not due:
        return []
    oldest = dict(db.session.execute(
        sa.select(OutboxMessage.recipient, sa.func.min(OutboxMessage.id))
        .where(OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.recipient.in_({recipient for _, recipient in due}))
        .group_by(OutboxMessage.recipient)).all())
    return [message_id for message_id, recipient in due if oldest[recipient] == message_id]


def templated(message_ids: list[int]) -> list:
    """The claimed notices among `message_ids` still to be filled in, with the template and
    the person each is filled in from (read in a transaction the caller ends at once)."""
    return db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.idempotency_key, MailTemplate.body,
                  Registration.name, Registration.email, Registration.token,
                  Registration.anonymised_at)
        .outerjoin(MailTemplate, MailTemplate.id == OutboxMessage.template_id)
        .outerjoin(Registration, Registration.id == OutboxMessage.registration_id)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.template_id.is_not(None))
        .order_by(OutboxMessage.id)).all()


def store_filled(filled: list[dict]) -> None:
    """Keep each filled-in notice's bytes ({"row_id", "message", "recipient", "subject"}), so
    what was sent is what the mail log shows; the caller commits."""
    if filled:
        db.session.execute(_STORE_FILLED, filled)


_STORE_FILLED = (
    sa.update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id == sa.bindparam("row_id"),
           OutboxMessage.__table__.c.template_id.is_not(None))
    .values(message=sa.bindparam("message"), recipient=sa.bindparam("recipient"),
            subject=sa.bindparam("subject"), template_id=None)
)


def mark_sent(message: OutboxMessage, *, transport: str, now: datetime) -> None:
    """Record a delivery."""
    message.status = OutboxStatus.SENT
    message.transport = transport
    message.sent_at = now
    message.attempts += 1
    message.claimed_until = None
    _clear_error(message)


def record_sent(connection: sa.Connection, message_id: int, *, transport: str,
                now: datetime) -> None:
    """`mark_sent` as one UPDATE on the sender's own connection (its hot path: nothing loaded,
    no pool check-out per message); the caller commits, or runs the connection in autocommit.

    Only a pending row is changed, so running it again (after a connection dropped before the
    database's answer came back) changes nothing: the attempt is counted once."""
    connection.execute(_RECORD_SENT, {"message_id": message_id, "transport": transport,
                                      "sent_at": now})


_RECORD_SENT = (  # built once: the sender runs it for every message
    sa.update(OutboxMessage)
    .where(OutboxMessage.id == sa.bindparam("message_id"),
           OutboxMessage.status == OutboxStatus.PENDING)
    .values(status=OutboxStatus.SENT, transport=sa.bindparam("transport"),
            sent_at=sa.bindparam("sent_at", type_=OutboxMessage.sent_at.type),
            attempts=OutboxMessage.attempts + 1, claimed_until=None, last_error="",
            error_kind="", smtp_code=None)
)


def mark_retry(message: OutboxMessage, error: str, *, now: datetime, kind: str = "",
               code: int | None = None) -> None:
    """Record a temporary failure; retry later with exponential backoff, or give up.

    `error` is the server's words (or what went wrong), `kind` one of outcomes.py's, `code` the
    SMTP reply code."""
    config = current_app.config
    message.attempts += 1
    _set_error(message, error, kind, code)
    message.claimed_until = None
    if message.attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
        message.status = OutboxStatus.FAILED
        return
    delay = min(
        config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (message.attempts - 1),
        config["OUTBOX_RETRY_MAX_SECONDS"],
    )
    message.next_attempt_at = now + timedelta(seconds=delay)


def mark_failed(message: OutboxMessage, error: str, *, kind: str = "",
                code: int | None = None) -> None:
    """Record a permanent failure (a 5xx reply, an address no server can take): never retried
    on its own, shown to organisers."""
    message.attempts += 1
    message.status = OutboxStatus.FAILED
    _set_error(message, error, kind, code)
    message.claimed_until = None


def _set_error(message: OutboxMessage, error: str, kind: str, code: int | None) -> None:
    message.last_error = error[:2000]
    message.error_kind = kind
    message.smtp_code = code


def _clear_error(message: OutboxMessage) -> None:
    message.last_error, message.error_kind, message.smtp_code = "", "", None


def release(message_ids: list[int]) -> None:
    """Give claimed messages back without counting an attempt (a sender stopping)."""
    if message_ids:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == OutboxStatus.PENDING)
            .values(claimed_until=None)
        )


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_rolled_back_keys(session) -> None:
    session.info.pop("outbox_keys", None)


@sa.event.listens_for(sa.orm.Session, "after_flush_postexec")
def _forget_flushed_keys(session, _context) -> None:
    # Written now: the next enqueue finds them in the database (and a savepoint rolled back
    # later cannot leave a stale entry behind).
    session.info.pop("outbox_keys", None)


def requeue(message: OutboxMessage, *, now: datetime) -> None:
    """Give a failed message another try now (an organiser asked); its attempts are kept."""
    if message.status != OutboxStatus.FAILED:
        raise DomainError("Bare e-post som ikke kunne sendes, kan sendes på nytt.")
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = now
    message.claimed_until = None
    db.session.flush()
    wakeup.wake_on_commit(db.session)
