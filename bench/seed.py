"""Bulk data for the benchmarks, inserted with a few multi-row INSERTs (not the services: the
services are what is measured, not how the data got there). Call inside an app context."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import gatherings, organisers
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    Gathering,
    GatheringStatus,
    Organisation,
    OrganiserRole,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    Sector,
    new_token,
)
from klynge_rsvp.names import sort_key

ORGANISER = "bench-admin@bench.test"
PASSWORD = "benk med ti tusen rader"  # noqa: S105 (a throwaway account in a throwaway database)
SECTORS = list(Sector)


def organiser() -> dict:
    """An organiser to log in as (the login form's fields): not an administrator, who would
    need a second factor, and the measured pages are every organiser's."""
    if organisers.find_by_email(ORGANISER) is None:
        organisers.create(ORGANISER, PASSWORD, name="Benk", role=OrganiserRole.ORGANISER,
                          now=utcnow())
        db.session.commit()
    return {"email": ORGANISER, "password": PASSWORD}


def organisations(count: int = 60) -> list[int]:
    """Organisations across the sectors; returns their ids."""
    now = utcnow()
    existing = list(db.session.scalars(sa.select(Organisation.id).order_by(Organisation.id)))
    if len(existing) >= count:
        return existing[:count]
    db.session.execute(sa.insert(Organisation), [
        {"name": f"Virksomhet {n} AS", "name_key": f"virksomhet {n} as {uuid.uuid4().hex[:6]}",
         "sector": SECTORS[n % len(SECTORS)], "org_number": None, "created_at": now}
        for n in range(count)
    ])
    db.session.commit()
    return list(db.session.scalars(sa.select(Organisation.id).order_by(Organisation.id)))[:count]


def gathering(*, days_from_now: float = 30, capacity: int | None = None, title: str = "Benkmøte",
              status: GatheringStatus = GatheringStatus.PUBLISHED) -> Gathering:
    """A gathering open for registration (or held already, with a negative `days_from_now`)."""
    now = utcnow()
    starts_at = now + timedelta(days=days_from_now)
    created = gatherings.create(
        title=title, format="Frokostmøte", starts_at=starts_at, ends_at=starts_at + timedelta(hours=2),
        venue_name="Ole Bull Scene", venue_address="Øvre Ole Bulls plass 3, 5012 Bergen",
        host="Bergen kommune", description="Om beredskap i Bergen. " * 20, capacity=capacity,
        status=status, now=now - timedelta(days=60), slug=f"benk-{uuid.uuid4().hex[:10]}",
    )
    db.session.commit()
    return created


def registrations(gathering_id: int, count: int, *, domain: str, waiting: int = 0,
                  cancelled: int = 0, checked_in: int = 0, chunk: int = 2000) -> None:
    """`count` registrations: the first `checked_in` confirmed and checked in, then `waiting`
    on the waiting list and `cancelled` cancelled at the end; addresses n@<domain>."""
    now = utcnow()
    orgs = organisations()
    rows = []
    for n in range(count):
        if n >= count - cancelled:
            status = RegistrationStatus.CANCELLED
        elif n >= count - cancelled - waiting:
            status = RegistrationStatus.WAITING
        else:
            status = RegistrationStatus.CONFIRMED
        email = f"p{n}@{domain}"
        rows.append({
            "gathering_id": gathering_id, "organisation_id": orgs[n % len(orgs)],
            "name": f"Deltaker {n:05d} Ås", "sort_name": sort_key(f"Deltaker {n:05d} Ås"),
            "email": email, "email_key": email,
            "job_title": "Rådgiver", "needs": "Vegetar" if n % 10 == 0 else "",
            "comment": "", "consented_at": now, "status": status,
            "waiting_since": now + timedelta(microseconds=n)
            if status == RegistrationStatus.WAITING else None,
            "token": new_token(), "language": "nb", "ical_sequence_bump": 0,
            "created_at": now, "updated_at": now,
            "cancelled_at": now if status == RegistrationStatus.CANCELLED else None,
            "checked_in_at": now if n < checked_in else None,
        })
    for start in range(0, len(rows), chunk):
        db.session.execute(sa.insert(Registration), rows[start:start + chunk])
    db.session.commit()


def sent_and_failed_mail(count: int = 200, failed: int = 5) -> None:
    """Delivered mail (and a few failures) for the mail log and the overview's warning."""
    now = utcnow()
    db.session.execute(sa.insert(OutboxMessage), [
        {"idempotency_key": f"bench-{uuid.uuid4().hex}", "kind": "confirmation",
         "recipient": f"m{n}@bench.test", "subject": "Påmeldt", "stored_message": b"x",
         "status": OutboxStatus.FAILED if n < failed else OutboxStatus.SENT,
         "attempts": 1, "next_attempt_at": now, "created_at": now,
         "sent_at": None if n < failed else now, "transport": "smtp", "last_error": ""}
        for n in range(count)
    ])
    db.session.commit()


def clear_outbox() -> None:
    """Count all pending mail as delivered (between phases: each phase measures its own mail)."""
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                       .values(status=OutboxStatus.SENT, sent_at=utcnow(), claimed_until=None))
    db.session.commit()


def pages_dataset() -> list[Gathering]:
    """20 gatherings with 10,000 registrations between them: 14 upcoming, 6 held."""
    made = []
    for n in range(20):
        past = n >= 14
        made.append(gathering(days_from_now=-10 * (n - 13) if past else 5 + n, capacity=480,
                              title=f"Benkmøte {n + 1}"))
        registrations(made[-1].id, 500, domain=f"s{made[-1].id}.bench", waiting=20 if not past else 0,
                      cancelled=10, checked_in=400 if past else 0)
    sent_and_failed_mail()
    return made
