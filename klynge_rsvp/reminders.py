"""Reminders before a gathering, and the one reminder to answer after a new date.

The jobs run in every worker. What keeps a reminder from going out twice is the outbox key,
which names the person, the calendar identity and the start time: a restart, a second worker
or a rerun finds the key and queues nothing; a moved gathering has a new start, so a new key,
so a reminder for the new date. Each gathering is locked while its reminders are queued, so two
workers never race on the same key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from . import notifications, rsvp
from .clock import from_local, local_zone, to_local, utcnow
from .extensions import db
from .mail import outbox
from .models import (
    Gathering,
    GatheringStatus,
    OutboxMessage,
    Reconfirmation,
    Registration,
)

# Mail that already carries the invitation for the current date: someone who got one of these
# after the reminder moment (registered or promoted late, or the date moved close) has just
# been told, and a reminder on top would be noise.
FRESH_KINDS = ("confirmation", "promotion", "gathering_moved", "gathering_rescheduled")


def reminder_moment(gathering: Gathering) -> datetime | None:
    """When the gathering's reminders become due (None: the gathering sends none).

    Days are counted on the local calendar: two days before 08.00 is 08.00, also across a
    change to or from summer time. Zero days would be the start itself: no reminder.
    """
    if not gathering.reminder_days_before or gathering.reminder_days_before < 0:
        return None
    zone = local_zone(current_app.config["KLYNGE_TIMEZONE"])
    wall_time = to_local(gathering.starts_at, zone).replace(tzinfo=None)
    return from_local(wall_time - timedelta(days=gathering.reminder_days_before), zone)


def reminder_key(registration: Registration) -> str:
    """Once per person, calendar identity and start time."""
    gathering = registration.gathering
    return f"reminder:{registration.id}:{gathering.ical_uid}:{gathering.starts_at:%Y%m%dT%H%M}"


def send_reminders(gathering: Gathering, *, now: datetime) -> int:
    """Queue the due reminders for one gathering; returns how many were queued."""
    rsvp.lock_gathering(gathering)
    moment = reminder_moment(gathering)
    if not _due(gathering, moment, now):
        return 0
    queued = 0
    compose = notifications.MailMerge(lambda registration: notifications.compose_reminder(
        registration, now=now))
    for registration in rsvp.with_seat(gathering):
        key = reminder_key(registration)
        if _queued(key) or _recently_told(registration, since=moment):
            continue
        outbox.enqueue(compose(registration), key=key, now=now, registration=registration)
        queued += 1
    return queued


def send_reconfirm_reminders(gathering: Gathering, *, now: datetime) -> int:
    """Queue one reminder for each person who has not answered by the reconfirm deadline."""
    rsvp.lock_gathering(gathering)
    if not _due(gathering, gathering.reconfirm_deadline, now):
        return 0
    queued = 0
    compose = notifications.MailMerge(lambda registration: notifications.compose_reconfirm_reminder(
        registration, now=now))
    for registration in rsvp.with_seat(gathering):
        if registration.reconfirmation != Reconfirmation.PENDING:
            continue
        key = f"reconfirm-reminder:{registration.id}:{gathering.ical_uid}"
        if _queued(key):
            continue
        outbox.enqueue(compose(registration), key=key, now=now, registration=registration)
        queued += 1
    return queued


def candidates(*, now: datetime) -> list[int]:
    """Ids of the published gatherings that have not begun (the only ones that get reminders)."""
    return list(db.session.scalars(
        sa.select(Gathering.id)
        .where(Gathering.status == GatheringStatus.PUBLISHED, Gathering.starts_at > now)
        .order_by(Gathering.starts_at)
    ))


def run_reminders() -> int:
    """The periodic job: due reminders for every gathering, one transaction per gathering."""
    return _each_gathering(send_reminders)


def run_reconfirm_reminders() -> int:
    """The periodic job: the reminder to answer, once the deadline has passed."""
    return _each_gathering(send_reconfirm_reminders)


def _each_gathering(send) -> int:
    now = utcnow()
    total = 0
    ids = candidates(now=now)
    db.session.commit()  # end the read; each gathering below is its own short transaction
    for gathering_id in ids:
        gathering = db.session.get(Gathering, gathering_id)
        if gathering is not None:
            total += send(gathering, now=now)
        db.session.commit()
    return total


def _queued(key: str) -> bool:
    return db.session.scalar(
        sa.select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    ) is not None


def _recently_told(registration: Registration, *, since: datetime) -> bool:
    return db.session.scalar(
        sa.select(OutboxMessage.id).where(
            OutboxMessage.registration_id == registration.id,
            OutboxMessage.kind.in_(FRESH_KINDS),
            OutboxMessage.created_at >= since,
        ).limit(1)
    ) is not None


def _due(gathering: Gathering, moment: datetime | None, now: datetime) -> bool:
    """Whether mail timed for `moment` goes now: the gathering is published, the moment has
    come, and the gathering has not started."""
    return (gathering.status == GatheringStatus.PUBLISHED and moment is not None
            and moment <= now < gathering.starts_at)
