"""A participant's own data: export it, or erase it (GDPR articles 15, 17 and 20)."""

from __future__ import annotations

from datetime import datetime

from . import rsvp
from .models import Registration, RegistrationStatus, new_token

ERASED_NAME = "Slettet deltaker"


def export(registration: Registration) -> dict:
    """Everything stored about this registration, as plain data."""
    gathering = registration.gathering
    return {
        "samling": {
            "tittel": gathering.title,
            "start": gathering.starts_at.isoformat(),
            "slutt": gathering.ends_at.isoformat(),
            "sted": gathering.venue_name,
        },
        "navn": registration.name,
        "e_post": registration.email,
        "stilling": registration.job_title,
        "virksomhet": registration.organisation.name,
        "sektor": registration.organisation.sector.value,
        "organisasjonsnummer": registration.organisation.org_number,
        "behov": registration.needs,
        "kommentar": registration.comment,
        "status": registration.status.value,
        "samtykke_gitt": registration.consented_at.isoformat(),
        "språk": registration.language,
        "påmeldt": registration.created_at.isoformat(),
        "sist_endret": registration.updated_at.isoformat(),
        "avmeldt": registration.cancelled_at.isoformat() if registration.cancelled_at else None,
        "påmeldt_av_kollega": registration.registered_by.name if registration.registered_by else None,
    }


def erase(registration: Registration, *, now: datetime) -> None:
    """Cancel (freeing the seat, with a last mail) and remove the personal data for good.

    The organisation and the registration row stay, anonymous, so the network's statistics of
    organisations and sectors survive. The manage link stops working.
    """
    if registration.status != RegistrationStatus.CANCELLED:
        rsvp.cancel(registration, now=now)
    registration.name = ERASED_NAME
    registration.email = f"slettet-{registration.id}@invalid"
    registration.email_key = registration.email
    registration.job_title = ""
    registration.needs = ""
    registration.comment = ""
    registration.token = new_token()
    registration.updated_at = now
