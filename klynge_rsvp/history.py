"""A registration's history, and the organisers' audit log."""

from __future__ import annotations

from datetime import datetime

from . import stored_text
from .extensions import db
from .models import AuditEntry, Gathering, Organiser, Registration, RegistrationEvent
from .stored_text import Stored


def record(registration: Registration, kind: str, *, now: datetime,
           by: Organiser | None = None, note: Stored | str = "") -> RegistrationEvent:
    """Add a line to a registration's history (by=None: the participant or the system).

    `note`: a stored text (stored_text.said), or what an organiser typed.
    """
    event = RegistrationEvent(registration=registration, kind=kind, at=now, organiser=by)
    stored_text.store(event, "note", note)
    db.session.add(event)
    return event


def audit(action: str, *, by: Organiser | None, now: datetime,
          gathering: Gathering | None = None, summary: Stored | str = "") -> AuditEntry:
    """Add a line to the audit log: who did what, to which gathering, when.

    `summary`: a stored text (stored_text.said), or plain data such as an address.
    """
    entry = AuditEntry(action=action, organiser=by, actor=by.email if by else "system", at=now,
                       gathering=gathering)
    stored_text.store(entry, "summary", summary)
    db.session.add(entry)
    return entry


# The fields a change names (registration_events.note for "details_changed" and
# "address_corrected"): codes, shown in the reader's language (labels.REGISTRATION_FIELD_LABELS
# through stored_text), never words stored in one language.
CHANGED_FIELDS = ("name", "job_title", "organisation", "needs", "email", "mode")


def record_change(registration: Registration, kind: str, *, fields: list[str], now: datetime,
                  by: Organiser | None = None) -> RegistrationEvent:
    """The one way a change to a registration is written to its history (issue 15): the kind,
    and the fields changed as a stored text of label codes (shown in the reader's language)."""
    unknown = set(fields) - set(CHANGED_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    return record(registration, kind, now=now, by=by,
                  note=stored_text.said("note_fields_changed", fields=fields_param(fields)))


def fields_param(fields: list[str]) -> dict:
    """The names of changed fields as one stored-text parameter ("navn, stilling")."""
    return stored_text.joined([stored_text.label("registration_field", name) for name in fields], ", ")


def changed_fields(event: RegistrationEvent) -> list[str]:
    """The field codes a "details_changed" or "address_corrected" line names."""
    if event.note_code != "note_fields_changed":
        return []
    return [part["value"] for part in (event.note_params or {})["fields"]["join"]]
