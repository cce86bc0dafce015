"""Organiser accounts: creating them, checking passwords, roles."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import DomainError
from .extensions import db
from .models import Organiser, OrganiserRole

ROLE_LABELS = {
    OrganiserRole.ADMINISTRATOR: _l("Administrator"),
    OrganiserRole.ORGANISER: _l("Arrangør"),
}

# Checked against when the address is unknown, so a wrong address takes as long as a wrong
# password and the login form does not tell which addresses have accounts.
_UNKNOWN_USER_HASH = generate_password_hash("not a real password")


def hash_password(password: str) -> str:
    """A slow, salted hash (werkzeug's scrypt; tests may configure a cheaper one)."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise DomainError(_("Passordet må ha minst %(minimum)s tegn.", minimum=minimum))
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_by_email(email: str) -> Organiser | None:
    """The account with this address (case does not matter)."""
    return db.session.scalar(
        sa.select(Organiser).where(sa.func.lower(Organiser.email) == email.strip().lower())
    )


def create(email: str, password: str, *, now: datetime, name: str = "",
           role: OrganiserRole = OrganiserRole.ORGANISER) -> Organiser:
    """A new organiser account."""
    email = email.strip()
    if "@" not in email or any(c in email for c in "\r\n <>"):
        raise DomainError(_("Skriv inn en gyldig e-postadresse."))
    if find_by_email(email) is not None:
        raise DomainError(_("Det finnes allerede en arrangør med denne e-postadressen."))
    organiser = Organiser(email=email, name=name.strip(), role=role, active=True,
                          password_hash=hash_password(password), created_at=now)
    db.session.add(organiser)
    db.session.flush()
    return organiser


def authenticate(email: str, password: str, *, now: datetime) -> Organiser | None:
    """The active account these credentials open, or None (same work either way)."""
    organiser = find_by_email(email or "")
    if organiser is None:
        check_password_hash(_UNKNOWN_USER_HASH, password or "")
        return None
    if not check_password_hash(organiser.password_hash, password or "") or not organiser.active:
        return None
    organiser.last_login_at = now
    return organiser


def any_exist() -> bool:
    """Whether any organiser account exists yet."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) > 0
