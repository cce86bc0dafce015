"""Organisations: one row per real organisation however its name is typed."""

import re
import unicodedata

import sqlalchemy as sa

from .extensions import db
from .models import Organisation, Sector

_WHITESPACE = re.compile(r"\s+")
_ORG_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def tidy_name(name: str) -> str:
    """The name as it should be shown: inner runs of white space folded, ends trimmed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


def name_key(name: str) -> str:
    """The name folded for comparison: case, white space and Unicode form do not matter."""
    return tidy_name(name).casefold()


def is_valid_org_number(number: str) -> bool:
    """Whether `number` is a Norwegian organisasjonsnummer: 9 digits, MOD11 check digit."""
    if not re.fullmatch(r"[0-9]{9}", number):
        return False
    digits = [int(d) for d in number]
    remainder = sum(w * d for w, d in zip(_ORG_NUMBER_WEIGHTS, digits, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    # A remainder of 1 would need check digit 10: no valid number is issued with it.
    return check != 10 and check == digits[8]


def clean_org_number(raw: str) -> str:
    """The digits of an organisasjonsnummer typed with spaces, e.g. "974 760 673"."""
    return re.sub(r"[\s.]", "", raw or "")


def find_or_create(name: str, sector: Sector, org_number: str | None, *, now) -> Organisation:
    """The organisation with this name (or organisasjonsnummer), created when it is new.

    An existing organisation keeps its recorded sector; a missing organisasjonsnummer is
    filled in when someone supplies one.
    """
    org_number = org_number or None
    organisation = None
    if org_number:
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.org_number == org_number)
        )
    if organisation is None:
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.name_key == name_key(name))
        )
    if organisation is None:
        organisation = Organisation(
            name=tidy_name(name),
            name_key=name_key(name),
            sector=sector,
            org_number=org_number,
            created_at=now,
        )
        db.session.add(organisation)
        db.session.flush()
    elif org_number and organisation.org_number is None:
        organisation.org_number = org_number
    return organisation
