"""Finding gatherings: what is coming, what has been, and one by its address."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _
from flask_babel import ngettext

from . import history, participation, programme, questions, rsvp, seat_rules, stored_text, webhooks
from .clock import from_local
from .errors import DomainError
from .extensions import db
from .formatting import _zone, local
from .links import base_host
from .models import (
    Gathering,
    GatheringLink,
    GatheringMode,
    GatheringStatus,
    Organiser,
    Registration,
    RegistrationStatus,
)
from .stored_text import Stored, joined, said

VISIBLE = (GatheringStatus.PUBLISHED, GatheringStatus.POSTPONED, GatheringStatus.CANCELLED)


def upcoming(now: datetime) -> list[Gathering]:
    """Public gatherings that have not ended, soonest first (a postponed one by its old date)."""
    return list(db.session.scalars(
        sa.select(Gathering)
        .where(Gathering.status.in_(VISIBLE), Gathering.ends_at > now)
        .order_by(Gathering.starts_at)
    ))


def seats_left_by_gathering(found: list[Gathering]) -> dict[int, int | None]:
    """Free seats of each gathering (None: no limit), counted in one query for a list of cards."""
    ids = [gathering.id for gathering in found if gathering.capacity is not None]
    taken = dict(db.session.execute(
        sa.select(Registration.gathering_id, sa.func.count())
        .where(Registration.gathering_id.in_(ids),
               Registration.status == RegistrationStatus.CONFIRMED)
        .group_by(Registration.gathering_id)).all())  # one query even for none (constant count)
    left = {gathering.id: None if gathering.capacity is None
            else max(gathering.capacity - taken.get(gathering.id, 0), 0) for gathering in found}
    for gathering in found:  # a hybrid one's seats are counted per mode (participation.py)
        if gathering.mode == GatheringMode.HYBRID:
            left[gathering.id] = participation.seats_left_overall(gathering)
    return left


def archive(now: datetime) -> list[Gathering]:
    """Public gatherings that have ended, most recent first."""
    return list(db.session.scalars(
        sa.select(Gathering)
        .where(Gathering.status.in_(VISIBLE), Gathering.ends_at <= now)
        .order_by(Gathering.starts_at.desc())
    ))


def get_public_or_404(slug: str) -> Gathering:
    """The published (or postponed, or cancelled) gathering at `slug`, or 404."""
    gathering = db.session.scalar(sa.select(Gathering).where(Gathering.slug == slug))
    if gathering is None or gathering.status not in VISIBLE:
        abort(404)
    return gathering


def slugify(text: str) -> str:
    """A readable URL part: "Frokostmøte på Ørnen" → "frokostmote-pa-ornen"."""
    folded = text.lower().translate(str.maketrans({"æ": "ae", "ø": "o", "å": "a"}))
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:80] or "samling"


def unique_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3`… if taken."""
    slug, n = base, 1
    while db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create(*, title: str, format: str, starts_at: datetime, ends_at: datetime,
           venue_name: str, now: datetime, slug: str | None = None, **details) -> Gathering:
    """A new gathering (a draft unless `status` says otherwise) with its own calendar UID."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if ends_at <= starts_at:
        raise DomainError(_("Slutttidspunktet må være etter starttidspunktet."))
    gathering = Gathering(
        slug=unique_slug(slug or slugify(f"{starts_at:%Y-%m-%d} {title}")),
        title=title,
        format=format,
        starts_at=starts_at,
        ends_at=ends_at,
        venue_name=venue_name,
        ical_uid=f"{uuid.uuid4()}@{base_host()}",
        ical_sequence=0,
        created_at=now,
        updated_at=now,
        **details,
    )
    db.session.add(gathering)
    db.session.flush()
    return gathering


# --- for organisers ------------------------------------------------------------------------------

# Fields an organiser may change at any time; SCHEDULE only while the gathering is a draft
# (afterwards a move, with calendar updates to everyone registered, see lifecycle).
EDITABLE = ("title", "theme", "format", "description", "host", "capacity",
            "registration_deadline", "reminder_days_before",
            # participation modes (participation.py)
            "mode", "online_capacity", "meeting_url", "meeting_details")
SCHEDULE = ("starts_at", "ends_at", "venue_name", "venue_address")
@dataclass(frozen=True)
class Counts:
    """How many registrations a gathering has in each state, and how many came."""

    confirmed: int = 0
    waiting: int = 0
    cancelled: int = 0
    attended: int = 0


class CapacityBelowConfirmed(DomainError):
    """The new capacity is below the number who already have a seat: ask before saving."""

    def __init__(self, capacity: int, confirmed: int):
        super().__init__(
            ngettext("%(num)s person har allerede plass, og du setter antall plasser til %(capacity)s.",
                     "%(num)s personer har allerede plass, og du setter antall plasser til %(capacity)s.",
                     confirmed, capacity=capacity)
            + " " + _("Ingen mister plassen sin: alle som er påmeldt, beholder den. Nye påmeldinger "
                      "kommer på venteliste til antallet med plass er under den nye grensen.")
        )
        self.capacity = capacity
        self.confirmed = confirmed


def for_admin(now: datetime) -> tuple[list[Gathering], list[Gathering]]:
    """All gatherings: drafts and those not yet over (soonest first), then the past ones."""
    everything = list(db.session.scalars(sa.select(Gathering).order_by(Gathering.starts_at)))
    current = [g for g in everything if g.status == GatheringStatus.DRAFT or not g.is_past(now)]
    past = [g for g in reversed(everything) if g.status != GatheringStatus.DRAFT and g.is_past(now)]
    return current, past


def registration_counts(gathering_ids: list[int] | None = None) -> dict[int, Counts]:
    """Counts per gathering id (all gatherings, or those in `gathering_ids`)."""
    query = (sa.select(Registration.gathering_id, Registration.status, sa.func.count(),
                       sa.func.count(Registration.checked_in_at))
             .group_by(Registration.gathering_id, Registration.status))
    if gathering_ids is not None:
        query = query.where(Registration.gathering_id.in_(gathering_ids))
    tallies: dict[int, dict[str, int]] = {}
    for gathering_id, status, count, attended in db.session.execute(query):
        tally = tallies.setdefault(gathering_id, {"attended": 0})
        tally[{RegistrationStatus.CONFIRMED: "confirmed", RegistrationStatus.WAITING: "waiting",
               RegistrationStatus.CANCELLED: "cancelled"}[status]] = count
        tally["attended"] += attended
    return {gathering_id: Counts(**tally) for gathering_id, tally in tallies.items()}


def counts(gathering: Gathering) -> Counts:
    """The registration counts of one gathering."""
    return registration_counts([gathering.id]).get(gathering.id, Counts())


def _slug_base(title: str, starts_at: datetime) -> str:
    return slugify(f"{local(starts_at):%Y-%m-%d} {title}")


def _check_rules(*, starts_at: datetime, ends_at: datetime, deadline: datetime | None,
                 capacity: int | None) -> None:
    if ends_at <= starts_at:
        raise DomainError(_("Slutttidspunktet må være etter starttidspunktet."))
    if deadline is not None and deadline >= starts_at:
        raise DomainError(_("Påmeldingsfristen må være før samlingen starter."))
    if capacity is not None and capacity < 0:
        raise DomainError(_("Antall plasser kan ikke være negativt."))


def create_draft(details: dict, *, now: datetime, by: Organiser | None) -> Gathering:
    """A new draft from an organiser's form (`details`: the EDITABLE and SCHEDULE fields)."""
    _check_rules(starts_at=details["starts_at"], ends_at=details["ends_at"],
                 deadline=details.get("registration_deadline"), capacity=details.get("capacity"))
    participation.check_capacities(details.get("mode", "in_person"), details.get("online_capacity"))
    if "meeting_url" in details:
        details = {**details, "meeting_url": participation.check_meeting_url(details["meeting_url"])}
    gathering = create(slug=_slug_base(details["title"], details["starts_at"]), now=now,
                       status=GatheringStatus.DRAFT, **details)
    history.audit("create", by=by, now=now, gathering=gathering,
                  summary=said("gathering_created", title=gathering.title))
    return gathering


# What a copy takes over (docs/decisions/0021-copying-a-gathering.md): the format and words,
# the place, the capacity and the reminder; the programme, moved to the same times of the new
# day (programme.copied). Not the date (the copy needs its own), not the
# registrations, the mail, the calendar identity, the status or the material links (those
# belong to the gathering that was held).
COPIED = ("title", "theme", "format", "description", "host", "capacity", "reminder_days_before",
          "venue_name", "venue_address",
          # the mode and the online seats, not the meeting link or its details (decision 0031)
          "mode", "online_capacity")
# How far ahead a copy's provisional date lies: whole weeks after the original, at the same
# time of day, so it is never in the past and the organiser sees at once it must be set.
_COPY_STEP = timedelta(weeks=1)


def copy(original: Gathering, *, now: datetime, by: Organiser | None) -> Gathering:
    """A new draft like `original`, on a provisional date: the same weekday and wall-clock time
    one or more whole weeks later, at least a week from `now`. The length and a deadline's
    distance before the start are kept."""
    wall = local(original.starts_at).replace(tzinfo=None)
    weeks = max(1, (now - original.starts_at) // _COPY_STEP)
    while from_local(wall + weeks * _COPY_STEP, _zone()) < now + _COPY_STEP:
        weeks += 1
    starts_at = from_local(wall + weeks * _COPY_STEP, _zone())
    ends_at = starts_at + (original.ends_at - original.starts_at)
    deadline = None
    if original.registration_deadline is not None:
        deadline = starts_at - (original.starts_at - original.registration_deadline)
    details = {name: getattr(original, name) for name in COPIED}
    gathering = create(slug=_slug_base(original.title, starts_at), now=now,
                       status=GatheringStatus.DRAFT, starts_at=starts_at, ends_at=ends_at,
                       registration_deadline=deadline, **details)
    # The programme too, at the same time of the new day.
    gathering.programme.extend(
        programme.copied(original.programme, original.starts_at, starts_at, _zone()))
    seat_rules.copy_rules(original, gathering)  # issue 16: the cap and the holds, shifted
    # And the organisers' own questions for the registration form, without anyone's answers.
    questions.copy_all(original, gathering, now=now)
    history.audit("create", by=by, now=now, gathering=gathering,
                  summary=said("gathering_copied", title=original.title))
    return gathering


def update(gathering: Gathering, changes: dict, *, now: datetime, by: Organiser | None,
           allow_capacity_below_confirmed: bool = False) -> list[Registration]:
    """Change a gathering's details; returns those a raised capacity gave a seat.

    Nobody ever loses a seat here: a capacity below the number already confirmed only stops
    new seats being given (and needs `allow_capacity_below_confirmed`).
    """
    unknown = set(changes) - set(EDITABLE) - set(SCHEDULE)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    rsvp.lock_gathering(gathering)
    changed = {name: value for name, value in changes.items() if getattr(gathering, name) != value}
    if gathering.status != GatheringStatus.DRAFT and changed.keys() & set(SCHEDULE):
        raise DomainError(_("Tid og sted for en publisert samling endres med «Flytt samlingen», "
                            "så de påmeldte får beskjed og kalenderen deres blir oppdatert."))
    capacity = changed.get("capacity", gathering.capacity)
    _check_rules(starts_at=changed.get("starts_at", gathering.starts_at),
                 ends_at=changed.get("ends_at", gathering.ends_at),
                 deadline=changed.get("registration_deadline", gathering.registration_deadline),
                 capacity=capacity)
    if not changed:
        return []
    if "mode" in changed or "online_capacity" in changed:
        participation.check_capacities(changed.get("mode", gathering.mode),
                                       changed.get("online_capacity", gathering.online_capacity))
        participation.check_mode_change(gathering, changed.get("mode", gathering.mode))
    if "meeting_url" in changed:
        changed["meeting_url"] = participation.check_meeting_url(changed["meeting_url"])
    if "capacity" in changed and capacity is not None:
        # `capacity` is the room's (an online gathering's: its only) seats
        confirmed = participation.confirmed_count_in_mode(gathering,
                                                          participation.modes_of(gathering)[0])
        if capacity < confirmed and not allow_capacity_below_confirmed:
            raise CapacityBelowConfirmed(capacity, confirmed)
    old_capacity = gathering.capacity
    if "starts_at" in changed:  # a draft's new date: its programme keeps its place in the day
        programme.follow_the_start(gathering, changed["starts_at"], _zone())
    for name, value in changed.items():
        setattr(gathering, name, value)
    if gathering.status == GatheringStatus.DRAFT and changed.keys() & {"title", "starts_at"}:
        gathering.slug = unique_slug(_slug_base(gathering.title, gathering.starts_at))
    gathering.updated_at = now
    db.session.flush()
    promoted = []
    if (changed.keys() & {"capacity", "online_capacity", "mode"}
            and gathering.status == GatheringStatus.PUBLISHED):
        promoted = rsvp.promote_from_waiting_list(gathering, now=now, by=by)
    if changed.keys() & {"meeting_url", "meeting_details"}:
        # Only those a new link or new details concern: confirmed online participants.
        rsvp.send_new_meeting_link(gathering, now=now)
    fields = joined([stored_text.label("field", name) for name in changed], ", ")
    code = "gathering_edited" + ("_capacity" if "capacity" in changed else "") + (
        "_promoted" if promoted else "")
    extra = {"before": _capacity_text(old_capacity), "after": _capacity_text(capacity)} \
        if "capacity" in changed else {}
    if promoted:
        extra["promoted"] = len(promoted)
    history.audit("edit", by=by, now=now, gathering=gathering,
                  summary=said(code, fields=fields, **extra))
    if gathering.status != GatheringStatus.DRAFT:  # a draft is nobody's business outside yet
        webhooks.enqueue("gathering.changed", webhooks.changed_gathering_data(gathering, "edited"),
                         now=now)
    return promoted


def _capacity_text(capacity: int | None) -> Stored | int:
    return said("unlimited") if capacity is None else capacity


def publish(gathering: Gathering, *, now: datetime, by: Organiser | None) -> bool:
    """Make a draft public; False if it was already published (a double click)."""
    rsvp.lock_gathering(gathering)
    if gathering.status == GatheringStatus.PUBLISHED:
        return False
    if gathering.status != GatheringStatus.DRAFT:
        raise DomainError(_("Bare et utkast kan publiseres."))
    gathering.status = GatheringStatus.PUBLISHED
    gathering.published_at = now
    gathering.updated_at = now
    history.audit("publish", by=by, now=now, gathering=gathering,
                  summary=said("gathering_published", title=gathering.title))
    db.session.flush()
    return True


def add_link(gathering: Gathering, *, label: str, url: str, now: datetime,
             by: Organiser | None) -> GatheringLink:
    """Add a link to a recording, slides or other material, after the others."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise DomainError(_("Lenken må være en nettadresse som begynner med https:// eller http://."))
    position = max((link.position for link in gathering.links), default=0) + 1
    link = GatheringLink(label=label, url=url, position=position)
    gathering.links.append(link)
    gathering.updated_at = now
    history.audit("add_material", by=by, now=now, gathering=gathering,
                  summary=said("material_added", label=label, url=url))
    db.session.flush()
    return link


def remove_link(link: GatheringLink, *, now: datetime, by: Organiser | None) -> None:
    """Remove a material link."""
    gathering = link.gathering
    gathering.links.remove(link)
    gathering.updated_at = now
    history.audit("remove_material", by=by, now=now, gathering=gathering,
                  summary=said("material_removed", label=link.label))
    db.session.flush()
