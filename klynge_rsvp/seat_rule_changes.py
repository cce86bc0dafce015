"""Changing a gathering's seat rules (the organisers' page), and the periodic job that gives the
seats an ended sector hold kept to the waiting list (issue 16, docs/decisions/0033).

The rules themselves, pure, are in seat_rules.py, which rsvp.py asks; this module asks rsvp.py
back (the seat lock, the promotion), so it is kept apart to leave no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from . import history, rsvp
from .errors import DomainError
from .extensions import db
from .formatting import local
from .models import (
    Gathering,
    GatheringStatus,
    Organiser,
    Registration,
    RegistrationStatus,
    SeatHold,
    SeatRule,
)
from .seat_rules import Hold, rules_of, sector_group
from .stored_text import Stored, joined, label, said


@dataclass(frozen=True)
class Change:
    """What the organiser's form says: the cap (None: none) and the holds, one per sector."""

    organisation_cap: int | None
    holds: tuple[Hold, ...] = ()


def change(gathering: Gathering, wanted: Change, *, now: datetime,
           by: Organiser | None) -> list[Registration]:
    """Set a gathering's seat rules (audited). Looser rules give free seats to the waiting list
    at once; returns those promoted. Nobody ever loses a seat here."""
    rsvp.lock_gathering(gathering)
    sectors = [hold.sector for hold in wanted.holds]
    if len(set(sectors)) != len(sectors):
        raise DomainError(_("Hver sektor kan bare ha én avholdt plassmengde."))
    if wanted.holds and gathering.capacity is None:
        raise DomainError(_("Samlingen har ingen grense på antall plasser, så det er ingen "
                            "plasser å holde av. Sett antall plasser først."))
    held = sum(hold.seats for hold in wanted.holds)
    if gathering.capacity is not None and held > gathering.capacity:
        raise DomainError(_("Det er holdt av %(held)s plasser, men samlingen har bare "
                            "%(capacity)s.", held=held, capacity=gathering.capacity))
    for hold in wanted.holds:
        if hold.until > gathering.starts_at:
            raise DomainError(_("Plasser kan bare holdes av til før samlingen starter (%(sector)s).",
                                sector=sector_group(hold.sector)))
    before = rules_of(gathering)
    if (before.organisation_cap, before.holds) == (wanted.organisation_cap,
                                                   tuple(sorted(wanted.holds, key=_order))):
        return []
    rule = db.session.get(SeatRule, gathering.id)
    if wanted.organisation_cap is None:
        if rule is not None:
            db.session.delete(rule)
    elif rule is None:
        db.session.add(SeatRule(gathering_id=gathering.id,
                                organisation_cap=wanted.organisation_cap))
    else:
        rule.organisation_cap = wanted.organisation_cap
    db.session.execute(sa.delete(SeatHold).where(SeatHold.gathering_id == gathering.id))
    db.session.flush()
    db.session.add_all(SeatHold(gathering_id=gathering.id, sector=hold.sector, seats=hold.seats,
                                held_until=hold.until) for hold in wanted.holds)
    db.session.flush()
    history.audit("seat_rules", by=by, now=now, gathering=gathering,
                  summary=_summary(wanted))
    return rsvp.promote_from_waiting_list(gathering, now=now, by=by)


def _order(hold: Hold):
    return (hold.until, hold.sector.value)


def _summary(wanted: Change) -> Stored:
    holds = [said("seat_hold", seats=hold.seats, sector=label("sector", hold.sector, lower=True),
                  until=local(hold.until).date().isoformat())
             for hold in sorted(wanted.holds, key=_order)]
    return said("seat_rules_changed",
                cap=wanted.organisation_cap if wanted.organisation_cap is not None
                else said("unlimited"),
                holds=joined(holds, ", ") if holds else said("seat_holds_none"))


def with_expired_holds(*, now: datetime) -> list[int]:
    """Upcoming published gatherings with a hold that has ended and someone waiting: the
    periodic job gives them the seats the holds kept (idempotent: promotion only fills seats
    the rules allow)."""
    waiting = sa.select(Registration.id).where(
        Registration.gathering_id == Gathering.id,
        Registration.status == RegistrationStatus.WAITING).exists()
    return list(db.session.scalars(
        sa.select(Gathering.id).distinct()
        .join(SeatHold, SeatHold.gathering_id == Gathering.id)
        .where(SeatHold.held_until <= now, Gathering.status == GatheringStatus.PUBLISHED,
               Gathering.starts_at > now, waiting)
        .order_by(Gathering.id)))


def open_expired_holds(gathering: Gathering, *, now: datetime) -> list[Registration]:
    """Give the seats an ended hold kept to the waiting list, under the seat lock."""
    rsvp.lock_gathering(gathering)
    return rsvp.promote_from_waiting_list(gathering, now=now)


def run_open_expired_holds() -> int:
    """The periodic job (worker.py): each gathering in its own transaction. Returns how many
    got a seat."""
    from .clock import utcnow

    promoted = 0
    for gathering_id in with_expired_holds(now=utcnow()):
        gathering = db.session.get(Gathering, gathering_id)
        promoted += len(open_expired_holds(gathering, now=utcnow()))
        db.session.commit()
    return promoted
