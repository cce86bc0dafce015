"""A registration's history, and the organisers' audit log."""

from __future__ import annotations

from datetime import datetime

from .extensions import db
from .models import AuditEntry, Gathering, Organiser, Registration, RegistrationEvent


def record(registration: Registration, kind: str, *, now: datetime,
           by: Organiser | None = None, note: str = "") -> RegistrationEvent:
    """Add a line to a registration's history (by=None: the participant or the system)."""
    event = RegistrationEvent(registration=registration, kind=kind, at=now, organiser=by,
                              note=note)
    db.session.add(event)
    return event


def audit(action: str, *, by: Organiser | None, now: datetime,
          gathering: Gathering | None = None, summary: str = "") -> AuditEntry:
    """Add a line to the audit log: who did what, to which gathering, when."""
    entry = AuditEntry(action=action, organiser=by, actor=by.email if by else "system", at=now,
                       gathering=gathering, summary=summary)
    db.session.add(entry)
    return entry


# The fields a change names (registration_events.note for "details_changed" and
# "address_corrected"): codes, shown in the reader's language (admin/registrations.py,
# FIELD_LABELS), never words stored in one language.
CHANGED_FIELDS = ("name", "job_title", "organisation", "needs", "email")


def record_change(registration: Registration, kind: str, *, fields: list[str], now: datetime,
                  by: Organiser | None = None) -> RegistrationEvent:
    """The one way a change to a registration is written to its history (issue 15): the kind
    and the codes of the fields changed, space-separated, in the note."""
    unknown = set(fields) - set(CHANGED_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    return record(registration, kind, now=now, by=by, note=" ".join(fields))
