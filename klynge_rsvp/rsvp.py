"""Registering, cancelling, and the waiting list.

Seats are counted and taken under a lock on the gathering: a row lock on PostgreSQL, the write
transaction on SQLite (see database.py), so two people can never both take the last seat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from . import (
    addresses,
    calendars,
    history,
    notifications,
    organisations,
    participation,
    seat_rules,
    webhooks,
)
from .errors import DomainError, RegistrationClosed
from .extensions import db
from .mail import outbox
from .mail.outbox import ComposedMail
from .models import (
    AttendanceMode,
    Gathering,
    GatheringMode,
    GatheringStatus,
    Organisation,
    Organiser,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Sector,
)
from .stored_text import label, said
from .stored_text import person as stored_person


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    job_title: str = ""
    needs: str = ""  # this person's own; RegistrationRequest.needs is for everyone in it
    mode: str | None = None  # in the room or online, on a hybrid gathering (participation.py)


@dataclass(frozen=True)
class RegistrationRequest:
    """What a registration form says: the person, any colleagues, and their organisation."""

    person: Person
    organisation_name: str
    sector: Sector
    consent: bool
    org_number: str | None = None
    needs: str = ""
    comment: str = ""
    colleagues: list[Person] = field(default_factory=list)
    language: str = "nb"


@dataclass(frozen=True)
class Outcome:
    """What became of one person in a registration request."""

    registration: Registration
    already_registered: bool = False


def email_key(address: str) -> str:
    """An address folded for comparison: one registration per address and gathering
    (`ola@bølle.no` and `ola@xn--blle-gra.no` are one; addresses.key)."""
    return addresses.key(address)


def _refuse_the_organisers_address(people: list[Person]) -> None:
    """ORGANIZER = ATTENDEE makes calendar programs treat the invitation as the person's own
    meeting (no Accept/Decline, a cancellation deletes it silently)."""
    organiser = email_key(calendars.organizer()[1])
    for person in people:
        if email_key(person.email) == organiser:
            raise DomainError(_("%(email)s er adressen invitasjonene sendes fra, og kan ikke "
                                "meldes på.", email=person.email))


def lock_gathering(gathering: Gathering) -> None:
    """Serialise seat-taking for this gathering and reload its current state."""
    db.session.refresh(gathering, with_for_update=True)


def confirmed_count(gathering: Gathering) -> int:
    """Seats taken."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            Registration.gathering_id == gathering.id,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
    )


def seats_left(gathering: Gathering) -> int | None:
    """Free seats, or None when the gathering has no capacity limit (a hybrid gathering: in
    all its modes together, participation.seats_left_overall)."""
    if gathering.mode == GatheringMode.HYBRID:
        return participation.seats_left_overall(gathering)
    if gathering.capacity is None:
        return None
    return max(gathering.capacity - confirmed_count(gathering), 0)


def waiting_position(registration: Registration) -> int | None:
    """1 for the first on the waiting list; None when not waiting."""
    if registration.status != RegistrationStatus.WAITING:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count()).where(
            Registration.gathering_id == registration.gathering_id,
            Registration.status == RegistrationStatus.WAITING,
            # each mode has its own list
            participation.in_mode(registration.gathering, participation.mode_of(registration)),
            sa.or_(
                Registration.waiting_since < registration.waiting_since,
                sa.and_(Registration.waiting_since == registration.waiting_since,
                        Registration.id < registration.id),
            ),
        )
    )
    return ahead + 1


def last_in_line(gathering: Gathering, *, now: datetime) -> datetime:
    """The waiting_since that puts a newcomer last on the waiting list (caller holds the lock).

    The list is ordered by waiting_since, then id. A request's `now` is taken before it waits
    for the gathering lock, so under a rush a request can reach the list later than one with a
    later `now`; ordered by its own `now` it would step in ahead of people already told their
    number. Joining after the last one keeps the list in the order people were told.
    """
    with db.session.no_autoflush:  # the caller's new registration is not ready to be written
        last = db.session.scalar(sa.select(sa.func.max(Registration.waiting_since)).where(
            Registration.gathering_id == gathering.id,
            Registration.status == RegistrationStatus.WAITING))
    return now if last is None or now > last else last + timedelta(microseconds=1)


def register(gathering: Gathering, request: RegistrationRequest, *, now: datetime,
             by: Organiser | None = None,
             may_resend_link: Callable[[str], bool] | None = None) -> list[Outcome]:
    """Register the person and their colleagues: a seat each while seats last, then the list.

    Each new registration gets its mail; a colleague's says who registered them. Someone
    already registered keeps their registration: the person filling in the form is sent their
    link again when `may_resend_link(email_key)` allows (None: always), a colleague nothing
    (nothing changed for them, and they did not ask). Every mail has a "not me" link.
    `by` is the organiser registering someone on their behalf (None: the person themselves).
    """
    if not request.consent:
        raise DomainError(_("Du må samtykke til at vi lagrer opplysningene for å melde deg på."))
    people = [request.person, *request.colleagues]
    _refuse_the_organisers_address(people)
    keys = [email_key(p.email) for p in people]
    if len(set(keys)) != len(keys):
        raise DomainError(_("Den samme e-postadressen står flere ganger i påmeldingen."))

    lock_gathering(gathering)
    if not gathering.registration_open(now):
        raise RegistrationClosed(_("Påmeldingen til denne samlingen er stengt."))
    modes = [participation.mode_for(gathering, p.mode) for p in people]
    organisation = organisations.find_or_create(
        request.organisation_name, request.sector, request.org_number, now=now
    )
    free = participation.seats_left_by_mode(gathering)
    outcomes: list[Outcome] = []
    registered_by: Registration | None = None
    for person, key, mode in zip(people, keys, modes, strict=True):
        existing = db.session.scalar(
            sa.select(Registration).where(
                Registration.gathering_id == gathering.id, Registration.email_key == key
            )
        )
        if existing is not None and existing.status != RegistrationStatus.CANCELLED:
            # Composed whether it goes or not: the answer takes about as long for an address
            # registered before as for a new one (composing is most of the work).
            mail = notifications.compose_already_registered(
                existing, position=waiting_position(existing), now=now)
            if person is request.person and (may_resend_link is None or may_resend_link(key)):
                _resend_link(existing, mail, now=now)
            outcomes.append(Outcome(existing, already_registered=True))
            registered_by = registered_by or existing
            continue

        registration, free[mode] = _write_registration(
            gathering, existing, key, person, request, organisation, free=free[mode], now=now,
            comment=request.comment if person is request.person else "",
            registered_by=registered_by, mode=mode)
        history.record(registration, "registered" if registration.status
                       == RegistrationStatus.CONFIRMED else "waiting", now=now, by=by,
                       note=said("note_registered_again") if existing is not None else "")
        _announce_new_status(registration, now=now, from_form=True,
                             registrar=None if person is request.person else request.person)
        outcomes.append(Outcome(registration))
        registered_by = registered_by or registration
    return outcomes


def cancel(registration: Registration, *, now: datetime, by: Organiser | None = None,
           note: str = "", refused: bool = False) -> list[Registration]:
    """Cancel a registration; a freed seat goes to the waiting list. Returns those promoted.

    The person is told, with the calendar entry's CANCEL if they had a seat. `refused`: they
    said "not me" (form_mail.refuse): they are sent only what takes the gathering out of their
    calendar (nothing if they had no seat or it is over), and it says what "not me" did.
    """
    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED:
        return []
    had_seat = registration.status == RegistrationStatus.CONFIRMED
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = now
    registration.updated_at = now
    registration.waiting_since = None
    if had_seat:
        # Their CANCEL must outrank the REQUEST their calendar holds.
        registration.ical_sequence_bump += 1
    db.session.flush()
    history.record(registration, "cancelled", now=now, by=by, note=note)
    webhooks.enqueue("registration.cancelled", webhooks.registration_data(registration), now=now)
    if not refused or (had_seat and not gathering.is_past(now)):
        outbox.enqueue(
            notifications.compose_cancellation(registration, had_seat=had_seat, now=now,
                                               refused=refused),
            key=f"cancel:{registration.id}:{registration.ical_sequence}:{registration.cancelled_at:%Y%m%d%H%M%S}",
            now=now, registration=registration,
        )
    return promote_from_waiting_list(gathering, now=now, by=by,
                                     mode=participation.mode_of(registration)) if had_seat else []


def promote_from_waiting_list(gathering: Gathering, *, now: datetime,
                              by: Organiser | None = None,
                              mode: AttendanceMode | None = None) -> list[Registration]:
    """Give free seats to the waiting list in arrival order (caller holds the gathering lock):
    each mode's free seats to that mode's list (`mode`: that mode's only; None: every mode)."""
    promoted: list[Registration] = []
    for each in participation.modes_of(gathering) if mode is None else (mode,):
        promoted += promote_in_mode(gathering, each, now=now, by=by)
    return promoted


def promote_in_mode(gathering: Gathering, mode: AttendanceMode, *, now: datetime,
                    by: Organiser | None = None) -> list[Registration]:
    """Give `mode`'s free seats to `mode`'s waiting list in arrival order (caller holds the
    gathering lock)."""
    promoted: list[Registration] = []
    # A postponed or cancelled gathering has no date to invite anyone to; a new date fills
    # the free seats when it comes (lifecycle.reschedule).
    if gathering.starts_at <= now or gathering.status != GatheringStatus.PUBLISHED:
        return promoted
    # --- seat rules (issue 16): in the room, with a cap or holds, the first in line whom the
    # rules allow
    if mode == seat_rules.room(gathering):
        rules = seat_rules.rules_of(gathering)
        if rules.any:
            return _promote_by_seat_rules(gathering, rules, now=now, by=by)
    free = participation.seats_left_in_mode(gathering, mode)
    while free is None or free > 0:
        first = db.session.scalar(
            sa.select(Registration)
            .where(Registration.gathering_id == gathering.id,
                   Registration.status == RegistrationStatus.WAITING,
                   participation.in_mode(gathering, mode))
            .order_by(Registration.waiting_since, Registration.id)
            .limit(1)
        )
        if first is None:
            break
        _give_waiting_seat(first, now=now, by=by)
        promoted.append(first)
        free = None if free is None else free - 1
    return promoted


def _give_waiting_seat(registration: Registration, *, now: datetime,
                       by: Organiser | None) -> None:
    """The first in line gets a seat: the history, the webhook and the promotion mail with its
    invitation (promote_in_mode, and the seat rules' walk)."""
    registration.status = RegistrationStatus.CONFIRMED
    registration.waiting_since = None
    registration.updated_at = now
    db.session.flush()
    history.record(registration, "promoted", now=now, by=by)
    webhooks.enqueue("registration.promoted", webhooks.registration_data(registration), now=now)
    outbox.enqueue(
        notifications.compose_promotion(registration, now=now),
        key=f"promote:{registration.id}:{registration.ical_sequence}:{now:%Y%m%d%H%M%S%f}",
        now=now, registration=registration,
    )


def _promote_by_seat_rules(gathering: Gathering, rules: seat_rules.Rules, *, now: datetime,
                           by: Organiser | None) -> list[Registration]:
    """Seat rules (issue 16): walk the waiting list in its order and give a seat to each person
    the rules allow; those still blocked (their organisation's cap, seats held for another
    sector) keep their place in line. Caller holds the gathering lock."""
    tally = seat_rules.tally_of(gathering)
    promoted: list[Registration] = []
    waiting = db.session.scalars(
        sa.select(Registration).join(Registration.organisation)
        .options(sa.orm.contains_eager(Registration.organisation))
        .where(Registration.gathering_id == gathering.id,
               Registration.status == RegistrationStatus.WAITING,
               participation.in_mode(gathering, seat_rules.room(gathering)))
        .order_by(Registration.waiting_since, Registration.id)).all()
    for registration in waiting:
        if rules.capacity is not None and tally.total >= rules.capacity:
            break
        sector = registration.organisation.sector
        if seat_rules.decide(rules, tally, organisation_id=registration.organisation_id,
                             sector=sector, now=now) is not None:
            continue
        _give_waiting_seat(registration, now=now, by=by)
        tally.take(registration.organisation_id, sector)
        promoted.append(registration)
    return promoted


def _announce_new_status(registration: Registration, *, now: datetime, from_form: bool = False,
                         registrar: Person | None = None) -> None:
    """The confirmation or the waiting-list place. `from_form`: the public form caused it (the
    mail has a "not me" link); `registrar`: who typed in this colleague's address."""
    if registration.status == RegistrationStatus.CONFIRMED:
        mail = notifications.compose_confirmation(registration, now=now, from_form=from_form,
                                                  registrar=registrar)
        key = f"confirm:{registration.id}:{registration.ical_sequence}"
    else:
        mail = notifications.compose_waiting_list(
            registration, position=waiting_position(registration), now=now,
            from_form=from_form, registrar=registrar,
            reason=seat_rules.why_waiting(registration, now=now),  # seat rules (issue 16)
        )
        key = f"waiting:{registration.id}:{registration.ical_sequence}"
    outbox.enqueue(mail, key=key, now=now, registration=registration)
    webhooks.enqueue("registration.created", webhooks.registration_data(registration), now=now)


def _resend_link(registration: Registration, mail: ComposedMail, *, now: datetime) -> None:
    # Keyed by the minute: a double-submitted form sends the link once, a later request again.
    outbox.enqueue(
        mail,
        key=f"link:{registration.id}:{now:%Y%m%d%H%M}",
        now=now, registration=registration,
    )


def find_by_token(token: str) -> Registration | None:
    """The registration a manage link points to."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Registration).where(Registration.token == token))


class OverCapacity(DomainError):
    """Giving this person a seat would go over the gathering's capacity."""


class OverSeatRules(OverCapacity):
    """Seat rules (issue 16): giving this person a seat would break the gathering's cap per
    organisation or take a seat held for another sector."""


def _write_registration(gathering: Gathering, existing: Registration | None, key: str,
                        person: Person, request: RegistrationRequest, organisation: Organisation,
                        *, free: int | None, now: datetime, comment: str,
                        registered_by: Registration | None,
                        mode: AttendanceMode = AttendanceMode.IN_PERSON,
                        ) -> tuple[Registration, int | None]:
    """Write a new registration, or bring a cancelled one back, with the person's details: a
    seat while `free` (seats left in `mode`; None: no limit) and, in the room, the seat rules
    allow, else `mode`'s waiting list. Returns the registration and the seats left in `mode`
    after it."""
    # --- seat rules (issue 16): decided before the new row exists, under the caller's lock
    rules_say = seat_rules.may_take_seat(gathering, organisation, now=now, free=free, mode=mode)
    registration = existing or Registration(gathering=gathering, email_key=key, created_at=now)
    if existing is not None:
        # Back after cancelling: outrank the CANCEL their calendar already holds.
        registration.ical_sequence_bump += 1
        registration.cancelled_at = None
        registration.calendar_partstat = None  # the new invitation asks again
    registration.name = person.name
    registration.email = person.email.strip()
    registration.job_title = person.job_title
    registration.organisation = organisation
    registration.needs = person.needs or request.needs
    registration.comment = comment
    registration.consented_at = now
    registration.language = request.language
    registration.updated_at = now
    registration.registered_by = registered_by
    registration.mode = mode
    if rules_say is None:  # seat rules (issue 16)
        registration.status = RegistrationStatus.CONFIRMED
        registration.waiting_since = None
        free = None if free is None else free - 1
    else:
        registration.status = RegistrationStatus.WAITING
        registration.waiting_since = last_in_line(gathering, now=now)
    if existing is None:
        db.session.add(registration)
    db.session.flush()
    return registration, free


def register_on_behalf(gathering: Gathering, request: RegistrationRequest, *, now: datetime,
                       by: Organiser) -> Registration:
    """An organiser registers one person: allowed after the deadline, until the gathering ends.

    Seats and the waiting list work as in `register`; an address already registered is refused
    with a message rather than sent its link again, since the organiser is the one asking.
    """
    if not request.consent:
        raise DomainError(_("Personen må ha samtykket til at opplysningene lagres."))
    _refuse_the_organisers_address([request.person])
    lock_gathering(gathering)
    if gathering.status != GatheringStatus.PUBLISHED:
        raise RegistrationClosed(_("Samlingen er ikke åpen for påmelding (den er ikke publisert)."))
    if gathering.is_past(now):
        raise RegistrationClosed(_("Samlingen er over, og ingen kan meldes på lenger."))
    key = email_key(request.person.email)
    mode = participation.mode_for(gathering, request.person.mode)
    existing = db.session.scalar(sa.select(Registration).where(
        Registration.gathering_id == gathering.id, Registration.email_key == key))
    if existing is not None and existing.status != RegistrationStatus.CANCELLED:
        raise DomainError(_("%(email)s er allerede påmeldt denne samlingen.", email=request.person.email))
    organisation = organisations.find_or_create(
        request.organisation_name, request.sector, request.org_number, now=now
    )
    registration, _free = _write_registration(
        gathering, existing, key, request.person, request, organisation,
        free=participation.seats_left_in_mode(gathering, mode), now=now,
        comment=request.comment, registered_by=None, mode=mode)
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    history.record(registration, "registered" if confirmed else "waiting", now=now, by=by,
                   note=said("note_registered_by_organiser"))
    history.audit("register", by=by, now=now, gathering=gathering,
                  summary=said("registered_by_organiser" if confirmed
                               else "registered_by_organiser_waiting",
                               person=stored_person(registration.name, registration.email)))
    _announce_new_status(registration, now=now)
    return registration


def promote(registration: Registration, *, now: datetime, by: Organiser,
            over_capacity: bool = False, over_rules: bool = False) -> Registration:
    """Give a person on the waiting list a seat now, ahead of the list's order.

    Going over the capacity needs `over_capacity=True` (the organiser confirmed it); going past
    the seat rules (a cap per organisation, seats held for a sector) `over_rules=True`.
    """
    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    if registration.status != RegistrationStatus.WAITING:
        raise DomainError(_("%(name)s står ikke på ventelisten.", name=registration.name))
    if gathering.is_past(now):
        raise DomainError(_("Samlingen er over."))
    mode = participation.mode_of(registration)
    free = participation.seats_left_in_mode(gathering, mode)
    if free == 0 and not over_capacity:
        raise OverCapacity(_("Samlingen er full (%(capacity)s plasser). Bekreft at %(name)s skal få "
                             "plass likevel.",
                             capacity=participation.capacity_in_mode(gathering, mode),
                             name=registration.name))
    # --- seat rules (issue 16): a confirmed override of the rules is audited
    rules_say = seat_rules.may_take_seat(gathering, registration.organisation, now=now, free=free,
                                         mode=mode)
    past_rules = rules_say is not None and rules_say.code != seat_rules.FULL
    if past_rules and not over_rules:
        raise OverSeatRules(_("%(reason)s Bekreft at %(name)s skal få plass likevel.",
                              reason=seat_rules.describe_for_organisers(rules_say),
                              name=registration.name))
    registration.status = RegistrationStatus.CONFIRMED
    registration.waiting_since = None
    registration.updated_at = now
    db.session.flush()
    if past_rules:  # seat rules (issue 16)
        history.record(registration, "promoted", now=now, by=by,
                       note=said("note_over_seat_rules"))
        history.audit("promote", by=by, now=now, gathering=gathering,
                      summary=said("promoted_over_seat_rules", name=registration.name,
                                   rule=label("seat_rule", rules_say.code, lower=True)))
    else:
        history.record(registration, "promoted", now=now, by=by, note=said(
            "note_over_capacity" if free == 0 else "note_promoted_by_organiser"))
        history.audit("promote", by=by, now=now, gathering=gathering, summary=said(
            "promoted_over_capacity" if free == 0 else "promoted_by_organiser",
            name=registration.name))
    outbox.enqueue(
        notifications.compose_promotion(registration, now=now),
        key=f"promote:{registration.id}:{registration.ical_sequence}:{now:%Y%m%d%H%M%S%f}",
        now=now, registration=registration,
    )
    webhooks.enqueue("registration.promoted", webhooks.registration_data(registration), now=now)
    return registration


def with_seat(gathering: Gathering) -> list[Registration]:
    """Those with a seat, in the order they registered (the order their mail is queued in)."""
    return list(db.session.scalars(
        sa.select(Registration)
        .where(Registration.gathering_id == gathering.id,
               Registration.status == RegistrationStatus.CONFIRMED)
        .order_by(Registration.id)))


def registrations_of(gathering: Gathering, *, status: RegistrationStatus | None = None,
                     sector: Sector | None = None, query: str = "") -> list[Registration]:
    """A gathering's registrations by name (Norwegian order), filtered; `query` matches name,
    email or organisation, any case (folded in Python: SQLite's lower() knows only ASCII)."""
    select = (sa.select(Registration).join(Registration.organisation)
              .where(Registration.gathering_id == gathering.id)
              .options(sa.orm.contains_eager(Registration.organisation))
              .order_by(Registration.sort_name, Registration.id))
    if status is not None:
        select = select.where(Registration.status == status)
    if sector is not None:
        select = select.where(Organisation.sector == sector)
    words = query.casefold().split()
    return [registration for registration in db.session.scalars(select)
            if all(word in _searchable(registration) for word in words)]


def _rows_select(gathering_id: int, columns=(), *, status: RegistrationStatus | None = None,
                 sector: Sector | None = None, mode: AttendanceMode | None = None,
                 among: sa.Select | None = None, places: sa.Subquery | None = None) -> sa.Select:
    select = (sa.select(Registration.id, Registration.name, Registration.email,
                        Organisation.name.label("organisation_name"), *columns)
              .join_from(Registration, Organisation, Registration.organisation_id == Organisation.id)
              .where(Registration.gathering_id == gathering_id)
              .order_by(Registration.sort_name, Registration.id))
    if status is not None:
        select = select.where(Registration.status == status)
    if sector is not None:
        select = select.where(Organisation.sector == sector)
    if mode is not None:
        select = select.where(Registration.mode == mode)
    if among is not None:
        select = select.where(Registration.id.in_(among))
    if places is not None:
        select = select.add_columns(places.c.place).outerjoin(places, places.c.id == Registration.id)
    return select


def _matching(rows, query: str) -> Iterator[sa.Row]:
    words = query.casefold().split()
    if not words:
        return iter(rows)
    return (row for row in rows
            if all(word in f"{row.name} {row.email} {row.organisation_name}".casefold()
                   for word in words))


def registration_rows(gathering_id: int, columns=(), *, status: RegistrationStatus | None = None,
                      sector: Sector | None = None, query: str = "",
                      mode: AttendanceMode | None = None,
                      among: sa.Select | None = None) -> list[sa.Row]:
    """A gathering's registrations as plain rows: the same ones, in the same order, as
    registrations_of gives, with id, name, email, organisation_name and `columns`; `among`: a
    select of the registration ids to keep (questions.answering).

    For the long list and the downloads: reading 10,000 whole Registration objects (and their
    organisations) took several times as long as reading their columns.
    """
    select = _rows_select(gathering_id, columns, status=status, sector=sector, mode=mode,
                          among=among)
    return list(_matching(db.session.execute(select), query))


def registration_batches(gathering_id: int, columns=(), *, status: RegistrationStatus | None = None,
                         sector: Sector | None = None, query: str = "",
                         mode: AttendanceMode | None = None, among: sa.Select | None = None,
                         places: sa.Subquery | None = None,
                         size: int = 500) -> Iterator[list[sa.Row]]:
    """registration_rows, read from the database `size` rows at a time (a server-side cursor on
    PostgreSQL): a download of any length streams in the same memory. The database sorts them
    (Registration.sort_name), so nothing needs all the rows at once. `places`: each row's
    `place` on the waiting list too (waiting_places)."""
    select = _rows_select(gathering_id, columns, status=status, sector=sector, mode=mode,
                          among=among, places=places)
    result = db.session.execute(select.execution_options(yield_per=size))
    for partition in result.partitions():
        if rows := list(_matching(partition, query)):
            yield rows


def count_rows(gathering_id: int, *, query: str = "", **filters) -> int:
    """How many rows registration_rows would give, without holding them."""
    if not query.split():
        select = _rows_select(gathering_id, **filters).order_by(None)
        return db.session.scalar(sa.select(sa.func.count()).select_from(select.subquery()))
    return sum(len(rows) for rows in registration_batches(gathering_id, query=query, **filters))


def waiting_places(gathering: Gathering) -> sa.Subquery:
    """Each waiting registration's place on its mode's waiting list (1 is next in line), as a
    subquery of (id, place): the one place the waiting order is written. A download joins it
    to the rows it reads as it goes; waiting_positions reads it whole."""
    by_mode = [Registration.mode] if len(participation.modes_of(gathering)) > 1 else None
    place = sa.func.row_number().over(partition_by=by_mode,
                                      order_by=(Registration.waiting_since, Registration.id))
    return (sa.select(Registration.id, place.label("place"))
            .where(Registration.gathering_id == gathering.id,
                   Registration.status == RegistrationStatus.WAITING)
            .subquery("waiting_places"))


def _searchable(registration: Registration) -> str:
    return " ".join([registration.name, registration.email,
                     registration.organisation.name]).casefold()


def cancel_by_organiser(registration: Registration, *, now: datetime, by: Organiser,
                        note: str = "") -> list[Registration]:
    """An organiser cancels someone's registration (audited); returns those promoted."""
    was = registration.status
    promoted = cancel(registration, now=now, by=by, note=note)
    if was != RegistrationStatus.CANCELLED:
        history.audit("cancel_registration", by=by, now=now, gathering=registration.gathering,
                      summary=said("cancelled_by_organiser_note" if note
                                   else "cancelled_by_organiser",
                                   person=stored_person(registration.name, registration.email),
                                   **({"note": note} if note else {})))
    return promoted


def waiting_positions(gathering: Gathering) -> dict[int, int]:
    """Registration id → place on its mode's waiting list (1 is next in line)."""
    places = waiting_places(gathering)
    return dict(db.session.execute(sa.select(places.c.id, places.c.place)).all())


def mails_of(registration: Registration) -> list[OutboxMessage]:
    """Every email queued for this registration, oldest first, with its delivery status."""
    return list(db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.registration_id == registration.id)
        .order_by(OutboxMessage.id)
    ))


def renew_link(registration: Registration, *, now: datetime,
               by: Organiser | None = None) -> Registration:
    """Revoke the manage link (it stops working at once) and mail the person a new one."""
    from .models import new_token

    registration.token = new_token()
    registration.updated_at = now
    db.session.flush()
    history.record(registration, "link_renewed", now=now, by=by)
    outbox.enqueue(
        notifications.compose_new_link(registration, now=now),
        key=f"new_link:{registration.id}:{registration.token[:16]}",
        now=now, registration=registration,
    )
    return registration


# --- changing a registration (issue 15) ------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What a person (or an organiser for them) may change on a registration: never the
    address (a new address is a new registration; organisers correct one: correct_address)."""

    name: str
    job_title: str
    organisation_name: str
    sector: Sector
    org_number: str | None = None
    needs: str = ""


# What each personal calendar message shows of the registration: ATTENDEE;CN is the name. A
# change to anything else (job title, organisation, needs) leaves the invitation as it is.
SHOWN_IN_CALENDAR = frozenset({"name"})


def _refuse_changes_to(registration: Registration, *, now: datetime) -> None:
    if registration.anonymised_at is not None:
        raise DomainError(_("Opplysningene i denne påmeldingen er slettet og kan ikke endres."))
    if registration.gathering.is_past(now):
        raise DomainError(_("Samlingen er over, og påmeldingen kan ikke lenger endres."))


def change_details(registration: Registration, details: Details, *, now: datetime,
                   by: Organiser | None = None) -> list[str]:
    """Change name, job title, organisation and needs; returns the fields that changed.

    Recorded in the history (one line naming the fields). The calendar invitation is sent
    again only when something it shows changed (SHOWN_IN_CALENDAR) and the person holds one:
    a REQUEST at a higher SEQUENCE that repeats their calendar's answer (docs/calendar.md).
    Nothing else is mailed: the person sees the change on the page they made it on.
    """
    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    _refuse_changes_to(registration, now=now)
    if registration.status == RegistrationStatus.CANCELLED and by is None:
        raise DomainError(_("Du er meldt av. Meld deg på igjen før du endrer opplysningene."))
    organisation = organisations.find_or_create(details.organisation_name, details.sector,
                                                details.org_number, now=now)
    before = {"name": registration.name, "job_title": registration.job_title,
              "organisation": registration.organisation_id, "needs": registration.needs}
    after = {"name": details.name, "job_title": details.job_title,
             "organisation": organisation.id, "needs": details.needs}
    changed = [field_name for field_name in before if before[field_name] != after[field_name]]
    if not changed:
        return []
    registration.name = details.name
    registration.job_title = details.job_title
    registration.organisation = organisation
    registration.needs = details.needs
    registration.updated_at = now
    resend = (SHOWN_IN_CALENDAR & set(changed) and registration.status == RegistrationStatus.CONFIRMED
              and gathering.status == GatheringStatus.PUBLISHED)
    if resend:
        # A newer version of the invitation the person holds: their calendar replaces it.
        registration.ical_sequence_bump += 1
    db.session.flush()
    history.record_change(registration, "details_changed", fields=changed, now=now, by=by)
    if by is not None:
        history.audit("change_registration", by=by, now=now, gathering=gathering,
                      summary=said(
                          "registration_details_changed", fields=history.fields_param(changed),
                          person=stored_person(registration.name, registration.email)))
    if resend:
        outbox.enqueue(
            notifications.registration.compose_details_changed(registration, now=now),
            key=f"details:{registration.id}:{registration.ical_sequence}",
            now=now, registration=registration,
        )
    return changed


def correct_address(registration: Registration, email: str, *, now: datetime,
                    by: Organiser) -> Registration:
    """An organiser corrects a registration's address (a typo, a bounced mail).

    The old address may be someone else's: its manage link is revoked (a new token), and if it
    held the invitation it gets a CANCEL (no PARTSTAT: the person declined nothing) and no
    link. The new address gets the invitation (a REQUEST at the same higher SEQUENCE, asking
    again) or, on the waiting list, its place; both with the new manage link. Audited.
    """
    from .models import new_token

    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    _refuse_changes_to(registration, now=now)
    email = email.strip()
    key = email_key(email)
    if key == registration.email_key:
        raise DomainError(_("Dette er den samme adressen som påmeldingen har nå."))
    _refuse_the_organisers_address([Person(registration.name, email)])
    taken = db.session.scalar(sa.select(Registration.id).where(
        Registration.gathering_id == gathering.id, Registration.email_key == key))
    if taken is not None:
        raise DomainError(_("%(email)s er allerede påmeldt denne samlingen.", email=email))
    old_email = registration.email
    with_calendar = (registration.status == RegistrationStatus.CONFIRMED
                     and gathering.status == GatheringStatus.PUBLISHED)
    if with_calendar:
        registration.ical_sequence_bump += 1
        # Composed while the registration still has the old address: its ATTENDEE and To.
        outbox.enqueue(
            notifications.registration.compose_address_withdrawn(registration, now=now),
            key=f"address-old:{registration.id}:{registration.token[:16]}",
            now=now, registration=registration,
        )
    registration.email = email
    registration.email_key = key
    registration.token = new_token()
    registration.calendar_partstat = None  # the new address's calendar has answered nothing
    registration.updated_at = now
    db.session.flush()
    history.record_change(registration, "address_corrected", fields=["email"], now=now, by=by)
    history.audit("correct_address", by=by, now=now, gathering=gathering,
                  summary=said("registration_address_corrected", name=registration.name,
                               before=old_email, after=email))
    if registration.status != RegistrationStatus.CANCELLED:
        outbox.enqueue(
            notifications.registration.compose_address_corrected(
                registration, position=waiting_position(registration),
                                      with_calendar=with_calendar, now=now),
            key=f"address-new:{registration.id}:{registration.token[:16]}",
            now=now, registration=registration,
        )
    return registration


def register_again(registration: Registration, *, now: datetime) -> Registration:
    """A person who cancelled registers again from their manage page, with what they gave
    before: a seat if one is free, else last on the waiting list (under the gathering's lock,
    as `register`). The new invitation outranks the CANCEL their calendar holds."""
    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    if registration.anonymised_at is not None:
        raise DomainError(_("Opplysningene i denne påmeldingen er slettet. Meld deg på på nytt "
                            "på siden til samlingen."))
    if registration.status != RegistrationStatus.CANCELLED:
        return registration  # a second click: nothing to do
    if not gathering.registration_open(now):
        raise RegistrationClosed(_("Påmeldingen til denne samlingen er stengt."))
    # The mode they chose before, if the gathering still has it.
    registration.mode = (registration.mode if registration.mode in participation.modes_of(gathering)
                         else participation.modes_of(gathering)[0])
    free = participation.seats_left_in_mode(gathering, registration.mode)
    # --- seat rules (issue 16)
    rules_say = seat_rules.may_take_seat(gathering, registration.organisation, now=now,
                                         free=free, mode=registration.mode)
    registration.ical_sequence_bump += 1
    registration.cancelled_at = None
    registration.calendar_partstat = None
    registration.consented_at = now
    registration.updated_at = now
    if rules_say is None:
        registration.status, registration.waiting_since = RegistrationStatus.CONFIRMED, None
    else:
        registration.status = RegistrationStatus.WAITING
        registration.waiting_since = last_in_line(gathering, now=now)
    db.session.flush()
    history.record_change(registration, "registered_again" if registration.status
                          == RegistrationStatus.CONFIRMED else "waiting_again", fields=[],
                          now=now)
    _announce_new_status(registration, now=now)
    return registration


def send_new_meeting_link(gathering: Gathering, *, now: datetime) -> list[Registration]:
    """The organisers changed the meeting link: each confirmed online participant gets the
    invitation with the new link (REQUEST, their SEQUENCE + 1) and a short mail saying so.
    Keyed by the SEQUENCE, so a second send of the same change queues nothing twice (caller
    holds the gathering lock). Returns those told."""
    if gathering.status != GatheringStatus.PUBLISHED or gathering.is_past(now):
        return []
    told = [registration for registration in with_seat(gathering)
            if participation.meeting_for(registration) is not None]
    for registration in told:
        registration.ical_sequence_bump += 1
        registration.updated_at = now
    db.session.flush()
    for registration in told:
        outbox.enqueue(
            notifications.registration.compose_meeting_changed(registration, now=now),
            key=f"meeting:{registration.id}:{registration.ical_sequence}",
            now=now, registration=registration,
        )
    return told


def switch_mode(registration: Registration, mode: AttendanceMode, *, now: datetime,
                by: Organiser | None = None) -> Registration:
    """On a hybrid gathering, attend the other way: in the room instead of online, or back.

    Under the gathering's lock, as `register`. With a seat: a free seat in the other mode is
    theirs at once (the invitation again, at SEQUENCE + 1, with the room or the meeting link),
    and their old seat goes to the first on that mode's waiting list; with no seat free there
    they keep the one they have (refused: nobody loses a seat by asking). On a waiting list:
    a seat in the other mode if one is free, else last on that mode's list.
    """
    gathering = registration.gathering
    lock_gathering(gathering)
    db.session.refresh(registration)
    _refuse_changes_to(registration, now=now)
    if not participation.asks_mode(gathering):
        raise DomainError(_("Denne samlingen har bare én måte å delta på."))
    if registration.status == RegistrationStatus.CANCELLED:
        raise DomainError(_("Du er meldt av. Meld deg på igjen før du endrer opplysningene."))
    mode = AttendanceMode(mode)
    if mode == registration.mode:
        return registration  # a second click: nothing to do
    old_mode, had_seat = registration.mode, registration.status == RegistrationStatus.CONFIRMED
    free = participation.seats_left_in_mode(gathering, mode)
    if had_seat and free == 0:
        raise DomainError(_("Det er ingen ledige plasser der. Du beholder plassen du har."))
    registration.mode = mode
    registration.updated_at = now
    if free is None or free > 0:
        registration.status, registration.waiting_since = RegistrationStatus.CONFIRMED, None
    else:
        registration.waiting_since = last_in_line(gathering, now=now)
    if had_seat:
        # A newer invitation, with the other place (the room, or the meeting link)
        registration.ical_sequence_bump += 1
    db.session.flush()
    history.record_change(registration, "mode_changed", fields=["mode"], now=now, by=by)
    if by is not None:
        history.audit("change_registration", by=by, now=now, gathering=gathering,
                      summary=said("registration_details_changed",
                                   fields=history.fields_param(["mode"]),
                                   person=stored_person(registration.name, registration.email)))
    if had_seat:
        mail = notifications.registration.compose_mode_changed(registration, now=now)
        key = f"mode:{registration.id}:{registration.ical_sequence}"
    elif registration.status == RegistrationStatus.CONFIRMED:
        mail = notifications.compose_promotion(registration, now=now)
        key = f"promote:{registration.id}:{registration.ical_sequence}:{now:%Y%m%d%H%M%S%f}"
    else:
        mail = notifications.compose_waiting_list(
            registration, position=waiting_position(registration), now=now)
        key = f"waiting-mode:{registration.id}:{mode.value}:{now:%Y%m%d%H%M%S%f}"
    outbox.enqueue(mail, key=key, now=now, registration=registration)
    if had_seat:
        promote_in_mode(gathering, old_mode, now=now, by=by)
    return registration
