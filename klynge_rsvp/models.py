"""The database tables: gatherings, organisations, registrations and the mail outbox."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db
from .names import sort_key


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


class Reconfirmation(enum.StrEnum):
    """After an indefinitely postponed gathering gets a new date: is the person still coming?"""

    NOT_ASKED = "not_asked"
    PENDING = "pending"
    YES = "yes"
    NO = "no"


class OrganiserRole(enum.StrEnum):
    ADMINISTRATOR = "administrator"  # everything, including managing organisers
    ORGANISER = "organiser"  # gatherings, registrations, announcements


class Audience(enum.StrEnum):
    """Who an announcement goes to."""

    CONFIRMED = "confirmed"
    WAITING = "waiting"
    MAILING_LIST = "mailing_list"


class SubscriberState(enum.StrEnum):
    CONFIRMED = "confirmed"
    PENDING = "pending"  # signed up, has not confirmed
    UNSUBSCRIBED = "unsubscribed"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class GatheringMode(enum.StrEnum):
    """How a gathering is attended (participation.py)."""

    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"  # in the room or online: each person chooses


class AttendanceMode(enum.StrEnum):
    """How one person attends: in the room or online (participation.py)."""

    IN_PERSON = "in_person"
    ONLINE = "online"


# A sort key compared by code point on every database: SQLite compares text as bytes (BINARY),
# PostgreSQL by the database's locale unless told "C" (names.sort_key).
SORT_KEY_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


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
    # On the network's public list: offered as a suggestion in the registration form whatever
    # its number of registrations (docs/decisions/0022-organisations-however-typed.md).
    listed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    registrations: Mapped[list[Registration]] = relationship(back_populates="organisation")
    aliases: Mapped[list[OrganisationAlias]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"


class OrganisationAlias(db.Model):
    """A name key that leads to an organisation: the key of an organisation merged into it, so
    the name typed that way is found again after the merge ("UiB" → Universitetet i Bergen)."""

    __tablename__ = "organisation_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship(back_populates="aliases")


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
    # of at least this number (see docs/calendar.md).
    ical_uid: Mapped[str] = mapped_column(sa.String(200), unique=True)
    ical_sequence: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Counts the calendar identities: 1 at first, +1 each time a postponed gathering gets a
    # new date and so a new UID (docs/calendar.md, docs/decisions/0005).
    ical_generation: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The start before the last move or postponement (schema.org previousStartDate).
    previous_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Days before the start that confirmed registrants get a reminder; None: no reminder.
    reminder_days_before: Mapped[int | None] = mapped_column(sa.Integer, default=2)
    # After a reschedule: registrants are asked to reconfirm by this instant.
    reconfirm_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # In person, online or hybrid (participation.py). `capacity` is the room's seats, or for an
    # online gathering its online seats; `online_capacity` the online seats of a hybrid one
    # (None: no limit). The meeting link goes only to confirmed online participants.
    mode: Mapped[GatheringMode] = mapped_column(
        _enum(GatheringMode, "gathering_mode"), default=GatheringMode.IN_PERSON)
    online_capacity: Mapped[int | None] = mapped_column(sa.Integer)
    meeting_url: Mapped[str] = mapped_column(sa.String(1000), default="")
    meeting_details: Mapped[str] = mapped_column(sa.Text, default="")

    registrations: Mapped[list[Registration]] = relationship(
        back_populates="gathering", order_by="Registration.id"
    )
    links: Mapped[list[GatheringLink]] = relationship(
        back_populates="gathering", order_by="GatheringLink.position",
        cascade="all, delete-orphan",
    )
    programme: Mapped[list[ProgrammeItem]] = relationship(
        back_populates="gathering", order_by="(ProgrammeItem.starts_at, ProgrammeItem.id)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("online_capacity IS NULL OR online_capacity >= 0",
                           name="online_capacity_not_negative"),
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
    # The name's Norwegian sort key (names.sort_key), kept by `_keep_sort_name`: the lists and
    # downloads are sorted by the database, so a long download streams instead of being sorted
    # in memory. Compared as code points: SQLite's BINARY, PostgreSQL's "C" collation.
    sort_name: Mapped[str] = mapped_column(SORT_KEY_TEXT, default="")
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
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconfirmation: Mapped[Reconfirmation] = mapped_column(
        _enum(Reconfirmation, "reconfirmation"), default=Reconfirmation.NOT_ASKED
    )
    reconfirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last answer from the person's calendar program (iMIP REPLY): ACCEPTED, TENTATIVE…
    calendar_partstat: Mapped[str | None] = mapped_column(sa.String(20))
    calendar_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the personal data was removed (on request, or after the retention period).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # In the room or online; chosen on a hybrid gathering's form, else the gathering's own.
    mode: Mapped[AttendanceMode] = mapped_column(
        _enum(AttendanceMode, "attendance_mode"), default=AttendanceMode.IN_PERSON)

    gathering: Mapped[Gathering] = relationship(back_populates="registrations")
    organisation: Mapped[Organisation] = relationship(back_populates="registrations")
    registered_by: Mapped[Registration | None] = relationship(remote_side=[id])
    events: Mapped[list[RegistrationEvent]] = relationship(
        back_populates="registration", order_by="RegistrationEvent.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        sa.UniqueConstraint("gathering_id", "email_key", name="uq_registrations_gathering_email"),
        sa.Index("ix_registrations_waiting", "gathering_id", "status", "waiting_since"),
        sa.Index("ix_registrations_sorted", "gathering_id", "sort_name", "id"),
    )

    @validates("name")
    def _keep_sort_name(self, _key: str, name: str) -> str:
        self.sort_name = sort_key(name or "")
        return name

    @property
    def ical_sequence(self) -> int:
        """The SEQUENCE of this person's current calendar entry."""
        return self.gathering.ical_sequence + self.ical_sequence_bump

    def __repr__(self) -> str:
        return f"<Registration {self.id} {self.status.value}>"


class MailTemplate(db.Model):
    """A notice to many people, composed once, with a stand-in's details where theirs go.

    A fan-out (a gathering moved, postponed, cancelled) queues one row per person that points
    here; the sender fills in each person's details as it sends (mail/templates.py,
    docs/decisions/0037). Rows no pending mail points to are removed by the daily purge.
    """

    __tablename__ = "mail_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    # notifications.merge's template, as JSON (bytes in base64).
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(db.Model):
    """One email, committed with the change that caused it: composed in full, or (a fan-out's
    notice) a template and the person it goes to, filled in when it is first sent or read."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Makes enqueueing idempotent: the same key is never queued twice.
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    # The bytes as sent; empty while `template_id` says they are still to be filled in.
    stored_message: Mapped[bytes] = mapped_column("message", sa.LargeBinary)
    # No foreign key: the purge removes a template only when no row points to it, and SQLite
    # could not drop a referencing column in the downgrade without copying the table.
    template_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
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
    # Why the last attempt failed: a kind from outcomes.py (named in labels.py),
    # the SMTP reply code if the server gave one, and the server's words (or what went wrong).
    # Rows from before kinds were stored hold only the text (outcomes.of_stored reads it).
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    error_kind: Mapped[str] = mapped_column(sa.String(30), default="", server_default="")
    smtp_code: Mapped[int | None] = mapped_column(sa.Integer)
    # "smtp", or "mailbox" when no SMTP server is configured and mail is read in the browser.
    transport: Mapped[str] = mapped_column(sa.String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    announcement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("announcements.id", ondelete="SET NULL"), index=True
    )

    registration: Mapped[Registration | None] = relationship()

    @hybrid_property
    def message(self) -> bytes:
        """The whole mail: as stored, or (not yet sent) filled in now from its template."""
        if self.template_id is None or self.stored_message:
            return self.stored_message
        from .mail import templates  # needs no model, composes nothing

        template = db.session.get(MailTemplate, self.template_id)
        mail = templates.fill_queued(template and template.body, self.registration,
                                     self.idempotency_key)
        return b"" if mail is None else mail.message  # None: the sender fails it (no one to send to)

    @message.inplace.setter
    def _message_setter(self, value: bytes) -> None:
        self.stored_message = value
        self.template_id = None

    @message.inplace.expression
    @classmethod
    def _message_expression(cls):
        return cls.stored_message

    __table_args__ = (
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        # Finds a person's older unsent mail (claim_due holds the newer back until it is sent).
        sa.Index("ix_outbox_pending_recipient", "recipient", "id",
                 postgresql_where=sa.text("status = 'pending'"),
                 sqlite_where=sa.text("status = 'pending'")),
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status.value}>"


class GatheringLink(db.Model):
    """Material after a gathering: a recording, slides, a report."""

    __tablename__ = "gathering_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(200))
    url: Mapped[str] = mapped_column(sa.String(1000))
    position: Mapped[int] = mapped_column(sa.Integer, default=0)

    gathering: Mapped[Gathering] = relationship(back_populates="links")


class ProgrammeItem(db.Model):
    """One item of a gathering's programme: "08.00 Innledning – Kari Nordmann (Bergen kommune)"."""

    __tablename__ = "programme_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(sa.String(200))
    speakers: Mapped[str] = mapped_column(sa.String(300), default="")  # "Kari Nordmann, Ola Nordmann"
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")  # the speakers'

    gathering: Mapped[Gathering] = relationship(back_populates="programme")

    __table_args__ = (
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="item_ends_after_start"),
    )


class RegistrationEvent(db.Model):
    """One line of a registration's history: what happened, when, and who did it."""

    __tablename__ = "registration_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # e.g. registered, waiting, promoted, cancelled, checked_in, check_in_undone, reconfirmed
    kind: Mapped[str] = mapped_column(sa.String(40))
    # None: the participant themselves (or the system).
    organiser_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    # What the note says (stored_text.py): a code with parameters, put into words when shown,
    # or (note_code "") the literal text, e.g. what an organiser typed.
    note: Mapped[str] = mapped_column(sa.Text, default="")
    note_code: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    note_params: Mapped[dict | None] = mapped_column(sa.JSON)

    registration: Mapped[Registration] = relationship(back_populates="events")
    organiser: Mapped[Organiser | None] = relationship()


class Organiser(UserMixin, db.Model):
    """A person who runs the network's gatherings (Flask-Login user)."""

    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    role: Mapped[OrganiserRole] = mapped_column(
        _enum(OrganiserRole, "organiser_role"), default=OrganiserRole.ORGANISER
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Every session carries the number it was made with; raising it (logout, deactivation, a new
    # password, a new or reset second factor) ends all of the account's sessions on every server.
    session_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # The second factor (TOTP, RFC 6238): the secret in base32 once confirmed, the one being set
    # up until then, and the last time step a code was accepted for (a code works only once).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="organiser", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_administrator(self) -> bool:
        return self.role == OrganiserRole.ADMINISTRATOR

    @property
    def has_second_factor(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    def __repr__(self) -> str:
        return f"<Organiser {self.email!r} {self.role.value}>"


class RecoveryCode(db.Model):
    """One of an organiser's single-use recovery codes (for a lost phone), stored hashed."""

    __tablename__ = "organiser_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organiser: Mapped[Organiser] = relationship(back_populates="recovery_codes")


class OrganiserSignIn(db.Model):
    """An organiser's account at an OpenID Connect provider (auth/oidc.py): the provider's name
    as configured and its stable subject (`sub`). Linked at the first sign-in by verified
    e-mail; after that the provider's subject decides, so an address given to someone else at
    the employer does not open this account. The last sign-in's acr and amr are kept."""

    __tablename__ = "organiser_sign_ins"
    __table_args__ = (sa.UniqueConstraint("provider", "subject"),
                      sa.UniqueConstraint("organiser_id", "provider"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_acr: Mapped[str | None] = mapped_column(sa.String(200))
    last_amr: Mapped[str | None] = mapped_column(sa.String(200))

    organiser: Mapped[Organiser] = relationship()


class LoginThrottle(db.Model):
    """Failed logins for one address (known or not), shared by every app server.

    `key` is a keyed hash of the address as typed (lower-cased), so the table neither lists
    addresses nor tells which of them have accounts.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(db.Model):
    """Who created, changed, published, postponed, cancelled or sent what, and when."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    organiser_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL"), index=True
    )
    # Kept as text so the log still says who it was after an account is deleted.
    actor: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(60))
    gathering_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="SET NULL"), index=True
    )
    # What was done, as a stored text (stored_text.py): code and parameters, or a literal.
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    summary_code: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    summary_params: Mapped[dict | None] = mapped_column(sa.JSON)

    organiser: Mapped[Organiser | None] = relationship()
    gathering: Mapped[Gathering | None] = relationship()


class Subscriber(db.Model):
    """Someone on the network's mailing list (double opt-in: counted once confirmed)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    confirm_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_token)
    unsubscribe_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_subscribed(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Announcement(db.Model):
    """A message from the organisers to a gathering's registrants or to the mailing list."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="SET NULL"), index=True
    )
    audience: Mapped[Audience] = mapped_column(_enum(Audience, "audience"))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    organiser_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipient_count: Mapped[int] = mapped_column(sa.Integer, default=0)

    gathering: Mapped[Gathering | None] = relationship()
    organiser: Mapped[Organiser | None] = relationship()


class ReplyOutcome(enum.StrEnum):
    APPLIED = "applied"  # changed the registration (or confirmed it unchanged)
    IGNORED = "ignored"  # unknown UID or attendee, stale SEQUENCE, cancelled gathering…
    HELD = "held"  # looked forged (DKIM/DMARC failed): waits for an organiser
    REJECTED = "rejected"  # an organiser looked at a held reply and threw it away


class CalendarReply(db.Model):
    """An iMIP REPLY read from the organiser mailbox, and what became of it."""

    __tablename__ = "calendar_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the raw message: the same message is never applied twice.
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    message_id: Mapped[str] = mapped_column(sa.String(998), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sender: Mapped[str] = mapped_column(sa.String(254), default="")
    attendee: Mapped[str] = mapped_column(sa.String(254), default="")
    uid: Mapped[str] = mapped_column(sa.String(300), default="")
    sequence: Mapped[int | None] = mapped_column(sa.Integer)
    partstat: Mapped[str] = mapped_column(sa.String(20), default="")
    outcome: Mapped[ReplyOutcome] = mapped_column(_enum(ReplyOutcome, "reply_outcome"))
    # Why it was not applied, or waits, or what the organiser decided: a stored text
    # (stored_text.py), code and parameters, or a literal.
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    reason_code: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    reason_params: Mapped[dict | None] = mapped_column(sa.JSON)
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    # Kept only while HELD, so an organiser can look at it; emptied once decided.
    raw: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    registration: Mapped[Registration | None] = relationship()
    decided_by: Mapped[Organiser | None] = relationship()


class FormMailSuppression(db.Model):
    """An address whose owner said "not me" to mail the registration form sent them because
    someone else typed it: the form sends it nothing more until the person registers themselves
    (which deletes the row). Keyed like registrations (addresses.key)."""

    __tablename__ = "form_mail_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Certificate(db.Model):
    """The verification code of a checked-in person's attendance certificate (deltakerbevis),
    made at the first download. The code is random (not derived from anything) so it reveals
    nothing and cannot be guessed; the row holds no personal data of its own: the page at
    /bevis/<code> reads name, gathering and hours from the registration, and says "not valid any
    more" once that registration is erased or anonymised (docs/decisions/0021)."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="CASCADE"), unique=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())

    registration: Mapped[Registration] = relationship()


class FeedbackInvitation(db.Model):
    """That a checked-in person was sent the survey after a gathering, and whether they have
    answered. The only link between a person and the survey: the answer itself is stored in
    `feedback_answers` with no reference back (docs/decisions/0026). The unique registration id
    is what makes a second send impossible, even from two workers at once."""

    __tablename__ = "feedback_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="CASCADE"), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    registration: Mapped[Registration] = relationship()


class FeedbackAnswer(db.Model):
    """One anonymous answer to a gathering's survey: no registration, no person, no time of
    day (only the date), so an answer cannot be matched to who was checked in when."""

    __tablename__ = "feedback_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    useful: Mapped[str] = mapped_column(sa.Text, default="")
    change: Mapped[str] = mapped_column(sa.Text, default="")
    wishes: Mapped[str] = mapped_column(sa.Text, default="")
    created_on: Mapped[date] = mapped_column(sa.Date)

    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_one_to_five"),
    )


class RegistryLookup(db.Model):
    """What Enhetsregisteret said about an organisasjonsnummer, kept so that every app process
    asks it once a week (found) or once a day (not found, deleted); failures are never kept
    (registry.py, docs/decisions/0030-enhetsregisteret-lookup.md)."""

    __tablename__ = "registry_lookups"

    org_number: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    # "found", "not_found" or "deleted".
    state: Mapped[str] = mapped_column(sa.String(10))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    # A Sector value, or None when the register's sector code maps to none.
    sector: Mapped[str | None] = mapped_column(sa.String(20))
    # A sub-unit's main unit (underenhet → overordnetEnhet).
    parent_org_number: Mapped[str | None] = mapped_column(sa.String(9))
    deleted_on: Mapped[date | None] = mapped_column(sa.Date)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FigureSnapshot(db.Model):
    """Figures that read the whole history, computed by the worker and read by the pages.

    The overview's reach (distinct people and organisations by sector) reads every registration
    still holding an address; the worker stores it once a minute, so no page request pays for
    it (statistics.py, docs/decisions/0038). Counts only: no personal data.
    """

    __tablename__ = "figure_snapshots"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[dict] = mapped_column(sa.JSON)


class ApiToken(db.Model):
    """An organiser's key to the organiser API (/api/v1/organiser/…): a name they chose, what
    it may read (scopes), and when it ends. The secret is never stored: only the SHA-256 of its
    random part, found by `key_id`, the non-secret part of the token (api_tokens.py,
    docs/decisions/0027). It works only while its organiser's account is active."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    key_id: Mapped[str] = mapped_column(sa.String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, as in OAuth
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organiser: Mapped[Organiser] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class WebhookEndpoint(db.Model):
    """An HTTPS address an organiser registered to be told of events (webhooks.py): which
    events, and the secret each delivery is signed with (kept readable: signing needs it)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    # The event types subscribed to (webhooks.EVENTS), as a JSON list.
    events: Mapped[list] = mapped_column(sa.JSON, default=list)
    secret: Mapped[str] = mapped_column(sa.String(100))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[Organiser | None] = relationship()
    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True)


class WebhookDelivery(db.Model):
    """One event on its way to one endpoint: queued with the change that caused it, sent by
    the worker with retries; the payload is the exact body sent (no personal data: 0028)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(40))
    # The event's id (a UUID), sent as Klynge-Delivery: the receiver's idempotency key. A resend
    # keeps it.
    event_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A worker's claim on the row; a claim whose worker died runs out and the row is retried.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    # Why the last attempt failed: a kind (labels.WEBHOOK_ERROR_LABELS) and the technical words.
    last_error_kind: Mapped[str] = mapped_column(sa.String(30), default="")
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")

    __table_args__ = (
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at",
                 postgresql_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
                 sqlite_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL")),
    )


class SeatRule(db.Model):
    """A gathering's cap on confirmed seats per organisation (issue 16, fair seats): at most
    `organisation_cap` people of one organisation get a seat in the room; the rest wait. No row:
    no cap (docs/decisions/0033)."""

    __tablename__ = "seat_rules"

    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), primary_key=True)
    organisation_cap: Mapped[int | None] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.CheckConstraint("organisation_cap IS NULL OR organisation_cap >= 1",
                           name="organisation_cap_positive"),
    )


class SeatHold(db.Model):
    """Seats of a gathering held for one sector until an instant: until then they count as
    taken for everyone else (minus the seats that sector's people already have). One per sector
    and gathering (docs/decisions/0033)."""

    __tablename__ = "seat_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), index=True)
    sector: Mapped[Sector] = mapped_column(_enum(Sector, "sector"))
    seats: Mapped[int] = mapped_column(sa.Integer)
    held_until: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.UniqueConstraint("gathering_id", "sector", name="uq_seat_holds_gathering_sector"),
        sa.CheckConstraint("seats >= 1", name="seats_positive"),
    )


class QuestionKind(enum.StrEnum):
    """What an organiser's own question asks for (docs/decisions/0032)."""

    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    ONE_CHOICE = "one_choice"
    SEVERAL_CHOICES = "several_choices"
    YES_NO = "yes_no"


class Question(db.Model):
    """An organiser's own question on a gathering's registration form, asked of each person
    (colleagues too). Its answers are personal data: erased and purged with the registration."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gatherings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[QuestionKind] = mapped_column(_enum(QuestionKind, "question_kind"))
    label: Mapped[str] = mapped_column(sa.String(300))
    help_text: Mapped[str] = mapped_column(sa.String(500), default="")
    required: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    gathering: Mapped[Gathering] = relationship()
    choices: Mapped[list[QuestionChoice]] = relationship(
        back_populates="question", order_by="(QuestionChoice.position, QuestionChoice.id)",
        cascade="all, delete-orphan", passive_deletes=True)

    @property
    def has_choices(self) -> bool:
        return self.kind in (QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES)


class QuestionChoice(db.Model):
    """One choice of a choice question. Answers point at its id, so renaming it keeps them."""

    __tablename__ = "question_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        sa.ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    label: Mapped[str] = mapped_column(sa.String(200))

    question: Mapped[Question] = relationship(back_populates="choices")


class Answer(db.Model):
    """One person's answer to one question: a text (short_text, long_text; "yes"/"no" for
    yes_no) or the choices chosen (answer_choices)."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(
        sa.ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    question: Mapped[Question] = relationship()
    registration: Mapped[Registration] = relationship()
    chosen: Mapped[list[AnswerChoice]] = relationship(
        back_populates="answer", cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (
        sa.UniqueConstraint("registration_id", "question_id"),
    )


class AnswerChoice(db.Model):
    """A choice chosen in an answer. Removing the choice removes it from the answers."""

    __tablename__ = "answer_choices"

    answer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    choice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("question_choices.id", ondelete="CASCADE"), primary_key=True, index=True)

    answer: Mapped[Answer] = relationship(back_populates="chosen")
    choice: Mapped[QuestionChoice] = relationship()
