"""Fair seats (issue 16): a cap per organisation and seats held for a sector.

The rules decide, for one person and the counts of the moment, "may this person take a seat in
the room now, and if not, why". `decide` is pure: it takes the gathering's rules and a tally of
who has a seat, and returns None (a seat) or a `Reason` (wait). rsvp.py asks it, under the
gathering's seat lock, wherever a seat is given: a registration, a registration again, the
waiting list's promotion, an organiser's promotion (which may override it). The rules apply to
the in-person seats (the room): `capacity` is the room's (docs/decisions/0033).

A person gets a seat only if (a) a seat is free, (b) their organisation is under its cap, and
(c) the free seats not held for other sectors suffice: seats held for sector S until D count as
taken for everyone not in S until D, minus those of S who already have a seat.

The reason a person waits is computed when it is told (the mail, the receipt, the manage
page), not stored: it changes as people come and go, and a stored one would soon be wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from babel.dates import format_date
from babel.lists import format_list
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from . import participation
from .clock import from_local
from .extensions import db
from .formatting import local
from .models import (
    AttendanceMode,
    Gathering,
    Organisation,
    Registration,
    RegistrationStatus,
    SeatHold,
    SeatRule,
    Sector,
)

# Why a person waits: stored nowhere but the receipt's session cookie; put into words by
# `describe` in the reader's language.
FULL = "full"
ORGANISATION_CAP = "organisation_cap"
HELD = "held"


@dataclass(frozen=True)
class Hold:
    """`seats` held for `sector` until the instant `until`."""

    sector: Sector
    seats: int
    until: datetime

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class Rules:
    """A gathering's seat rules: no cap and no holds is the plain first come, first served."""

    capacity: int | None
    organisation_cap: int | None = None
    holds: tuple[Hold, ...] = ()

    @property
    def any(self) -> bool:
        return self.organisation_cap is not None or bool(self.holds)


@dataclass
class Tally:
    """Who has a seat: in all, per organisation (id) and per sector."""

    total: int = 0
    by_organisation: Counter = field(default_factory=Counter)
    by_sector: Counter = field(default_factory=Counter)

    def take(self, organisation_id: int, sector: Sector) -> None:
        self.total += 1
        self.by_organisation[organisation_id] += 1
        self.by_sector[sector] += 1


@dataclass(frozen=True)
class Reason:
    """Why a person waits: `code` (FULL, ORGANISATION_CAP, HELD), the cap, the blocking holds."""

    code: str
    cap: int | None = None
    holds: tuple[Hold, ...] = ()

    def to_json(self) -> list:
        """Short plain data for the receipt kept in the session cookie: the code, the cap and
        the sectors of the holds (their dates are read again when the receipt is shown)."""
        return [self.code, self.cap, [hold.sector.value for hold in self.holds]]

    @classmethod
    def from_json(cls, data, gathering: Gathering) -> Reason | None:
        """`to_json`'s data back, with the gathering's holds of those sectors; None if unreadable."""
        try:
            code, cap, sectors = data
            sectors = {Sector(sector) for sector in sectors}
        except (TypeError, ValueError):
            return None
        if code not in {FULL, ORGANISATION_CAP, HELD}:
            return None
        holds = tuple(hold for hold in rules_of(gathering).holds if hold.sector in sectors)
        return cls(code, cap if isinstance(cap, int) else None, holds)


# --- the rules (pure) --------------------------------------------------------------------------


def unfilled(rules: Rules, tally: Tally, now: datetime) -> list[tuple[Hold, int]]:
    """The active holds and the seats of each still held (not yet taken by the sector)."""
    return [(hold, max(hold.seats - tally.by_sector[hold.sector], 0))
            for hold in rules.holds if hold.active(now)]


def decide(rules: Rules, tally: Tally, *, organisation_id: int, sector: Sector,
           now: datetime) -> Reason | None:
    """None if this person may take a seat now; else why they wait."""
    if rules.capacity is not None and tally.total >= rules.capacity:
        return Reason(FULL)
    if rules.organisation_cap is not None \
            and tally.by_organisation[organisation_id] >= rules.organisation_cap:
        return Reason(ORGANISATION_CAP, cap=rules.organisation_cap)
    if rules.capacity is not None:
        others = [(hold, left) for hold, left in unfilled(rules, tally, now)
                  if hold.sector != sector and left > 0]
        if rules.capacity - tally.total - sum(left for _hold, left in others) <= 0:
            return Reason(HELD, holds=tuple(sorted((hold for hold, _left in others),
                                                   key=lambda h: (h.until, h.sector.value))))
    return None


# --- reading the counts (under the caller's lock) ----------------------------------------------


def room(gathering: Gathering) -> AttendanceMode:
    """The mode the rules apply to: the room (an online gathering's only mode is its seats)."""
    return participation.modes_of(gathering)[0]


def rules_of(gathering: Gathering) -> Rules:
    """The gathering's rules, read from the database."""
    with db.session.no_autoflush:
        cap = db.session.scalar(sa.select(SeatRule.organisation_cap)
                                .where(SeatRule.gathering_id == gathering.id))
        holds = tuple(Hold(row.sector, row.seats, row.held_until) for row in db.session.scalars(
            sa.select(SeatHold).where(SeatHold.gathering_id == gathering.id)
            .order_by(SeatHold.held_until, SeatHold.sector)))
    return Rules(participation.capacity_in_mode(gathering, room(gathering)), cap, holds)


def tally_of(gathering: Gathering) -> Tally:
    """Who has a seat now, per organisation and sector (the sector is the organisation's)."""
    tally = Tally()
    with db.session.no_autoflush:
        rows = db.session.execute(
            sa.select(Registration.organisation_id, Organisation.sector, sa.func.count())
            .join(Organisation, Registration.organisation_id == Organisation.id)
            .where(Registration.gathering_id == gathering.id,
                   Registration.status == RegistrationStatus.CONFIRMED,
                   participation.in_mode(gathering, room(gathering)))
            .group_by(Registration.organisation_id, Organisation.sector))
        for organisation_id, sector, count in rows:
            tally.total += count
            tally.by_organisation[organisation_id] += count
            tally.by_sector[sector] += count
    return tally


def may_take_seat(gathering: Gathering, organisation: Organisation, *, now: datetime,
                  free: int | None, mode: AttendanceMode | None = None) -> Reason | None:
    """For rsvp.py, under the seat lock: None if this person of `organisation` may take a seat
    in `mode` (None: the room) now, else why not. `free` is the seats left in that mode by the
    plain count (None: no limit): with no rules, or online beside a room, that decides alone."""
    rules = rules_of(gathering)
    if not rules.any or (mode is not None and mode != room(gathering)):
        return None if free is None or free > 0 else Reason(FULL)
    return decide(rules, tally_of(gathering), organisation_id=organisation.id,
                  sector=organisation.sector, now=now)


def why_waiting(registration: Registration, *, now: datetime) -> Reason | None:
    """Why a person on the waiting list waits now (None: not waiting). Someone the rules would
    let in now waits only for the next promotion: told "full", as before the rules."""
    if registration.status != RegistrationStatus.WAITING:
        return None
    gathering = registration.gathering
    rules = rules_of(gathering)
    if not rules.any or participation.mode_of(registration) != room(gathering):
        return Reason(FULL)
    return decide(rules, tally_of(gathering), organisation_id=registration.organisation_id,
                  sector=registration.organisation.sector, now=now) or Reason(FULL)


def open_holds(gathering: Gathering, *, now: datetime) -> list[tuple[Hold, int]]:
    """For the gathering's page: the holds still in force, with the seats each still holds."""
    rules = rules_of(gathering)
    if not rules.holds or rules.capacity is None:
        return []
    return [(hold, left) for hold, left in unfilled(rules, tally_of(gathering), now) if left > 0]


# --- words -------------------------------------------------------------------------------------


def sector_group(sector: Sector) -> str:
    """The sector as a group of organisations, for "held for …"."""
    return {
        Sector.PUBLIC: _("offentlige virksomheter"),
        Sector.PRIVATE: _("private virksomheter"),
        Sector.NON_PROFIT: _("ideelle organisasjoner"),
        Sector.VOLUNTEER: _("frivillige organisasjoner"),
    }[sector]


# The date a hold ends, as the language writes it (formatting.py's dates without the weekday).
_DAY_PATTERNS = {"en": "d MMMM y"}


def day_of(instant: datetime) -> str:
    """The date a hold ends, e.g. "1. juni 2027" ("1 June 2027"), in the current language."""
    locale = get_locale()
    return format_date(local(instant), _DAY_PATTERNS.get(locale.language, "d. MMMM y"),
                       locale=locale)


def held_text(hold: Hold, seats: int) -> str:
    """E.g. "5 plasser holdes av til frivillige organisasjoner til 1. juni 2027"."""
    return ngettext("%(num)s plass holdes av til %(group)s til %(date)s.",
                    "%(num)s plasser holdes av til %(group)s til %(date)s.", seats,
                    group=sector_group(hold.sector), date=day_of(hold.until))


def describe(reason: Reason | None) -> str:
    """Why a person waits, as a sentence in the current language ("" for none)."""
    if reason is None:
        return ""
    if reason.code == ORGANISATION_CAP:
        return ngettext("Hver virksomhet kan få høyst %(num)s plass, og virksomheten din har "
                        "allerede fått den.",
                        "Hver virksomhet kan få høyst %(num)s plasser, og virksomheten din har "
                        "allerede fått dem.", reason.cap or 0)
    if reason.code == HELD and reason.holds:  # (the holds may be gone since the receipt)
        groups = [_("%(group)s til %(date)s", group=sector_group(hold.sector),
                    date=day_of(hold.until)) for hold in reason.holds]
        return _("De ledige plassene holdes av til %(groups)s.",
                 groups=format_list(groups, locale=get_locale()))
    return _("Samlingen er full.")


def describe_for_organisers(reason: Reason) -> str:
    """Why the rules keep a person waiting, for the organiser about to override them."""
    if reason.code == ORGANISATION_CAP:
        return ngettext("Virksomheten har nådd grensen på %(num)s plass per virksomhet.",
                        "Virksomheten har nådd grensen på %(num)s plasser per virksomhet.",
                        reason.cap or 0)
    return describe(reason)


# --- copying the rules -----------------------------------------------------------------------


def copy_rules(original: Gathering, copy: Gathering) -> None:
    """A copy of a gathering gets its seat rules, each hold the same time before the start as in
    the original (as the deadline: docs/decisions/0021)."""
    rules = rules_of(original)
    if rules.organisation_cap is not None:
        db.session.add(SeatRule(gathering_id=copy.id, organisation_cap=rules.organisation_cap))
    # In wall time: a hold to midnight stays at midnight across a change to or from summer time.
    days = local(copy.starts_at).date() - local(original.starts_at).date()
    zone = local(original.starts_at).tzinfo
    db.session.add_all(SeatHold(
        gathering_id=copy.id, sector=hold.sector, seats=hold.seats,
        held_until=from_local(local(hold.until).replace(tzinfo=None) + days, zone))
        for hold in rules.holds)
    db.session.flush()
