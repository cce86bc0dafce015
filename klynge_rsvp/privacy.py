"""A participant's own data: export it, or erase it (GDPR articles 15, 17 and 20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from . import rsvp
from .extensions import db
from .models import (
    Gathering,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    new_token,
)

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
    anonymise(registration, now=now)


@dataclass(frozen=True)
class PurgeReport:
    registrations: int
    messages: int


def retention_cutoff(now: datetime) -> datetime:
    """Gatherings that ended before this instant have had their personal data kept long enough."""
    return now - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])


def purge_personal_data(*, now: datetime) -> PurgeReport:
    """Anonymise the registrations of gatherings past the retention period, and delete the mail
    sent about them. Counts by organisation, sector, status and attendance survive. Idempotent."""
    cutoff = retention_cutoff(now)
    old_gatherings = sa.select(Gathering.id).where(Gathering.ends_at < cutoff)
    registrations = db.session.scalars(
        sa.select(Registration).where(
            Registration.gathering_id.in_(old_gatherings),
            Registration.anonymised_at.is_(None),
        )
    ).all()
    for registration in registrations:
        anonymise(registration, now=now)
    # The outbox keeps whole messages (names, addresses, links): delete those about old
    # gatherings once they are no longer pending.
    messages = db.session.execute(
        sa.delete(OutboxMessage).where(
            OutboxMessage.registration_id.in_(
                sa.select(Registration.id).where(Registration.gathering_id.in_(old_gatherings))),
            OutboxMessage.status != OutboxStatus.PENDING,
        )
    ).rowcount
    db.session.flush()
    return PurgeReport(registrations=len(registrations), messages=messages or 0)


def anonymise(registration: Registration, *, now: datetime) -> None:
    """Remove the personal data from a registration, keeping what the statistics need."""
    registration.name = ERASED_NAME
    registration.email = f"slettet-{registration.id}@invalid"
    registration.email_key = registration.email
    registration.job_title = ""
    registration.needs = ""
    registration.comment = ""
    registration.token = new_token()
    registration.anonymised_at = now
    registration.updated_at = now
    for event in registration.events:
        event.note = ""
