"""Brønnøysundregistrene's open API for Enhetsregisteret: one organisasjonsnummer in, what the
register says about it out. No database, no app: registry.py keeps the answers and uses them.

The API (data.brreg.no/enhetsregisteret/api, documented at …/api/dokumentasjon): `GET
{base}/enheter/{orgnr}` answers 200 with the unit as JSON, 404 for a number it does not know,
410 Gone for a deleted unit (the body has `slettedato`), 400 for a malformed number; a number
that is a sub-unit (a department, a site) is 404 there and found at `{base}/underenheter/{orgnr}`,
whose JSON names its main unit in `overordnetEnhet`. The sector is the main unit's
`institusjonellSektorkode` (sub-units have none); see SECTOR_BY_CODE and decision 0030.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import requests

from .models import Sector

FOUND = "found"
NOT_FOUND = "not_found"
DELETED = "deleted"

USER_AGENT = "klynge-rsvp (registration for a regional preparedness network)"

# Institutional sector codes (Standard for institusjonell sektorgruppering, SSB, the 2012
# revision the register uses, "SN2014" in the issue) → the network's sector. Every code the
# register gives is here; a code not here gives no sector (the person's choice stands).
SECTOR_BY_CODE: dict[str, Sector] = {
    # Non-financial corporations. Public ones: the state's and the municipalities' own
    # market-oriented units and the companies they own more than half of (Statnett, Avinor, a
    # municipal power company) count as public: they answer to a public owner and, in this
    # network, stand where the public sector stands in an emergency.
    "1110": Sector.PUBLIC,   # Statens forretningsdrift
    "1120": Sector.PUBLIC,   # Statlig eide aksjeselskaper mv.
    "1510": Sector.PUBLIC,   # Kommunale foretak med ubegrenset ansvar
    "1520": Sector.PUBLIC,   # Kommunalt eide aksjeselskaper mv.
    "2100": Sector.PRIVATE,  # Private aksjeselskaper mv.
    "2300": Sector.PRIVATE,  # Personlige foretak
    "2500": Sector.PRIVATE,  # Private produsentorienterte organisasjoner uten profittformål
    # Financial corporations: Norges Bank and the state lending institutions are public.
    "3100": Sector.PUBLIC,   # Norges Bank
    "3200": Sector.PRIVATE,  # Banker
    "3500": Sector.PRIVATE,  # Kredittforetak
    "3600": Sector.PRIVATE,  # Finansieringsforetak
    "3900": Sector.PUBLIC,   # Statlige låneinstitutter
    "4100": Sector.PRIVATE,  # Pengemarkedsfond / verdipapirfond
    "4300": Sector.PRIVATE,  # Andre finansielle formidlere / verdipapirfond
    "4500": Sector.PRIVATE,  # Finansielle hjelpeforetak
    "4900": Sector.PRIVATE,  # Andre finansielle foretak (holding, captive)
    "5500": Sector.PRIVATE,  # Forsikringsforetak
    "5700": Sector.PRIVATE,  # Pensjonsforetak
    # General government.
    "6100": Sector.PUBLIC,   # Statsforvaltningen (stats- og trygdeforvaltningen)
    "6500": Sector.PUBLIC,   # Kommuneforvaltningen
    # Non-profit institutions serving households.
    "7000": Sector.NON_PROFIT,  # Ideelle organisasjoner
    # Households: sole proprietors and the like are businesses.
    "8200": Sector.PRIVATE,  # Personlig næringsdrivende
    "8300": Sector.PRIVATE,  # Husholdninger ellers
    "8500": Sector.PRIVATE,  # Ikke-personlig næringsdrivende husholdninger
    # Rest of the world: foreign units registered in Norway (NUF), businesses almost always.
    "9000": Sector.PRIVATE,  # Utlandet
}


@dataclass(frozen=True)
class Unit:
    """What the register says about one number. `name` and `sector` only when FOUND; `sector`
    None when the register has no code we map (the person's choice stands)."""

    org_number: str
    state: str
    name: str | None = None
    sector: Sector | None = None
    parent_org_number: str | None = None
    deleted_on: date | None = None


class Unavailable(Exception):
    """The register did not answer in time, answered an error, or something we cannot read."""


def sector_of(unit_json: dict) -> Sector | None:
    """The network's sector for a main unit's JSON: registered in Frivillighetsregisteret is
    "frivillig" (unless its sector code is public); else its institutional sector code."""
    code = (unit_json.get("institusjonellSektorkode") or {}).get("kode")
    sector = SECTOR_BY_CODE.get(str(code)) if code is not None else None
    if unit_json.get("registrertIFrivillighetsregisteret") is True and sector != Sector.PUBLIC:
        return Sector.VOLUNTEER
    return sector


def fetch(org_number: str, *, base_url: str, timeout: float,
          session: requests.Session | None = None) -> Unit:
    """Ask the register about `org_number` (nine digits): the unit, its sub-unit form with the
    main unit's sector, NOT_FOUND or DELETED. `timeout` is for the whole look-up, however many
    requests it takes. Raises Unavailable for anything else."""
    deadline = time.monotonic() + timeout
    http = session or requests.Session()
    try:
        status, body = _get(http, f"{base_url.rstrip('/')}/enheter/{org_number}", deadline)
        if status == 200:
            return _found(org_number, body, sector_of(body))
        if status == 410:
            return _deleted(org_number, body)
        if status != 404:
            raise Unavailable(f"enheter/{org_number} answered {status}")
        status, body = _get(http, f"{base_url.rstrip('/')}/underenheter/{org_number}", deadline)
        if status == 404:
            return Unit(org_number, NOT_FOUND)
        if status == 410:
            return _deleted(org_number, body)
        if status != 200:
            raise Unavailable(f"underenheter/{org_number} answered {status}")
        parent = body.get("overordnetEnhet")
        sector = None
        if isinstance(parent, str) and parent.isdigit() and len(parent) == 9:
            parent_status, parent_body = _get(
                http, f"{base_url.rstrip('/')}/enheter/{parent}", deadline)
            if parent_status == 200:
                sector = sector_of(parent_body)
            elif parent_status not in (404, 410):
                raise Unavailable(f"enheter/{parent} answered {parent_status}")
        else:
            parent = None
        return _found(org_number, body, sector, parent=parent)
    finally:
        if session is None:
            http.close()


def _get(http: requests.Session, url: str, deadline: float) -> tuple[int, dict]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Unavailable(f"{url}: no time left")
    try:
        response = http.get(url, timeout=(left, left), allow_redirects=False, headers={
            "Accept": "application/json", "User-Agent": USER_AGENT})
        status = response.status_code
        if status in (200, 410):
            body = response.json()
            if not isinstance(body, dict):
                raise Unavailable(f"{url}: not a JSON object")
            return status, body
        return status, {}
    except requests.RequestException as error:  # timeouts, refused, reset, bad JSON
        raise Unavailable(f"{url}: {error.__class__.__name__}: {error}") from error
    except ValueError as error:
        raise Unavailable(f"{url}: unreadable JSON") from error


def _found(org_number: str, body: dict, sector: Sector | None, parent: str | None = None) -> Unit:
    if body.get("slettedato"):  # a deleted unit some answers still give with 200
        return _deleted(org_number, body)
    name = body.get("navn")
    if not isinstance(name, str) or not name.strip():
        raise Unavailable(f"{org_number}: no name in the answer")
    return Unit(org_number, FOUND, name=" ".join(name.split())[:200], sector=sector,
                parent_org_number=parent)


def _deleted(org_number: str, body: dict) -> Unit:
    try:
        deleted_on = date.fromisoformat(str(body.get("slettedato")))
    except ValueError:
        deleted_on = None
    return Unit(org_number, DELETED, deleted_on=deleted_on)
