"""Organisers' keys to the organiser API: making one, revoking it, and checking one a program
presents (docs/decisions/0027-api-tokens.md).

A token reads `klynge_<key id>_<secret>`: the recognisable prefix (so a leaked one is easy to
find in code and logs), a key id of 12 hex digits that is not secret and finds the row, and 256
random bits (43 base64url characters). Only the SHA-256 of the secret part is stored; the whole
token is shown once, when it is made, and never again. A token works while it is not revoked,
not expired, and its organiser's account is active.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from . import history, stored_text
from .errors import DomainError
from .extensions import db
from .models import ApiToken, Organiser
from .stored_text import said

PREFIX = "klynge_"
GATHERINGS_READ = "gatherings:read"
REGISTRATIONS_READ = "registrations:read"
# The answers to the organisers' own questions (questions.py), with the registrations: a scope of
# its own, since answers can say more about a person than the fixed fields do.
ANSWERS_READ = "answers:read"
SCOPES = (GATHERINGS_READ, REGISTRATIONS_READ, ANSWERS_READ)
NAME_MAX = 100
# How long a new key lasts, in days (None: until revoked); the form offers these.
LIFETIMES = (30, 90, 365, None)

_KEY_ID = re.compile(r"[0-9a-f]{12}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
# Compared against when the key id is unknown, so an unknown key takes the same work.
_NO_SUCH_HASH = hashlib.sha256(b"no such key").hexdigest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def state(token: ApiToken, *, now: datetime) -> str:
    """"active", "revoked", "expired" or "inactive" (the organiser's account is closed)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if not token.organiser.active:
        return "inactive"
    return "active"


def create(owner: Organiser, *, name: str, scopes: list[str], lifetime_days: int | None,
           now: datetime) -> tuple[ApiToken, str]:
    """A new key for `owner`, and the token to show them once (audited)."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Gi nøkkelen et navn."))
    if len(name) > NAME_MAX:
        raise DomainError(_("Navnet er for langt."))
    chosen = [scope for scope in SCOPES if scope in scopes]
    if not chosen or set(scopes) - set(SCOPES):
        raise DomainError(_("Velg hva nøkkelen skal kunne lese."))
    if lifetime_days not in LIFETIMES:
        raise DomainError(_("Velg hvor lenge nøkkelen skal virke."))
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(organiser=owner, name=name, key_id=key_id, secret_hash=_hash(secret),
                     scopes=" ".join(chosen), created_at=now,
                     expires_at=None if lifetime_days is None else now + timedelta(days=lifetime_days))
    db.session.add(token)
    db.session.flush()
    history.audit("api_token_create", by=owner, now=now,
                  summary=said("api_token_created", name=name, id=token.id,
                               scopes=_scopes_param(chosen)))
    return token, f"{PREFIX}{key_id}_{secret}"


def visible_to(organiser: Organiser) -> list[ApiToken]:
    """The keys `organiser` may see: their own; an administrator's sees everyone's."""
    query = (sa.select(ApiToken).join(ApiToken.organiser)
             .options(sa.orm.contains_eager(ApiToken.organiser))
             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    if not organiser.is_administrator:
        query = query.where(ApiToken.organiser_id == organiser.id)
    return list(db.session.scalars(query))


def find_for(organiser: Organiser, token_id: int) -> ApiToken | None:
    """The key with this id if `organiser` may see it (their own, or any for an administrator)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or not (organiser.is_administrator or token.organiser_id == organiser.id):
        return None
    return token


def revoke(token: ApiToken, *, by: Organiser, now: datetime) -> bool:
    """End the key at once (audited); False if it was revoked already."""
    if token.revoked_at is not None:
        return False
    if not (by.is_administrator or token.organiser_id == by.id):
        raise DomainError(_("Du kan bare trekke tilbake dine egne nøkler."))
    token.revoked_at = now
    db.session.flush()
    history.audit("api_token_revoke", by=by, now=now,
                  summary=said("api_token_revoked", name=token.name, id=token.id,
                               owner=token.organiser.email))
    return True


def authenticate(presented: str, *, now: datetime) -> ApiToken | None:
    """The working key `presented` is, or None: malformed, unknown, a wrong secret, revoked,
    expired, or its organiser's account closed. The secret is compared in constant time."""
    if not presented.startswith(PREFIX):
        return None
    key_id, _sep, secret = presented[len(PREFIX):].partition("_")
    if not (_KEY_ID.fullmatch(key_id) and _SECRET.fullmatch(secret)):
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.key_id == key_id))
    matches = hmac.compare_digest(token.secret_hash if token else _NO_SUCH_HASH, _hash(secret))
    if token is None or not matches or state(token, now=now) != "active":
        return None
    return token


def record_use(token: ApiToken, *, endpoint: str, status: int, now: datetime,
               gathering=None) -> None:
    """Note the key's use: its last use, and a line in the audit log for this request."""
    token.last_used_at = now
    history.audit("api_request", by=token.organiser, now=now, gathering=gathering,
                  summary=said("api_request", endpoint=endpoint, status=status,
                               name=token.name, id=token.id))
    db.session.flush()


def _scopes_param(scopes: list[str]) -> dict:
    """Scopes as one stored-text parameter, named in the reader's language."""
    return stored_text.joined([stored_text.label("api_scope", scope) for scope in scopes], ", ")
