"""Announcements: written for a gathering, previewed, then queued once for every recipient.

To a gathering's confirmed registrants or its waiting list, the mail is about the gathering
they registered for and carries their manage link. To the network's mailing list, it carries a
one-click unsubscribe link and the List-Unsubscribe headers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from . import history, mailing_list, notifications
from .errors import DomainError
from .extensions import db
from .gatherings import VISIBLE
from .links import absolute_url
from .mail import outbox
from .mail.outbox import ComposedMail
from .models import (
    Announcement,
    Audience,
    Gathering,
    Organiser,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    Subscriber,
)
from .stored_text import label, said

# The made-up link in a preview with no recipients yet (it leads nowhere).
_SAMPLE_TOKEN = "eksempel"  # noqa: S105 (not a secret)

_REGISTRANTS = {Audience.CONFIRMED: RegistrationStatus.CONFIRMED,
                Audience.WAITING: RegistrationStatus.WAITING}


@dataclass(frozen=True)
class Recipient:
    """One person an announcement goes to."""

    name: str
    email: str
    key: str  # the folded address: one copy per address
    registration: Registration | None = None
    subscriber: Subscriber | None = None


@dataclass(frozen=True)
class Progress:
    """How far the sending has come."""

    total: int
    pending: int
    sent: int
    failed: int

    @property
    def done(self) -> bool:
        return self.pending == 0

    def as_dict(self) -> dict:
        return {"total": self.total, "pending": self.pending, "sent": self.sent,
                "failed": self.failed, "done": self.done}


def _check(gathering: Gathering | None, audience: Audience, subject: str, body: str) -> None:
    if gathering is None:
        raise DomainError(_("Velg samlingen kunngjøringen gjelder."))
    if audience == Audience.MAILING_LIST and gathering.status not in VISIBLE:
        raise DomainError(_("Samlingen er ikke publisert ennå. Publiser den før du forteller "
                            "e-postlisten om den."))
    if not subject.strip() or any(c in subject for c in "\r\n"):
        raise DomainError(_("Skriv et emne på én linje."))
    if not body.strip():
        raise DomainError(_("Skriv teksten i kunngjøringen."))


def create(*, gathering: Gathering, audience: Audience, subject: str, body: str,
           by: Organiser, now: datetime) -> Announcement:
    """A draft announcement; nothing is sent until `send`."""
    _check(gathering, audience, subject, body)
    announcement = Announcement(gathering=gathering, audience=audience, subject=subject.strip(),
                                body=body.strip(), organiser=by, created_at=now,
                                recipient_count=0)
    db.session.add(announcement)
    db.session.flush()
    return announcement


def update(announcement: Announcement, *, gathering: Gathering, audience: Audience,
           subject: str, body: str) -> Announcement:
    """Change a draft (returned); a sent announcement stays as it was sent."""
    if announcement.queued_at is not None:
        raise DomainError(_("Kunngjøringen er sendt og kan ikke endres."))
    _check(gathering, audience, subject, body)
    announcement.gathering = gathering
    announcement.audience = audience
    announcement.subject = subject.strip()
    announcement.body = body.strip()
    db.session.flush()
    return announcement


def suggested_text(gathering: Gathering) -> tuple[str, str]:
    """A subject and a first draft for telling the mailing list about a gathering (in the
    organiser's language: they read and change it before anything is sent)."""
    subject = f"{gathering.format}: {gathering.title}"
    lead = gathering.theme if gathering.theme and gathering.theme != gathering.title else ""
    intro = gathering.description.split("\n\n")[0].strip() if gathering.description else ""
    parts = [_("Velkommen til %(format)s: %(title)s.", format=gathering.format.lower(),
               title=gathering.title)]
    parts += [text for text in (lead, intro) if text]
    parts.append(_("Påmeldingen er åpen nå. Del gjerne invitasjonen med kolleger."))
    return subject, "\n\n".join(parts)


def _recipient_query(gathering: Gathering | None, audience: Audience) -> sa.Select:
    if audience == Audience.MAILING_LIST:
        return mailing_list.subscribed()
    return (sa.select(Registration)
            .where(Registration.gathering_id == (gathering.id if gathering else None),
                   Registration.status == _REGISTRANTS[audience],
                   Registration.anonymised_at.is_(None))  # no address left to write to
            .order_by(Registration.id))


def _recipient(found: Registration | Subscriber) -> Recipient:
    if isinstance(found, Subscriber):
        return Recipient(name=found.name, email=found.email, key=found.email_key, subscriber=found)
    return Recipient(name=found.name, email=found.email, key=found.email_key, registration=found)


def recipients(gathering: Gathering | None, audience: Audience, *,
               limit: int | None = None) -> list[Recipient]:
    """Who the announcement goes to now, one per address."""
    return [_recipient(found) for found in
            db.session.scalars(_recipient_query(gathering, audience).limit(limit))]


def recipient_count(gathering: Gathering | None, audience: Audience) -> int:
    """How many it would go to now."""
    query = _recipient_query(gathering, audience).order_by(None)
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def compose(announcement: Announcement, recipient: Recipient, *, now: datetime) -> ComposedMail:
    """The copy `recipient` gets."""
    manage_url = unsubscribe_url = None
    if recipient.registration is not None:
        manage_url = absolute_url("manage.show", token=recipient.registration.token)
    if recipient.subscriber is not None:
        unsubscribe_url = absolute_url("public.mailing_list_unsubscribe",
                                       token=recipient.subscriber.unsubscribe_token)
    return notifications.compose_announcement(
        announcement, to_name=recipient.name, to_email=recipient.email, now=now,
        manage_url=manage_url, unsubscribe_url=unsubscribe_url,
        # A registrant reads the frame of the mail in the language they registered in.
        language=recipient.registration.language if recipient.registration else None,
    )


def preview(announcement: Announcement, *, now: datetime) -> tuple[ComposedMail, bool] | None:
    """The mail as the first recipient will get it (or a made-up one if there is nobody yet).

    Returns the mail and whether the recipient is made up; None if the gathering is gone.
    """
    if announcement.gathering is None:
        return None
    found = recipients(announcement.gathering, announcement.audience, limit=1)
    if found:
        return compose(announcement, found[0], now=now), False
    sample = Registration(token=_SAMPLE_TOKEN) if announcement.audience in _REGISTRANTS else None
    made_up = Recipient(
        name="Ola Nordmann", email="ola.nordmann@example.no", key="ola.nordmann@example.no",
        registration=sample,
        subscriber=Subscriber(unsubscribe_token=_SAMPLE_TOKEN) if sample is None else None,
    )
    return compose(announcement, made_up, now=now), True


def _key(announcement: Announcement, recipient: Recipient) -> str:
    # The key column holds 200 characters; an address may have 254.
    address = recipient.key if len(recipient.key) <= 150 else \
        "sha256-" + hashlib.sha256(recipient.key.encode()).hexdigest()
    return f"announcement:{announcement.id}:{address}"


def send(announcement: Announcement, *, by: Organiser, now: datetime) -> int:
    """Queue one mail per recipient; returns how many (0 if it was sent before: a double click).

    Everything is queued in the caller's transaction, so either every recipient gets the
    announcement or nobody does; the sender delivers them afterwards.
    """
    db.session.refresh(announcement, with_for_update=True)  # two clicks at once: one waits
    if announcement.queued_at is not None:
        return 0
    gathering = announcement.gathering
    _check(gathering, announcement.audience, announcement.subject, announcement.body)
    found = recipients(gathering, announcement.audience)
    if not found:
        raise DomainError(_("Kunngjøringen har ingen mottakere, så ingenting er sendt."))
    for recipient in found:
        row = outbox.enqueue(compose(announcement, recipient, now=now),
                             key=_key(announcement, recipient), now=now,
                             registration=recipient.registration)
        row.announcement_id = announcement.id
    announcement.queued_at = now
    announcement.recipient_count = len(found)
    history.audit("send", by=by, now=now, gathering=gathering,
                  summary=said("announcement_sent", subject=announcement.subject,
                               audience=label("audience", announcement.audience, lower=True),
                               count=len(found)))
    db.session.flush()
    return len(found)


def progress_of(announcement_ids: list[int]) -> dict[int, Progress]:
    """The progress of several announcements (one query)."""
    if not announcement_ids:
        return {}
    rows = db.session.execute(
        sa.select(OutboxMessage.announcement_id, OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.announcement_id.in_(announcement_ids))
        .group_by(OutboxMessage.announcement_id, OutboxMessage.status)
    )
    counts: dict[int, dict[OutboxStatus, int]] = {i: {} for i in announcement_ids}
    for announcement_id, status, count in rows:
        counts[announcement_id][status] = count
    return {
        i: Progress(total=sum(c.values()), pending=c.get(OutboxStatus.PENDING, 0),
                    sent=c.get(OutboxStatus.SENT, 0), failed=c.get(OutboxStatus.FAILED, 0))
        for i, c in counts.items()
    }


def progress(announcement: Announcement) -> Progress:
    """How many of its mails wait, went out, and failed."""
    return progress_of([announcement.id])[announcement.id]


def listing() -> sa.Select:
    """Every announcement, newest first (a query, for paging)."""
    return (sa.select(Announcement)
            .options(sa.orm.joinedload(Announcement.gathering),
                     sa.orm.joinedload(Announcement.organiser))
            .order_by(Announcement.created_at.desc(), Announcement.id.desc()))
