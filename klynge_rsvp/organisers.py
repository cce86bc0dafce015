"""Organiser accounts: creating them, checking passwords and codes, roles, ending sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from . import history, login_throttle, passwords, stored_text, two_factor
from .errors import DomainError
from .extensions import db
from .models import Organiser, OrganiserRole, OrganiserSignIn
from .stored_text import said

# Checked against when the address is unknown, so a wrong address takes as long as a wrong
# password and the login form does not tell which addresses have accounts.
_UNKNOWN_USER_HASH = generate_password_hash("not a real password")

TOTP_POLICIES = ("administrators", "all")


def check_new_password(password: str, *, email: str, name: str = "") -> None:
    """Refuse a password that is too short or easy to guess, saying why (DomainError)."""
    config = current_app.config
    problem = passwords.problem(
        password or "", min_length=config["PASSWORD_MIN_LENGTH"],
        min_score=config["PASSWORD_MIN_SCORE"],
        context=[email, email.partition("@")[0], name, config["KLYNGE_NETWORK_NAME"]])
    if problem:
        raise DomainError(problem)


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
    """A new organiser account (the password must be long enough and hard to guess)."""
    email = email.strip()
    if "@" not in email or any(c in email for c in "\r\n <>"):
        raise DomainError(_("Skriv inn en gyldig e-postadresse."))
    if find_by_email(email) is not None:
        raise DomainError(_("Det finnes allerede en arrangør med denne e-postadressen."))
    check_new_password(password, email=email, name=name)
    organiser = Organiser(email=email, name=name.strip(), role=role, active=True,
                          password_hash=hash_password(password), created_at=now,
                          session_version=0)
    db.session.add(organiser)
    db.session.flush()
    return organiser


def authenticate(email: str, password: str, *, now: datetime) -> Organiser | None:
    """The active account these credentials open, or None (same work either way).

    Raises login_throttle.LockedOut while the address is locked, before looking at the
    password. A failure counts towards the lock; the caller commits it. Success does not yet
    forget earlier failures: `complete_login` does, once any second factor is passed too."""
    throttle_key = login_throttle.key(email)
    login_throttle.check(throttle_key, now=now)
    organiser = find_by_email(email or "")
    if organiser is None:
        check_password_hash(_UNKNOWN_USER_HASH, password or "")
        login_throttle.failed(throttle_key, now=now)
        return None
    if not check_password_hash(organiser.password_hash, password or "") or not organiser.active:
        login_throttle.failed(throttle_key, now=now)
        return None
    return organiser


def check_second_factor(organiser: Organiser, code: str, *, now: datetime) -> str | None:
    """Which kind of code ("app" or "recovery") the organiser gave after the password, or None
    (counted as a failed login). Raises login_throttle.LockedOut while locked."""
    from . import two_factor

    throttle_key = login_throttle.key(organiser.email)
    login_throttle.check(throttle_key, now=now)
    kind = two_factor.verify(organiser, code, now=now)
    if kind is None or not organiser.active:
        login_throttle.failed(throttle_key, now=now)
        return None
    return kind


def complete_login(organiser: Organiser, *, now: datetime) -> None:
    """The organiser is in: forget failed attempts, note the time."""
    login_throttle.forget(login_throttle.key(organiser.email), now=now)
    organiser.last_login_at = now
    db.session.flush()


def needs_second_factor(organiser: Organiser, policy: str) -> bool:
    """Whether the account must log in with a code (KLYNGE_REQUIRE_TOTP)."""
    return policy == "all" or organiser.is_administrator


def end_sessions(organiser: Organiser) -> None:
    """End every session of the account, on every server (they carry the old version)."""
    organiser.session_version = Organiser.session_version + 1
    db.session.flush()
    db.session.refresh(organiser, ["session_version"])


class WrongPassword(DomainError):
    """The current password, asked for again before a change, was wrong."""


def confirm_password(organiser: Organiser, password: str, *, now: datetime) -> None:
    """Raise WrongPassword unless `password` is the account's (a failure counts towards the
    lock, like a failed login; LockedOut while locked)."""
    throttle_key = login_throttle.key(organiser.email)
    login_throttle.check(throttle_key, now=now)
    if not check_password_hash(organiser.password_hash, password or ""):
        login_throttle.failed(throttle_key, now=now)
        raise WrongPassword(_("Passordet er feil."))


def change_password(organiser: Organiser, current: str, new: str, *, now: datetime) -> None:
    """The organiser's own new password, given the current one. Every session of the account
    ends (the caller renews its own)."""
    confirm_password(organiser, current, now=now)
    if new == current:
        raise DomainError(_("Det nye passordet må være et annet enn det nåværende."))
    set_password(organiser, new)


def set_password(organiser: Organiser, password: str) -> None:
    """Give the account a new password (checked as a new one) and end its sessions."""
    check_new_password(password, email=organiser.email, name=organiser.name)
    organiser.password_hash = hash_password(password)
    end_sessions(organiser)


def any_exist() -> bool:
    """Whether any organiser account exists yet."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) > 0


# --- administrators managing accounts --------------------------------------------------------


def _active_administrators() -> int:
    """How many active administrators there are, with their rows locked until commit
    (PostgreSQL; SQLite's write transaction serialises already), so two administrators
    demoting each other at the same moment cannot both succeed."""
    ids = db.session.scalars(
        sa.select(Organiser.id)
        .where(Organiser.role == OrganiserRole.ADMINISTRATOR, Organiser.active.is_(True))
        .with_for_update()
    ).all()
    return len(ids)


def _would_leave_no_administrator(account: Organiser) -> bool:
    return account.is_administrator and account.active and _active_administrators() <= 1


def _stored(role: OrganiserRole) -> dict:
    """The role as the audit log stores it: a code, named in the reader's language."""
    return stored_text.label("role", role, lower=True)


def create_account(*, email: str, name: str, role: OrganiserRole, password: str,
                   by: Organiser, now: datetime) -> Organiser:
    """A new account with a password the administrator passes on to the person."""
    account = create(email, password, name=name, role=role, now=now)
    history.audit("organiser_create", by=by, now=now,
                  summary=said("account_created", email=account.email, role=_stored(role)))
    return account


def change_role(account: Organiser, role: OrganiserRole, *, by: Organiser, now: datetime) -> bool:
    """Give the account another role; False if it had that role already."""
    if account.role == role:
        return False
    if account.id == by.id:
        raise DomainError(_("Du kan ikke endre din egen rolle. Be en annen administrator om det."))
    if role != OrganiserRole.ADMINISTRATOR and _would_leave_no_administrator(account):
        raise DomainError(_("Det må finnes minst én aktiv administrator."))
    old = account.role
    account.role = role
    db.session.flush()
    history.audit("organiser_role", by=by, now=now,
                  summary=said("account_role_changed", email=account.email, before=_stored(old),
                               after=_stored(role)))
    return True


def deactivate(account: Organiser, *, by: Organiser, now: datetime) -> bool:
    """Close the account (it can no longer log in); False if it was closed already."""
    if not account.active:
        return False
    if account.id == by.id:
        raise DomainError(_("Du kan ikke deaktivere din egen konto."))
    if _would_leave_no_administrator(account):
        raise DomainError(_("Dette er den siste aktive administratoren, og kontoen kan ikke "
                            "deaktiveres."))
    account.active = False
    end_sessions(account)
    history.audit("organiser_deactivate", by=by, now=now, summary=account.email)
    return True


def reactivate(account: Organiser, *, by: Organiser, now: datetime) -> bool:
    """Open a closed account again; False if it was open."""
    if account.active:
        return False
    account.active = True
    db.session.flush()
    history.audit("organiser_reactivate", by=by, now=now, summary=account.email)
    return True


def give_new_password(account: Organiser, password: str, *, by: Organiser, now: datetime) -> None:
    """A new password for someone who forgot theirs (given to them in person); their sessions
    end and any lock on their login is lifted."""
    if account.id == by.id:
        raise DomainError(_("Bytt ditt eget passord under Min konto."))
    set_password(account, password)
    login_throttle.forget(login_throttle.key(account.email), now=now)
    history.audit("organiser_password", by=by, now=now, summary=account.email)


def reset_second_factor(account: Organiser, *, by: Organiser, now: datetime) -> bool:
    """Remove the second factor of someone who lost their phone and recovery codes: they set
    up a new one at their next login (where required). False if they had none."""
    if account.id == by.id:
        raise DomainError(_("Du kan ikke nullstille din egen tofaktor. Be en annen "
                            "administrator om det."))
    if not two_factor.reset(account):
        return False
    history.audit("organiser_totp_reset", by=by, now=now, summary=account.email)
    return True


def unlock(account: Organiser, *, by: Organiser, now: datetime) -> bool:
    """Lift the lock that failed logins put on the account's address; False if none."""
    key = login_throttle.key(account.email)
    if login_throttle.locked_until(key, now=now) is None:
        return False
    login_throttle.forget(key, now=now)
    history.audit("organiser_unlock", by=by, now=now, summary=account.email)
    return True


# --- signing in with an employer's account (OpenID Connect, auth/oidc.py) -------------------

# The password hash of an account made at its first sign-in with a provider: no password opens
# it (werkzeug's check_password_hash is False for a value without a method).
NO_PASSWORD = "!"  # noqa: S105


@dataclass(frozen=True)
class ProviderIdentity:
    """Who a provider's checked ID token says signed in: its stable subject, the verified
    e-mail address, and how they authenticated there (acr, amr)."""

    provider: str
    subject: str
    email: str
    name: str = ""
    acr: str | None = None
    amr: tuple[str, ...] = ()


class SignInRefused(DomainError):
    """The provider vouched for someone who may not enter (the message says why)."""


def sign_in_with_provider(identity: ProviderIdentity, *, auto_create: bool,
                          now: datetime) -> Organiser:
    """The active account `identity` opens; raises SignInRefused otherwise.

    The provider's subject, once linked to an account, decides. Before that an account with
    the same (verified) address is linked; failing that, with `auto_create` (the address's
    domain on the provider's allow-list, checked by the caller) a plain organiser is made and
    the audit log says so. A deactivated account is refused whichever way it is found."""
    from . import history

    link = db.session.scalar(sa.select(OrganiserSignIn).where(
        OrganiserSignIn.provider == identity.provider,
        OrganiserSignIn.subject == identity.subject))
    organiser = link.organiser if link is not None else find_by_email(identity.email)
    if organiser is not None and not organiser.active:
        raise SignInRefused(_("Kontoen din er deaktivert. Spør en administrator hvis du skal "
                              "ha tilgang igjen."))
    if link is None and organiser is not None:
        other = db.session.scalar(sa.select(OrganiserSignIn).where(
            OrganiserSignIn.provider == identity.provider,
            OrganiserSignIn.organiser_id == organiser.id))
        if other is not None:
            # The address now belongs to someone else at the provider (or was reused).
            raise SignInRefused(_("Arrangørkontoen med denne e-postadressen er knyttet til en "
                                  "annen brukerkonto hos innloggingstjenesten. Spør en "
                                  "administrator."))
    if organiser is None:
        if not auto_create:
            raise SignInRefused(_("Det finnes ingen arrangørkonto for %(email)s. Spør en "
                                  "administrator om å lage en.", email=identity.email))
        organiser = Organiser(email=identity.email, name=identity.name.strip()[:200],
                              role=OrganiserRole.ORGANISER, active=True,
                              password_hash=NO_PASSWORD, created_at=now, session_version=0)
        db.session.add(organiser)
        db.session.flush()
        history.audit("organiser_create_sign_in", by=None, now=now,
                      summary=said("account_created_at_sign_in", email=organiser.email,
                                   provider=identity.provider))
    if link is None:
        link = OrganiserSignIn(organiser=organiser, provider=identity.provider,
                               subject=identity.subject, created_at=now, last_used_at=now)
        db.session.add(link)
    link.last_used_at = now
    link.last_acr = (identity.acr or None) and identity.acr[:200]
    link.last_amr = " ".join(identity.amr)[:200] or None
    db.session.flush()
    return organiser
