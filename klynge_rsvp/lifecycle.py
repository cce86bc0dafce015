"""A published gathering's life: moved, postponed indefinitely, given a new date, cancelled.

Each action changes the gathering and queues a notice to every registrant in one transaction,
with the calendar part docs/calendar.md's table prescribes. Each is idempotent: the gathering is
locked first, so a repeated request (a double click, a retry) finds the change already made
and sends nothing more; the outbox keys, tied to the new calendar state, are a second guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from . import calendars, history, notifications, programme, rsvp, webhooks
from .clock import local_zone
from .errors import DomainError
from .extensions import db
from .formatting import when
from .mail import outbox
from .mail.outbox import ComposedMail
from .mail.templates import Personal
from .models import (
    Gathering,
    GatheringStatus,
    MailTemplate,
    Organiser,
    Reconfirmation,
    Registration,
    RegistrationStatus,
)
from .stored_text import Stored, joined, said
from .stored_text import when as stored_when


@dataclass(frozen=True)
class Difference:
    """One thing a move changes (`kind`: "time" or "place"), in words: "Tid",
    "torsdag 12. februar …" → "fredag …".

    The label and the times are lazy: each notice shows them in its reader's language.
    """

    kind: str
    label: str
    before: str
    after: str
    stored: Stored | None = None  # the same, as the audit log keeps it (stored_text.py)


@dataclass(frozen=True)
class Outcome:
    """What an action did. done=False: it had been done already; nothing changed or was sent."""

    done: bool
    notified: int = 0


_WRONG_STATUS = {
    GatheringStatus.DRAFT: _l("Samlingen er ikke publisert ennå. Endre den heller direkte."),
    GatheringStatus.POSTPONED: _l("Samlingen er utsatt på ubestemt tid. Gi den ny dato i stedet."),
    GatheringStatus.CANCELLED: _l("Samlingen er avlyst og kan ikke endres."),
}


def differences(gathering: Gathering, *, starts_at: datetime, ends_at: datetime,
                venue_name: str, venue_address: str) -> list[Difference]:
    """What would change if the gathering were held at this time and place."""
    found = []
    if (_minute(starts_at), _minute(ends_at)) != (_minute(gathering.starts_at),
                                                  _minute(gathering.ends_at)):
        found.append(Difference(
            "time", _l("Tid"), LazyString(when, gathering.starts_at, gathering.ends_at),
            LazyString(when, starts_at, ends_at),
            said("moved_time", before=stored_when(gathering.starts_at, gathering.ends_at),
                 after=stored_when(starts_at, ends_at))))
    before = _place(gathering.venue_name, gathering.venue_address)
    after = _place(venue_name.strip(), venue_address.strip())
    if before != after:
        found.append(Difference("place", _l("Sted"), before, after,
                                said("moved_place", before=before, after=after)))
    return found


def move(gathering: Gathering, *, starts_at: datetime, ends_at: datetime, venue_name: str,
         venue_address: str, message: str, now: datetime, by: Organiser | None) -> Outcome:
    """Move to a known new time or place: REQUEST, same UID, SEQUENCE + 1, to those with a seat."""
    rsvp.lock_gathering(gathering)
    if gathering.status != GatheringStatus.PUBLISHED:
        raise DomainError(str(_WRONG_STATUS[gathering.status]))
    changes = differences(gathering, starts_at=starts_at, ends_at=ends_at,
                          venue_name=venue_name, venue_address=venue_address)
    if not changes:
        return Outcome(done=False)
    _require_not_started(gathering, now)
    _check_time_and_place(starts_at, ends_at, venue_name, now)
    if _minute(starts_at) != _minute(gathering.starts_at):
        gathering.previous_starts_at = gathering.starts_at
    _set_time_and_place(gathering, starts_at, ends_at, venue_name, venue_address)
    gathering.ical_sequence += 1
    gathering.updated_at = now
    _forget_calendar_answers(gathering)
    db.session.flush()
    notified = _notify(gathering, "moved", now, lambda registration, position:
                       notifications.compose_moved(registration, changes=changes,
                                                   message=message, position=position, now=now))
    webhooks.enqueue("gathering.changed", webhooks.changed_gathering_data(gathering, "moved"),
                     now=now)
    history.audit("move", by=by, now=now, gathering=gathering, summary=said(
        "gathering_moved", changes=joined(c.stored for c in changes), count=notified))
    return Outcome(done=True, notified=notified)


def postpone(gathering: Gathering, *, message: str, now: datetime,
             by: Organiser | None) -> Outcome:
    """Postpone indefinitely: registration closes, calendars get CANCEL "Utsatt: …" (SEQUENCE + 1).

    Registrations are kept for the day the gathering gets a new date; reminders stop.
    """
    rsvp.lock_gathering(gathering)
    if gathering.status == GatheringStatus.POSTPONED:
        return Outcome(done=False)
    if gathering.status != GatheringStatus.PUBLISHED:
        raise DomainError(str(_WRONG_STATUS[gathering.status]))
    _require_not_started(gathering, now)
    gathering.previous_starts_at = gathering.starts_at
    _call_off(gathering, GatheringStatus.POSTPONED, message, now)
    notified = _notify(gathering, "postponed", now, lambda registration, position:
                       notifications.compose_postponed(registration, message=message,
                                                       position=position, now=now))
    webhooks.enqueue("gathering.changed", webhooks.changed_gathering_data(gathering, "postponed"),
                     now=now)
    history.audit("postpone", by=by, now=now, gathering=gathering,
                  summary=said("gathering_postponed",
                               when=stored_when(gathering.starts_at, gathering.ends_at),
                               count=notified))
    return Outcome(done=True, notified=notified)


def reschedule(gathering: Gathering, *, starts_at: datetime, ends_at: datetime,
               venue_name: str, venue_address: str, reconfirm_deadline: datetime | None,
               message: str, now: datetime, by: Organiser | None) -> Outcome:
    """Give a postponed gathering a new date: a NEW UID at SEQUENCE 0 (docs/decisions/0005), and each
    person with a seat is asked whether they still come (answer by `reconfirm_deadline`)."""
    rsvp.lock_gathering(gathering)
    if (gathering.status == GatheringStatus.PUBLISHED and gathering.ical_generation > 1
            and not differences(gathering, starts_at=starts_at, ends_at=ends_at,
                                venue_name=venue_name, venue_address=venue_address)):
        return Outcome(done=False)
    if gathering.status != GatheringStatus.POSTPONED:
        raise DomainError(_("Bare en samling som er utsatt på ubestemt tid, kan få ny dato. "
                            "Bruk «Flytt» for å endre tid eller sted."))
    _check_time_and_place(starts_at, ends_at, venue_name, now)
    if reconfirm_deadline is not None and not now < reconfirm_deadline <= starts_at:
        raise DomainError(_("Svarfristen må være fram i tid og før samlingen begynner."))
    _set_time_and_place(gathering, starts_at, ends_at, venue_name, venue_address)
    gathering.ical_generation += 1
    gathering.ical_uid = calendars.uid_for_generation(calendars.uid_base(gathering.ical_uid),
                                                      gathering.ical_generation)
    gathering.ical_sequence = 0
    gathering.status = GatheringStatus.PUBLISHED
    gathering.status_message = ""
    gathering.reconfirm_deadline = reconfirm_deadline
    gathering.updated_at = now
    for registration in gathering.registrations:
        registration.ical_sequence_bump = 0  # a new calendar identity starts from 0
        registration.reconfirmation = Reconfirmation.NOT_ASKED
        registration.reconfirmed_at = None
        registration.calendar_partstat = None  # an answer to the old identity, not this one
    db.session.flush()
    # Seats freed while the gathering was postponed go to the waiting list first; those
    # promoted get their own mail with the invitation and are not asked again.
    promoted = {registration.id for registration in
                rsvp.promote_from_waiting_list(gathering, now=now, by=by)}
    for registration in rsvp.with_seat(gathering):
        if registration.id not in promoted:
            registration.reconfirmation = Reconfirmation.PENDING
            history.record(registration, "reconfirmation_asked", now=now, by=by,
                           note=said("note_new_date", when=stored_when(starts_at, ends_at)))
    db.session.flush()
    notified = _notify(gathering, "rescheduled", now, lambda registration, position:
                       notifications.compose_rescheduled(registration, message=message,
                                                         position=position, now=now),
                       skip=promoted)
    webhooks.enqueue("gathering.changed", webhooks.changed_gathering_data(gathering, "rescheduled"),
                     now=now)
    history.audit("reschedule", by=by, now=now, gathering=gathering,
                  summary=said("gathering_rescheduled", when=stored_when(starts_at, ends_at),
                               place=_place(gathering.venue_name, gathering.venue_address),
                               count=notified))
    return Outcome(done=True, notified=notified)


def cancel(gathering: Gathering, *, message: str, now: datetime,
           by: Organiser | None) -> Outcome:
    """Cancel: registration closes, calendars get CANCEL (same UID, SEQUENCE + 1)."""
    rsvp.lock_gathering(gathering)
    if gathering.status == GatheringStatus.CANCELLED:
        return Outcome(done=False)
    if gathering.status == GatheringStatus.DRAFT:
        raise DomainError(_("Samlingen er ikke publisert ennå. Et utkast kan slettes i stedet."))
    was_postponed = gathering.status == GatheringStatus.POSTPONED
    if not was_postponed:
        _require_not_started(gathering, now)
    _call_off(gathering, GatheringStatus.CANCELLED, message, now)
    notified = _notify(gathering, "cancelled", now, lambda registration, position:
                       notifications.compose_cancelled(registration, message=message,
                                                       position=position,
                                                       was_postponed=was_postponed, now=now))
    webhooks.enqueue("gathering.changed", webhooks.changed_gathering_data(gathering, "cancelled"),
                     now=now)
    history.audit("cancel", by=by, now=now, gathering=gathering,
                  summary=said("gathering_cancelled_postponed" if was_postponed
                               else "gathering_cancelled", count=notified))
    return Outcome(done=True, notified=notified)


def reconfirm(registration: Registration, *, coming: bool, now: datetime,
              by: Organiser | None = None) -> Outcome:
    """The person's answer to "are you still coming on the new date?".

    No cancels the registration like the person's own cancellation (seat freed, waiting list
    promoted, a CANCEL for their calendar); yes only records the answer.
    """
    gathering = registration.gathering
    rsvp.lock_gathering(gathering)
    db.session.refresh(registration)
    if registration.reconfirmation == Reconfirmation.NOT_ASKED:
        raise DomainError(_("Du er ikke bedt om å bekrefte noe for denne samlingen."))
    if registration.status == RegistrationStatus.CANCELLED:
        if not coming:
            return Outcome(done=False)
        raise DomainError(_("Du er allerede meldt av. Vil du likevel komme, kan du melde deg på "
                            "igjen på nettsiden til samlingen så lenge påmeldingen er åpen."))
    if gathering.status != GatheringStatus.PUBLISHED or gathering.starts_at <= now:
        raise DomainError(_("Samlingen kan ikke lenger svares på her."))
    if coming:
        if registration.reconfirmation == Reconfirmation.YES:
            return Outcome(done=False)
        registration.reconfirmation = Reconfirmation.YES
        registration.reconfirmed_at = now
        registration.updated_at = now
        history.record(registration, "reconfirmed", now=now, by=by, note=said("note_coming_on_new_date"))
        db.session.flush()
        return Outcome(done=True)
    promoted = rsvp.cancel(registration, now=now, by=by, note=said("note_declined_new_date"))
    registration.reconfirmation = Reconfirmation.NO
    registration.reconfirmed_at = now
    history.record(registration, "reconfirmed", now=now, by=by, note=said("note_not_coming_on_new_date"))
    db.session.flush()
    return Outcome(done=True, notified=1 + len(promoted))


def reconfirmation_overview(gathering: Gathering) -> dict[str, list[Registration]]:
    """Who was asked after the new date, by answer: yes, no, not yet."""
    asked = db.session.scalars(
        sa.select(Registration)
        .where(Registration.gathering_id == gathering.id,
               Registration.reconfirmation != Reconfirmation.NOT_ASKED)
        .order_by(Registration.name, Registration.id)
    ).all()
    return {answer.value: [r for r in asked if r.reconfirmation == answer]
            for answer in (Reconfirmation.YES, Reconfirmation.NO, Reconfirmation.PENDING)}


# --- helpers -------------------------------------------------------------------------------


def _minute(instant: datetime) -> datetime:
    """Times are entered to the minute; seconds never make a move."""
    return instant.replace(second=0, microsecond=0)


def _place(name: str, address: str) -> str:
    return ", ".join(part for part in (name, address) if part)


def _require_not_started(gathering: Gathering, now: datetime) -> None:
    if gathering.starts_at <= now:
        raise DomainError(_("Samlingen har allerede begynt og kan ikke endres."))


def _check_time_and_place(starts_at: datetime, ends_at: datetime, venue_name: str,
                          now: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if ends_at <= starts_at:
        raise DomainError(_("Slutttidspunktet må være etter starttidspunktet."))
    if starts_at <= now:
        raise DomainError(_("Den nye tiden må være fram i tid."))
    if not venue_name.strip():
        raise DomainError(_("Skriv hvor samlingen skal være."))


def _call_off(gathering: Gathering, status: GatheringStatus, message: str,
              now: datetime) -> None:
    """Postponed or cancelled: registration closes, no reconfirmation is asked, and the
    calendar entries are withdrawn (SEQUENCE + 1)."""
    gathering.status = status
    gathering.status_message = message.strip()
    gathering.reconfirm_deadline = None
    gathering.ical_sequence += 1
    gathering.updated_at = now
    db.session.flush()


def _set_time_and_place(gathering: Gathering, starts_at: datetime, ends_at: datetime,
                        venue_name: str, venue_address: str) -> None:
    if gathering.registration_deadline is not None:
        # The deadline keeps its distance to the start: a week later start, a week later
        # deadline (otherwise a postponed gathering would come back with registration closed).
        gathering.registration_deadline += starts_at - gathering.starts_at
    programme.follow_the_start(gathering, starts_at, local_zone(current_app.config["KLYNGE_TIMEZONE"]))
    gathering.starts_at, gathering.ends_at = starts_at, ends_at
    gathering.venue_name, gathering.venue_address = venue_name.strip(), venue_address.strip()


def _forget_calendar_answers(gathering: Gathering) -> None:
    """A new time asks everyone again (PARTSTAT=NEEDS-ACTION): an answer given to the old time
    must not be repeated in later reminders as if it were one to the new."""
    db.session.execute(sa.update(Registration)
                       .where(Registration.gathering_id == gathering.id,
                              Registration.calendar_partstat.is_not(None))
                       .values(calendar_partstat=None))


def _waiting(gathering: Gathering) -> list[Registration]:
    return list(db.session.scalars(
        sa.select(Registration)
        .where(Registration.gathering_id == gathering.id,
               Registration.status == RegistrationStatus.WAITING)
        .order_by(Registration.waiting_since, Registration.id)
    ))


def _notify(gathering: Gathering, occasion: str, now: datetime,
            compose: Callable[[Registration, int | None], ComposedMail],
            skip: set[int] = frozenset()) -> int:
    """Queue one notice per person with a seat or on the waiting list; returns how many.

    The key names the gathering's new calendar state, so the same change is never sent twice.
    """
    people = [(r, None) for r in rsvp.with_seat(gathering)]
    people += [(r, position) for position, r in enumerate(_waiting(gathering), start=1)]
    people = [(r, position) for r, position in people if r.id not in skip]
    keys = {r.id: f"{occasion}:{r.id}:{gathering.ical_uid}:{gathering.ical_sequence}"
            for r, _position in people}
    queued_before = outbox.queued_keys(keys.values())
    # Everyone with a seat gets the same notice but for their details: their audience's
    # template is queued once, and each row is filled in as it is sent (decision 0037).
    # People on the waiting list each have their own position in it.
    merged = notifications.MailMerge(lambda registration: compose(registration, None))
    db.session.flush()  # the change itself is written first: the bulk insert skips the ORM's flush
    stored: dict[int, int] = {}  # id(template) → its MailTemplate's id

    def queued(registration: Registration, position: int | None) -> ComposedMail:
        if position is not None:
            return compose(registration, position)
        made = merged.lazily(registration)
        if isinstance(made, ComposedMail):
            return made
        if id(made) not in stored:
            row = MailTemplate(body=made.dumps(), created_at=now)
            db.session.add(row)
            db.session.flush()
            stored[id(made)] = row.id
        return made.queued(Personal.of(registration), stored[id(made)])

    outbox.enqueue_many([
        (queued(registration, position), keys[registration.id], registration)
        for registration, position in people if keys[registration.id] not in queued_before
    ], now=now)
    return len(people)
