"""A second factor for organisers: a code from an authenticator app (TOTP, RFC 6238, with pyotp),
or one of ten single-use recovery codes for a lost phone.

A code is accepted for the 30-second step it was made in and the step on either side (a phone's
clock may be a little off), and only once: the last accepted step is stored, and a code of that
step or an earlier one is refused (a code seen over someone's shoulder cannot be used again).
Recovery codes are shown once and stored as SHA-256 hashes (they are random, 60 bits each, so a
slow hash would add nothing); each works once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from flask_babel import gettext as _

from . import organisers
from .errors import DomainError
from .extensions import db
from .models import Organiser, RecoveryCode

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code copied from paper must not be mistyped.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 12  # 31**12 ≈ 2**59


def pending_secret(organiser: Organiser) -> str:
    """The secret being set up (a new one the first time): shown as a QR code and as text."""
    if not organiser.totp_pending_secret:
        organiser.totp_pending_secret = pyotp.random_base32()
        db.session.flush()
    return organiser.totp_pending_secret


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The otpauth:// link an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg_data_uri(uri: str) -> str:
    """The link as a QR code, an SVG data: URI for an <img> (allowed by the CSP)."""
    return segno.make(uri, error="m", micro=False).svg_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    """A secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def confirm(organiser: Organiser, code: str, *, now: datetime) -> list[str]:
    """Turn the second factor on once the app shows the right code; returns the new recovery
    codes (to be shown once). Every session of the account ends (the caller renews its own)."""
    secret = organiser.totp_pending_secret
    if not secret:
        raise DomainError(_("Oppsettet er ikke startet. Last inn siden og prøv igjen."))
    counter = _matching_counter(secret, code, now=now)
    if counter is None:
        raise DomainError(_("Koden stemmer ikke. Skriv inn den sekssifrede koden appen viser nå "
                            "(den skifter hvert 30. sekund)."))
    organiser.totp_secret = secret
    organiser.totp_pending_secret = None
    organiser.totp_enabled_at = now
    organiser.totp_last_counter = counter
    organisers.end_sessions(organiser)
    return new_recovery_codes(organiser, now=now)


def verify(organiser: Organiser, code: str, *, now: datetime) -> str | None:
    """Which kind of code opened the account ("app" or "recovery"), or None if none did.

    A code is spent here (its step, or the recovery code, is used up) even if the caller
    goes on to refuse the login for another reason."""
    if not organiser.has_second_factor:
        return None
    typed = "".join((code or "").split())
    if typed.isdigit():
        counter = _matching_counter(organiser.totp_secret, typed, now=now)
        return "app" if counter is not None and _claim_step(organiser, counter) else None
    return "recovery" if _use_recovery_code(organiser, typed, now=now) else None


def new_recovery_codes(organiser: Organiser, *, now: datetime) -> list[str]:
    """Ten fresh recovery codes (any old ones stop working); returned in plain text once."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.organiser_id == organiser.id))
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(organiser_id=organiser.id, code_hash=_hash(code),
                                    created_at=now) for code in codes)
    db.session.flush()
    return [f"{c[0:4]}-{c[4:8]}-{c[8:12]}" for c in codes]


def recovery_codes_left(organiser: Organiser) -> int:
    """How many recovery codes the account has not used."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.organiser_id == organiser.id, RecoveryCode.used_at.is_(None)))


def reset(organiser: Organiser) -> bool:
    """Remove the second factor (a lost phone): the next login sets up a new one where it is
    required. Every session of the account ends. False if there was none."""
    had = organiser.has_second_factor or organiser.totp_pending_secret is not None
    organiser.totp_secret = organiser.totp_pending_secret = None
    organiser.totp_enabled_at = organiser.totp_last_counter = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.organiser_id == organiser.id))
    if had:
        organisers.end_sessions(organiser)
    db.session.flush()
    return had


def _matching_counter(secret: str, code: str, *, now: datetime) -> int | None:
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for counter in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _claim_step(organiser: Organiser, counter: int) -> bool:
    """Record `counter` as used, unless it (or a later one) was used already. One UPDATE with
    the condition in it, so two servers given the same code at once cannot both accept it."""
    claimed = db.session.execute(
        sa.update(Organiser)
        .where(Organiser.id == organiser.id,
               sa.or_(Organiser.totp_last_counter.is_(None),
                      Organiser.totp_last_counter < counter))
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(organiser, ["totp_last_counter"])
    return claimed


def _use_recovery_code(organiser: Organiser, typed: str, *, now: datetime) -> bool:
    normalised = "".join(c for c in typed.lower() if c.isalnum())
    if len(normalised) != _RECOVERY_LENGTH:
        return False
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.organiser_id == organiser.id,
               RecoveryCode.code_hash == _hash(normalised), RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    return used


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
