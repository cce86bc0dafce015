"""Failed logins, counted per address in the database so that every app server sees one count.

An address (with an account or not: the answers must not tell which) is locked after
LOGIN_LOCKOUT_THRESHOLD failures in a row, for LOGIN_LOCKOUT_SECONDS, doubling with each
further failure up to LOGIN_LOCKOUT_MAX_SECONDS. While locked, nothing is checked: the right
password is refused too. A complete login (password and, where set up, the code) forgets the
failures; so does a day without any.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import ngettext

from .errors import DomainError
from .extensions import db
from .models import LoginThrottle


class LockedOut(DomainError):
    """Too many failed logins for this address: wait `retry_after` seconds."""

    def __init__(self, until: datetime, *, now: datetime):
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        minutes = math.ceil(self.retry_after / 60)
        super().__init__(ngettext(
            "For mange mislykkede forsøk med denne e-postadressen. Prøv igjen om %(num)s minutt.",
            "For mange mislykkede forsøk med denne e-postadressen. Prøv igjen om %(num)s minutter.",
            minutes))


def key(email: str) -> str:
    """The address's row key: a keyed hash, so the table lists no addresses."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, (email or "").strip().lower().encode(), hashlib.sha256).hexdigest()


def check(throttle_key: str, *, now: datetime) -> None:
    """Raise LockedOut while the address is locked."""
    until = locked_until(throttle_key, now=now)
    if until is not None:
        raise LockedOut(until, now=now)


def locked_until(throttle_key: str, *, now: datetime) -> datetime | None:
    """When the address's lock ends, or None if it is not locked."""
    until = db.session.scalar(sa.select(LoginThrottle.locked_until)
                              .where(LoginThrottle.key == throttle_key))
    return until if until is not None and until > now else None


def locked_accounts(accounts, *, now: datetime) -> dict[int, datetime]:
    """For the accounts whose address is locked now: account id → when the lock ends."""
    keys = {key(account.email): account.id for account in accounts}
    rows = db.session.execute(sa.select(LoginThrottle.key, LoginThrottle.locked_until).where(
        LoginThrottle.key.in_(list(keys)), LoginThrottle.locked_until > now)).all()
    return {keys[row.key]: row.locked_until for row in rows}


def failed(throttle_key: str, *, now: datetime) -> LoginThrottle:
    """Count a failure (under a row lock, so failures on two servers at once both count)."""
    config = current_app.config
    forget_after = timedelta(hours=config["LOGIN_FAILURES_FORGOTTEN_HOURS"])
    _forget_old(now - forget_after, now=now)
    insert = (_dialect_insert().values(key=throttle_key, failures=0, last_failure_at=now)
              .on_conflict_do_nothing(index_elements=["key"]))
    db.session.execute(insert)
    row = db.session.scalars(sa.select(LoginThrottle).where(LoginThrottle.key == throttle_key)
                             .with_for_update().execution_options(populate_existing=True)).one()
    if row.failures and now - row.last_failure_at > forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    over = row.failures - config["LOGIN_LOCKOUT_THRESHOLD"]
    if over >= 0:
        seconds = min(config["LOGIN_LOCKOUT_SECONDS"] * 2 ** min(over, 32),
                      config["LOGIN_LOCKOUT_MAX_SECONDS"])
        row.locked_until = now + timedelta(seconds=seconds)
    db.session.flush()
    return row


def forget(throttle_key: str, *, now: datetime) -> None:
    """Clear the address's failures and lock (a complete login, or an administrator)."""
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == throttle_key))
    _forget_old(now - timedelta(hours=current_app.config["LOGIN_FAILURES_FORGOTTEN_HOURS"]),
                now=now)


def _forget_old(cutoff: datetime, *, now: datetime) -> None:
    # Rows of addresses nobody has tried for a day: the table stays small whatever is typed.
    db.session.execute(sa.delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < cutoff,
        sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))


def _dialect_insert():
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(LoginThrottle)
