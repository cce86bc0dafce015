"""The survey after a gathering: sent once to each checked-in person, answered once, anonymously.

`send_surveys(now)` runs from the worker (and `flask klynge send-feedback-surveys`). For each
gathering that has ended and whose survey is still open, every checked-in person with a seat and
no `FeedbackInvitation` gets one: the invitation row and the outbox row are written in the same
transaction, and the invitation's unique registration id (plus the outbox key) means a rerun, a
crash between steps or a second worker sends nothing twice. Answers go to `FeedbackAnswer` with
the gathering and the date only; the invitation just turns `answered` (docs/decisions/0026).
Services flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from . import notifications, rsvp
from .clock import local_zone, to_local, utcnow
from .errors import DomainError
from .extensions import db
from .mail import outbox
from .models import (
    FeedbackAnswer,
    FeedbackInvitation,
    Gathering,
    GatheringStatus,
    Registration,
    RegistrationStatus,
)

TEXT_LIMIT = 2000


class SurveyClosed(DomainError):
    """The survey's days are over."""


class AlreadyAnswered(DomainError):
    """This person has answered already."""


class NotInvited(DomainError):
    """This link never had a survey (not checked in, or not sent yet)."""


def closes_at(gathering: Gathering) -> datetime:
    """The survey is open from the gathering's end for FEEDBACK_OPEN_DAYS days."""
    return gathering.ends_at + timedelta(days=current_app.config["FEEDBACK_OPEN_DAYS"])


def is_open(gathering: Gathering, *, now: datetime) -> bool:
    return gathering.ends_at <= now < closes_at(gathering)


def survey_key(registration: Registration) -> str:
    return f"feedback-survey:{registration.id}"


def due_gatherings(*, now: datetime) -> list[int]:
    """Published gatherings that have ended and whose survey has not closed."""
    earliest_end = now - timedelta(days=current_app.config["FEEDBACK_OPEN_DAYS"])
    return list(db.session.scalars(
        sa.select(Gathering.id)
        .where(Gathering.status == GatheringStatus.PUBLISHED, Gathering.ends_at <= now,
               Gathering.ends_at > earliest_end)
        .order_by(Gathering.ends_at)))


def send_for(gathering: Gathering, *, now: datetime) -> int:
    """Queue the survey for each checked-in person of one gathering not sent it before."""
    rsvp.lock_gathering(gathering)
    if gathering.status != GatheringStatus.PUBLISHED or not is_open(gathering, now=now):
        return 0
    invited = sa.select(FeedbackInvitation.registration_id)
    registrations = db.session.scalars(
        sa.select(Registration)
        .where(Registration.gathering_id == gathering.id,
               Registration.status == RegistrationStatus.CONFIRMED,
               Registration.checked_in_at.is_not(None),
               Registration.anonymised_at.is_(None),
               Registration.id.not_in(invited))
        .order_by(Registration.id)).all()
    for registration in registrations:
        db.session.add(FeedbackInvitation(registration=registration, sent_at=now, answered=False))
        outbox.enqueue(notifications.compose_feedback_survey(
                           registration, closes_at=closes_at(gathering), now=now),
                       key=survey_key(registration), now=now, registration=registration)
    db.session.flush()
    return len(registrations)


def send_surveys(now: datetime) -> int:
    """Every due survey; one transaction per gathering, committed here between gatherings the
    way the reminder job does (this is the job's entry point, not a request's service)."""
    total = 0
    ids = due_gatherings(now=now)
    db.session.commit()
    for gathering_id in ids:
        gathering = db.session.get(Gathering, gathering_id)
        if gathering is not None:
            total += send_for(gathering, now=now)
        db.session.commit()
    return total


def run_send_surveys() -> int:
    """The periodic job."""
    return send_surveys(utcnow())


def invitation_for(registration: Registration) -> FeedbackInvitation | None:
    return db.session.scalar(sa.select(FeedbackInvitation).where(
        FeedbackInvitation.registration_id == registration.id))


def check_can_answer(registration: Registration, *, now: datetime) -> FeedbackInvitation:
    """The invitation, or the reason this link cannot answer (a DomainError)."""
    invitation = invitation_for(registration)
    if invitation is None:
        raise NotInvited(_("Denne lenken har ingen spørreundersøkelse."))
    if invitation.answered:
        raise AlreadyAnswered(_("Takk, du har allerede svart. Hver deltaker kan svare én gang."))
    if not is_open(registration.gathering, now=now):
        raise SurveyClosed(_("Spørreundersøkelsen er stengt."))
    return invitation


def answer(registration: Registration, *, rating: int, useful: str, change: str, wishes: str,
           now: datetime) -> FeedbackAnswer:
    """Store one anonymous answer and mark the invitation answered, in one flush. The row
    lock on the invitation makes a double submit from two tabs answer once."""
    invitation = check_can_answer(registration, now=now)
    db.session.refresh(invitation, with_for_update=True)
    if invitation.answered:
        raise AlreadyAnswered(_("Takk, du har allerede svart. Hver deltaker kan svare én gang."))
    if rating not in range(1, 6):
        raise DomainError(_("Velg en vurdering fra 1 til 5."))
    invitation.answered = True
    zone = local_zone(current_app.config["KLYNGE_TIMEZONE"])
    row = FeedbackAnswer(gathering_id=registration.gathering_id, rating=rating,
                         useful=useful.strip()[:TEXT_LIMIT], change=change.strip()[:TEXT_LIMIT],
                         wishes=wishes.strip()[:TEXT_LIMIT], created_on=to_local(now, zone).date())
    db.session.add(row)
    db.session.flush()
    return row


@dataclass
class Results:
    counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    answers: list[FeedbackAnswer] = field(default_factory=list)
    sent: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def mean(self) -> float | None:
        if not self.total:
            return None
        return sum(rating * n for rating, n in self.counts.items()) / self.total


def results(gathering: Gathering) -> Results:
    """The distribution (counted in SQL), the comments and how many were asked."""
    out = Results()
    for rating, n in db.session.execute(
            sa.select(FeedbackAnswer.rating, sa.func.count())
            .where(FeedbackAnswer.gathering_id == gathering.id)
            .group_by(FeedbackAnswer.rating)):
        out.counts[rating] = n
    out.answers = list(db.session.scalars(
        sa.select(FeedbackAnswer).where(FeedbackAnswer.gathering_id == gathering.id)
        .order_by(FeedbackAnswer.created_on, FeedbackAnswer.id)))
    out.sent = db.session.scalar(
        sa.select(sa.func.count()).select_from(FeedbackInvitation).join(Registration)
        .where(Registration.gathering_id == gathering.id)) or 0
    return out
