"""Organisations: one row per real organisation however its name is typed."""

import re
import unicodedata
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from . import history, stored_text
from .errors import DomainError
from .extensions import db
from .models import Organisation, OrganisationAlias, Organiser, Registration, Sector
from .stored_text import joined, said

_WHITESPACE = re.compile(r"\s+")
_ORG_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def tidy_name(name: str) -> str:
    """The name as it should be shown: inner runs of white space folded, ends trimmed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


# A short name in parentheses at the end, as in "Universitetet i Bergen (UiB)".
_TRAILING_ABBREVIATION = re.compile(r"\s*\([^()]{1,20}\)\s*$")
# Norwegian letters as they are typed without them: "næringsråd" as "naeringsrad", "ø" as "o"
# or "oe", "å" as "a" or "aa" (so "Åsane" and "Aasane" are one).
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})
_DIGRAPHS = re.compile(r"aa|oe")
_NOT_A_LETTER = re.compile(r"[\W_]+")


def name_key(name: str) -> str:
    """The name folded for comparison: case, white space, Unicode form, punctuation, a short
    name in parentheses at the end, and æ/ae, ø/o/oe, å/a/aa do not matter.

    "Universitetet i bergen.", "Universitetet i Bergen (UiB)" and "UNIVERSITETET I BERGEN" are
    one; so are "Bergen næringsråd" and "bergen naeringsrad". The key is what is stored and
    unique (migration 0015 re-keyed the rows written with the narrower key before).
    """
    tidy = tidy_name(name)
    without = _TRAILING_ABBREVIATION.sub("", tidy)
    folded = (without or tidy).casefold().translate(_LETTERS)
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded)
                     if not unicodedata.combining(c))  # "é" as "e", "ö" as "o"
    folded = _DIGRAPHS.sub(lambda match: match.group(0)[0], folded)
    key = _NOT_A_LETTER.sub(" ", folded).strip()
    # A name of punctuation only: compared as typed, folded.
    return key or tidy.casefold()


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


def find(name: str) -> Organisation | None:
    """The organisation this name leads to however it is typed (its own key, or the key of an
    organisation merged into it)."""
    key = name_key(name)
    return db.session.scalar(sa.select(Organisation).where(Organisation.name_key == key)) \
        or db.session.scalar(sa.select(Organisation).join(OrganisationAlias)
                             .where(OrganisationAlias.name_key == key))


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
        organisation = find(name)
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


# --- for organisers ------------------------------------------------------------------------------

# The fewest different people registered from an organisation before the form suggests its
# name to others (an organisation on the network's public list is suggested anyway).
SUGGEST_FROM = 2
# The most names the form carries: each is ~25 bytes in every form page (measured: 2,000 names
# made the page 61 kB instead of 12 kB), and a list that long helps no one.
SUGGEST_AT_MOST = 300


def suggestions() -> list[str]:
    """Organisation names the registration form offers as the person types: those on the
    network's public list, and those at least SUGGEST_FROM different people (not erased)
    registered from. Never one a single person typed: that would tell who registered.
    At most SUGGEST_AT_MOST (the listed first, then the most people), by name."""
    people = sa.func.count(sa.distinct(Registration.email_key))
    rows = db.session.execute(
        sa.select(Organisation.name, Organisation.name_key)
        .outerjoin(Registration, sa.and_(Registration.organisation_id == Organisation.id,
                                         Registration.anonymised_at.is_(None)))
        .group_by(Organisation.id, Organisation.name, Organisation.name_key, Organisation.listed)
        .having(sa.or_(Organisation.listed, people >= SUGGEST_FROM))
        .order_by(Organisation.listed.desc(), people.desc(), Organisation.name_key)
        .limit(SUGGEST_AT_MOST)).all()
    return [name for name, _key in sorted(rows, key=lambda row: row[1])]


def listing() -> list[tuple[Organisation, int]]:
    """Every organisation with its number of registrations, by name."""
    count = (sa.select(sa.func.count(Registration.id))
             .where(Registration.organisation_id == Organisation.id)
             .correlate(Organisation).scalar_subquery())
    return [(organisation, n) for organisation, n in db.session.execute(
        sa.select(Organisation, count).order_by(Organisation.name_key))]


def registration_count(organisation: Organisation) -> int:
    return db.session.scalar(sa.select(sa.func.count(Registration.id))
                             .where(Registration.organisation_id == organisation.id))


def update(organisation: Organisation, *, name: str, sector: Sector, org_number: str | None,
           listed: bool, now: datetime, by: Organiser | None) -> bool:
    """Set an organisation's name, sector, organisasjonsnummer and place on the public list;
    False if nothing changed. Another organisation with the number or the name: a DomainError
    that points to merging them."""
    org_number = clean_org_number(org_number or "") or None
    if org_number and not is_valid_org_number(org_number):
        raise DomainError(_("Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))
    name = tidy_name(name)
    if not name:
        raise DomainError(_("Skriv inn navnet på virksomheten."))
    if org_number:
        other = db.session.scalar(sa.select(Organisation).where(
            Organisation.org_number == org_number, Organisation.id != organisation.id))
        if other is not None:
            raise DomainError(_("«%(name)s» har allerede dette organisasjonsnummeret. Er det samme "
                                "virksomhet, slå dem sammen.", name=other.name))
    other = find(name)
    if other is not None and other.id != organisation.id:
        raise DomainError(_("Navnet leder allerede til «%(name)s». Er det samme virksomhet, slå "
                            "dem sammen.", name=other.name))
    changes = {"name": name, "sector": sector, "org_number": org_number, "listed": listed}
    changed = [field for field, value in changes.items() if getattr(organisation, field) != value]
    if not changed:
        return False
    old_key = organisation.name_key
    for field in changed:
        setattr(organisation, field, changes[field])
    organisation.name_key = name_key(name)
    if organisation.name_key != old_key:  # the old spelling still leads here
        _alias(organisation, old_key, now=now)
    db.session.flush()
    history.audit("organisation_edit", by=by, now=now, summary=said(
        "organisation_edited", name=organisation.name,
        fields=joined([stored_text.label("organisation_field", f) for f in changed], ", ")))
    return True


def merge(keep: Organisation, gone: Organisation, *, now: datetime,
          by: Organiser | None) -> int:
    """Make `gone` part of `keep`: its registrations move to `keep`, its name (and the names
    merged into it) lead to `keep` from now on, and its organisasjonsnummer fills in a missing
    one. Returns how many registrations moved."""
    if keep.id == gone.id:
        raise DomainError(_("Velg to forskjellige virksomheter."))
    moved = db.session.execute(
        sa.update(Registration).where(Registration.organisation_id == gone.id)
        .values(organisation_id=keep.id).execution_options(synchronize_session=False)).rowcount
    number = gone.org_number
    keys = [gone.name_key, *(alias.name_key for alias in gone.aliases)]
    summary = said("organisations_merged", gone=gone.name, kept=keep.name, count=moved)
    listed = gone.listed
    db.session.delete(gone)  # its aliases with it
    db.session.flush()  # its unique number and keys are free before keep takes them
    if keep.org_number is None and number:
        keep.org_number = number
    keep.listed = keep.listed or listed
    for key in keys:
        _alias(keep, key, now=now)
    db.session.flush()
    db.session.expire(keep, ["registrations", "aliases"])
    history.audit("organisation_merge", by=by, now=now, summary=summary)
    return moved


def _alias(organisation: Organisation, key: str, *, now: datetime) -> None:
    """Let `key` lead to `organisation`. Keys are never both an organisation's and an alias's:
    a name is looked up through both before a new organisation or a new name is accepted."""
    if key == organisation.name_key or any(a.name_key == key for a in organisation.aliases):
        return
    organisation.aliases.append(OrganisationAlias(name_key=key, created_at=now))
