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
