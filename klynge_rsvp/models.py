"""The database tables: gatherings, organisations, registrations and the mail outbox."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC instant on every database (SQLite has no time zones).

    Refuses naive datetimes on the way in, so a wall-clock time can never be stored by mistake.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware instants only")
        value = value.astimezone(UTC)
        # SQLite keeps the string it is given; store naive UTC there so ordering is textual.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_token() -> str:
    """An unguessable secret for a manage link (256 bits)."""
    return secrets.token_urlsafe(32)


class Sector(enum.StrEnum):
    PUBLIC = "offentlig"
    PRIVATE = "privat"
    NON_PROFIT = "ideell"
    VOLUNTEER = "frivillig"


class GatheringStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"


class RegistrationStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def _enum(enum_class: type[enum.Enum], name: str) -> sa.Enum:
    """Store an enum by value, as a VARCHAR with a CHECK constraint (portable and readable)."""
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The name folded for comparison, so "Bergen Røde Kors" and " bergen røde  kors" are one.
    name_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    sector: Mapped[Sector] = mapped_column(_enum(Sector, "sector"))
    org_number: Mapped[str | None] = mapped_column(sa.String(9), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    registrations: Mapped[list[Registration]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"


class Gathering(db.Model):
    __tablename__ = "gatherings"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    theme: Mapped[str] = mapped_column(sa.String(300), default="")
    format: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    host: Mapped[str] = mapped_column(sa.String(200), default="")
    venue_name: Mapped[str] = mapped_column(sa.String(200))
    venue_address: Mapped[str] = mapped_column(sa.String(300), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int | None] = mapped_column(sa.Integer)
    registration_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[GatheringStatus] = mapped_column(
        _enum(GatheringStatus, "gathering_status"), default=GatheringStatus.DRAFT
    )
    # What the organisers said when the gathering was postponed or cancelled.
    status_message: Mapped[str] = mapped_column(sa.Text, default="")
    # The calendar identity: every invite for this gathering carries this UID and a SEQUENCE
    # of at least this number (see DESIGN.md, calendar semantics).
    ical_uid: Mapped[str] = mapped_column(sa.String(200), unique=True)
    ical_sequence: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    registrations: Mapped[list[Registration]] = relationship(
        back_populates="gathering", order_by="Registration.id"
    )

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
    )

    def is_past(self, now: datetime) -> bool:
        """Past once it has ended; 'past' is derived, never stored."""
        return self.ends_at <= now

    def registration_open(self, now: datetime) -> bool:
        """Whether new registrations are accepted at `now`."""
        if self.status != GatheringStatus.PUBLISHED or self.starts_at <= now:
            return False
        return self.registration_deadline is None or now < self.registration_deadline

    def __repr__(self) -> str:
        return f"<Gathering {self.slug!r}>"


class Registration(db.Model):
    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(sa.ForeignKey("gatherings.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    # Who filled in the form, when a person registered colleagues along with themselves.
    registered_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254))
    # Lower-cased address: one registration per address and gathering.
    email_key: Mapped[str] = mapped_column(sa.String(254))
    job_title: Mapped[str] = mapped_column(sa.String(200), default="")
    needs: Mapped[str] = mapped_column(sa.Text, default="")
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RegistrationStatus] = mapped_column(
        _enum(RegistrationStatus, "registration_status")
    )
    # Arrival order on the waiting list.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_token)
    language: Mapped[str] = mapped_column(sa.String(5), default="nb")
    # Added to the gathering's SEQUENCE for this person's calendar: their own cancellation
    # must outrank every invite they had, and a later re-registration must outrank that.
    ical_sequence_bump: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    gathering: Mapped[Gathering] = relationship(back_populates="registrations")
    organisation: Mapped[Organisation] = relationship(back_populates="registrations")
    registered_by: Mapped[Registration | None] = relationship(remote_side=[id])

    __table_args__ = (
        sa.UniqueConstraint("gathering_id", "email_key", name="uq_registrations_gathering_email"),
        sa.Index("ix_registrations_waiting", "gathering_id", "status", "waiting_since"),
    )

    @property
    def ical_sequence(self) -> int:
        """The SEQUENCE of this person's current calendar entry."""
        return self.gathering.ical_sequence + self.ical_sequence_bump

    def __repr__(self) -> str:
        return f"<Registration {self.id} {self.status.value}>"


class OutboxMessage(db.Model):
    """One email, composed in full and committed with the change that caused it."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Makes enqueueing idempotent: the same key is never queued twice.
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    message: Mapped[bytes] = mapped_column(sa.LargeBinary)
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A worker's claim on the row; a claim whose worker died expires and the row is retried.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    # "smtp", or "mailbox" when no SMTP server is configured and mail is read in the browser.
    transport: Mapped[str] = mapped_column(sa.String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    registration: Mapped[Registration | None] = relationship()

    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status.value}>"
