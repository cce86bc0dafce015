"""Organisation numbers looked up in Enhetsregisteret, for the forms and the organisers.

`lookup` asks the register (enhetsregisteret.py) at most once a week per number found and once
a day per number it does not know or has deleted; the answers are kept in the database (in the
caller's transaction: the view commits them), so every app process and server shares them. A
failure (timeout, error, an answer we cannot read) is never kept: the caller goes on without the
register, as it does when KLYNGE_BRREG_URL is empty. Decision 0030 says why the look-up runs
inside the request and what wins over what.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from wtforms.validators import ValidationError

from . import enhetsregisteret, organisations
from .enhetsregisteret import DELETED, FOUND, NOT_FOUND, Unavailable, Unit
from .errors import DomainError
from .extensions import db
from .formatting import long_date
from .models import Organisation, Organiser, RegistryLookup, Sector

log = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(current_app.config.get("KLYNGE_BRREG_URL"))


def lookup(org_number: str, *, now: datetime) -> Unit | None:
    """What the register says about `org_number` (nine digits, MOD11-valid), from the kept
    answer while it is fresh; None when the look-up is off or the register is unavailable."""
    if not enabled():
        return None
    kept = _kept(org_number, now=now)
    if kept is not None:
        return kept
    config = current_app.config
    try:
        unit = enhetsregisteret.fetch(org_number, base_url=config["KLYNGE_BRREG_URL"],
                                      timeout=float(config["KLYNGE_BRREG_TIMEOUT"]))
    except Unavailable as error:
        log.warning("enhetsregisteret: no answer for %s: %s", org_number, error)
        return None
    _keep(unit, now=now)
    return unit


def _kept(org_number: str, *, now: datetime) -> Unit | None:
    row = db.session.get(RegistryLookup, org_number)
    if row is None:
        return None
    days = current_app.config["BRREG_FOUND_DAYS" if row.state == FOUND else "BRREG_NOT_FOUND_DAYS"]
    if now - row.fetched_at >= timedelta(days=days):
        return None
    return Unit(row.org_number, row.state, name=row.name,
                sector=Sector(row.sector) if row.sector else None,
                parent_org_number=row.parent_org_number, deleted_on=row.deleted_on)


def _keep(unit: Unit, *, now: datetime) -> None:
    """Keep the answer in the request's transaction (flushed; the view commits it with the
    rest, and a request that changes nothing commits it alone). A savepoint keeps another
    process keeping the same number at the same moment from failing the request."""
    try:
        with db.session.begin_nested():
            row = db.session.get(RegistryLookup, unit.org_number)
            if row is None:
                row = RegistryLookup(org_number=unit.org_number)
                db.session.add(row)
            row.state, row.name = unit.state, unit.name
            row.sector = unit.sector.value if unit.sector else None
            row.parent_org_number, row.deleted_on = unit.parent_org_number, unit.deleted_on
            row.fetched_at = now
    except sa.exc.IntegrityError as error:
        log.info("enhetsregisteret: %s kept elsewhere meanwhile: %s", unit.org_number,
                 error.__class__.__name__)


def forget_stale(*, now: datetime) -> int:
    """Delete kept answers older than the longest freshness (the retention purge calls this):
    a sole proprietorship's name is a person's name."""
    oldest = now - timedelta(days=max(current_app.config["BRREG_FOUND_DAYS"],
                                      current_app.config["BRREG_NOT_FOUND_DAYS"]))
    return db.session.execute(sa.delete(RegistryLookup).where(
        RegistryLookup.fetched_at < oldest)).rowcount


# --- the forms ----------------------------------------------------------------------------------

def not_found_message() -> str:
    return _("Fant ikke organisasjonsnummeret i Enhetsregisteret. Sjekk sifrene, eller la feltet "
             "stå tomt.")


def deleted_message(unit: Unit) -> str:
    if unit.deleted_on:
        return _("Organisasjonsnummeret er slettet i Enhetsregisteret (%(date)s). Sjekk sifrene, "
                 "la feltet stå tomt, eller kryss av for å bruke det likevel.",
                 date=long_date(datetime(unit.deleted_on.year, unit.deleted_on.month,
                                         unit.deleted_on.day, 12, tzinfo=UTC)))
    return _("Organisasjonsnummeret er slettet i Enhetsregisteret. Sjekk sifrene, la feltet stå "
             "tomt, eller kryss av for å bruke det likevel.")


def check_form(form, field, number: str, *, now: datetime) -> None:
    """The org-number validator's second half (person_fields.valid_org_number): a number the
    register knows puts its name and sector into the form's organisation and sector fields
    (the typed ones stay when the register is off, slow or failing); a number it does not know
    is an error on the field, and so is a deleted one unless the person ticked "use it anyway"
    (`org_number_confirmed`)."""
    unit = lookup(number, now=now)
    if unit is None:
        return
    if unit.state == NOT_FOUND:
        raise ValidationError(not_found_message())
    if unit.state == DELETED:
        confirmed = getattr(form, "org_number_confirmed", None)
        if confirmed is not None and confirmed.data:
            return
        field.deleted_in_registry = True
        raise ValidationError(deleted_message(unit))
    organisation = getattr(form, "organisation", None)
    if organisation is not None and unit.name and (
            organisations.name_key(organisation.data or "") != organisations.name_key(unit.name)):
        organisation.data = unit.name  # the same name typed another way keeps its spelling
    sector = getattr(form, "sector", None)
    if sector is not None and unit.sector is not None:
        sector.data = unit.sector.value


def as_json(unit: Unit | None) -> dict:
    """The as-you-type answer (public/views.org_lookup): what the script fills in, and the
    sentence it announces."""
    from .labels import SECTOR_LABELS

    if unit is None:
        return {"state": "unavailable", "message": ""}
    if unit.state == NOT_FOUND:
        return {"state": NOT_FOUND, "message": not_found_message()}
    if unit.state == DELETED:
        return {"state": DELETED, "message": deleted_message(unit)}
    sector = str(SECTOR_LABELS[unit.sector]) if unit.sector else None
    message = (_("Fant «%(name)s» i Enhetsregisteret. Navnet og sektoren (%(sector)s) er fylt ut.",
                 name=unit.name, sector=sector) if sector else
               _("Fant «%(name)s» i Enhetsregisteret. Navnet er fylt ut.", name=unit.name))
    return {"state": FOUND, "name": unit.name,
            "sector": unit.sector.value if unit.sector else None, "message": message}


# --- the organisers -----------------------------------------------------------------------------

def fill_organisation(organisation: Organisation, *, now: datetime,
                      by: Organiser | None) -> bool:
    """Set an organisation's name and sector from the register ("Hent fra Enhetsregisteret");
    False if they were already so. Audited as any change (organisations.update)."""
    if not organisation.org_number:
        raise DomainError(_("Virksomheten har ikke organisasjonsnummer. Skriv det inn og lagre "
                            "først."))
    if not enabled():
        raise DomainError(_("Oppslag i Enhetsregisteret er slått av."))
    unit = lookup(organisation.org_number, now=now)
    if unit is None:
        raise DomainError(_("Enhetsregisteret svarte ikke. Prøv igjen om litt."))
    if unit.state == NOT_FOUND:
        raise DomainError(not_found_message())
    if unit.state == DELETED:
        raise DomainError(deleted_message(unit))
    name = organisation.name
    if organisations.name_key(name) != organisations.name_key(unit.name):
        name = unit.name
    return organisations.update(organisation, name=name, sector=unit.sector or organisation.sector,
                                org_number=organisation.org_number, listed=organisation.listed,
                                now=now, by=by)
