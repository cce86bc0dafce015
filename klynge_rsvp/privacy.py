"""A participant's own data: export it, or erase it (GDPR articles 15, 17 and 20); and the
retention purge, which forgets everyone's personal data once it has served its purpose.

A person can be stored in more places than their registration: the outbox keeps every mail as
sent (name, address, manage link), the audit log and the registration history quote names and
addresses, calendar replies keep the sender and, while held, the whole message, and other
people's free text may name them. Erasure and the purge reach all of them; the README
("Personal data") lists what each one removes and what it keeps.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import sqlalchemy as sa
from flask import current_app

from . import addresses, calendars, mailing_list, questions, rsvp, stored_text
from .extensions import db
from .models import (
    AuditEntry,
    CalendarReply,
    Certificate,
    FeedbackAnswer,
    Gathering,
    GatheringStatus,
    MailTemplate,
    Organiser,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    ReplyOutcome,
    new_token,
)
from .stored_text import said

ERASED_NAME = "Slettet deltaker"
# What takes the place of an address that is nobody's to keep, in the audit log.
ERASED_ADDRESS = "[slettet adresse]"
# The mail that still goes to a person who erases their registration: the cancellation, which
# confirms the erasure and takes the gathering out of their calendar.
LAST_MAIL_KINDS = frozenset({"cancellation"})
# How far back the every-minute pass (worker.py) looks for mail that went out after an erasure;
# the daily purge looks at all of it.
RECENT_MAIL = timedelta(days=2)


def pseudonym(registration_id: int) -> str:
    """What stands for an erased person in the audit log and in other people's text."""
    return f"[slettet person #{registration_id}]"


# --- taking a person out of free text -------------------------------------------------------

# An address in running text: no spaces, brackets, quotes or separators around its @.
_ADDRESS = re.compile(r"[^\s<>()\[\]{},;:\"'«»‘’“”@]+@[^\s<>()\[\]{},;:\"'«»‘’“”@]+")


@dataclass(frozen=True)
class Trace:
    """How one person shows in stored text (their name, their address), and what takes their
    place. `name` may be "" when only the address is known."""

    name: str
    address: str
    replacement: str

    @classmethod
    def of(cls, registration: Registration) -> Trace:
        return cls(registration.name, registration.email, pseudonym(registration.id))


class Scrubber:
    """Takes people's names and addresses out of free text, putting their replacement there.

    An address is found in any form that reaches the same mailbox (case, a Unicode or punycode
    domain); a name as a whole, in any case and spacing, with the address in brackets after it
    ("Ola Nordmann (ola@example.no)") replaced as one.
    """

    def __init__(self, traces: Iterable[Trace]):
        self._by_key: dict[str, str] = {}
        self._names: list[tuple[str, re.Pattern, str]] = []
        for trace in traces:
            if trace.address.strip():
                self._by_key[addresses.key(trace.address)] = trace.replacement
            words = trace.name.split()
            if words:
                name = r"\s+".join(re.escape(word) for word in words)
                pattern = re.compile(
                    rf"(?<!\w){name}(?!\w)(?:\s*\(\s*{re.escape(trace.replacement)}\s*\))?",
                    re.IGNORECASE)
                self._names.append((" ".join(words).lower(), pattern, trace.replacement))

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        if "@" in text and self._by_key:
            text = _ADDRESS.sub(self._address, text)
        if self._names:
            folded = " ".join(text.split()).lower()
            for needle, pattern, replacement in self._names:
                if needle in folded:
                    text = pattern.sub(replacement, text)
                    folded = " ".join(text.split()).lower()
        return text

    def key(self, idempotency_key: str) -> str:
        """An outbox key with the address in it (an announcement's) made anonymous."""
        for key, replacement in self._by_key.items():
            hashed = "sha256-" + hashlib.sha256(key.encode()).hexdigest()
            idempotency_key = idempotency_key.replace(hashed, replacement)
        return self(idempotency_key)

    def _address(self, match: re.Match) -> str:
        token = match.group(0)
        address = token.rstrip(".")  # the full stop after an address ending a sentence
        replacement = self._by_key.get(addresses.key(address))
        return token if replacement is None else replacement + token[len(address):]


def _scrubbed_message(message: OutboxMessage, *, recipient: str, scrub: Scrubber) -> None:
    """Keep only that a mail was sent, of what kind, when and how it went."""
    message.recipient = recipient
    message.subject = scrub(message.subject)
    message.idempotency_key = scrub.key(message.idempotency_key)
    message.message = b""
    message.last_error = ""  # a server's words often quote the address (550 <ola@…>: unknown)


# --- the export -------------------------------------------------------------------------------


def export(registration: Registration) -> dict:
    """Everything stored about this registration, as plain data: the answers, the mail sent
    about it (with the text as the person read it), its history and their calendar replies."""
    gathering = registration.gathering
    return {
        "samling": {
            "tittel": gathering.title,
            "start": gathering.starts_at.isoformat(),
            "slutt": gathering.ends_at.isoformat(),
            "sted": gathering.venue_name,
        },
        "navn": registration.name,
        "e_post": registration.email,
        "stilling": registration.job_title,
        "virksomhet": registration.organisation.name,
        "sektor": registration.organisation.sector.value,
        "organisasjonsnummer": registration.organisation.org_number,
        "behov": registration.needs,
        "kommentar": registration.comment,
        "status": registration.status.value,
        "deltakelse": registration.mode.value,  # in the room or online (kept when anonymised)
        "samtykke_gitt": registration.consented_at.isoformat(),
        "språk": registration.language,
        "påmeldt": registration.created_at.isoformat(),
        "sist_endret": registration.updated_at.isoformat(),
        "avmeldt": registration.cancelled_at.isoformat() if registration.cancelled_at else None,
        "påmeldt_av_kollega": registration.registered_by.name if registration.registered_by else None,
        "kalendersvar_sist": registration.calendar_partstat,
        "e_poster": [_exported_mail(message) for message in rsvp.mails_of(registration)],
        "historikk": [_exported_event(event) for event in registration.events],
        "kalendersvar": [_exported_reply(reply) for reply in db.session.scalars(
            sa.select(CalendarReply).where(CalendarReply.registration_id == registration.id)
            .order_by(CalendarReply.id))],
        "deltakerbevis": _exported_certificate(registration),
        "svar_på_spørsmål": [{"spørsmål": item["question"], "svar": item["answer"]}
                             for item in questions.answers_dict(registration)
                             if item["answer"]],
    }


def _exported_certificate(registration: Registration) -> dict | None:
    # The certificate row holds no personal data, only its code; erasure keeps it so the
    # verification page can say "not valid any more" (it reads the now anonymised registration).
    certificate = db.session.scalar(
        sa.select(Certificate).where(Certificate.registration_id == registration.id))
    if certificate is None:
        return None
    return {"kontrollkode": certificate.code, "utstedt": certificate.issued_at.isoformat()}


def _exported_mail(message: OutboxMessage) -> dict:
    return {
        "type": message.kind,
        "til": message.recipient,
        "emne": message.subject,
        "lagt_i_kø": message.created_at.isoformat(),
        "status": message.status.value,
        "sendt": message.sent_at.isoformat() if message.sent_at else None,
        "tekst": _plain_text(message.message),
    }


def _plain_text(raw: bytes) -> str:
    """The text part of a mail, as the person read it ("" when it has none, or was scrubbed)."""
    if not raw:
        return ""
    body = message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",))
    try:
        return body.get_content() if body is not None else ""
    except (LookupError, UnicodeError):  # an unknown charset: nothing we wrote
        return ""


def _exported_event(event: RegistrationEvent) -> dict:
    return {
        "tid": event.at.isoformat(),
        "hendelse": event.kind,
        "av": "arrangør" if event.organiser_id is not None else "deltakeren eller systemet",
        "merknad": stored_text.shown(event, "note"),
    }


def _exported_reply(reply: CalendarReply) -> dict:
    return {
        "mottatt": reply.received_at.isoformat(),
        "svar": reply.partstat,
        "utfall": reply.outcome.value,
    }


# --- erasure ----------------------------------------------------------------------------------


def erase(registration: Registration, *, now: datetime) -> None:
    """Cancel (freeing the seat, with a last mail; not once the gathering is over) and remove the
    person for good: from the registration, the mail sent to them, the audit log, the history,
    calendar replies and what others of the gathering wrote about them.

    The order: the cancellation is queued first, while their name and address are still known.
    It is the one mail that still goes (it confirms the erasure and takes the gathering out of
    their calendar), with any mail a worker is sending this very moment; other unsent mail to
    them is deleted. Those that still go are scrubbed once sent (or failed) by
    `scrub_delivered_mail`, which the worker runs every minute. Everything else is scrubbed now.

    The organisation and the registration row stay, anonymous, so the network's statistics of
    organisations and sectors survive; audit entries stay, with a pseudonym. The manage link
    stops working.
    """
    trace = Trace.of(registration)
    # After the gathering there is no seat to free and no calendar entry to clear: the status
    # stays as it was, for the attendance figures, and no mail goes.
    if registration.status != RegistrationStatus.CANCELLED and not registration.gathering.is_past(now):
        rsvp.cancel(registration, now=now)
    db.session.flush()
    scrub = Scrubber([trace])
    _scrub_mentions(registration, scrub)
    _scrub_calendar_replies(registration, trace, scrub)
    anonymise(registration, now=now)
    _settle_mail(registration, scrub, now=now)
    db.session.flush()


def _settle_mail(registration: Registration, scrub: Scrubber, *, now: datetime) -> None:
    """Scrub the sent and failed mail of an erased registration; delete the unsent mail that
    need not go (never a message a worker holds: it is sending it, and scrubs it once sent)."""
    db.session.execute(sa.delete(OutboxMessage).where(
        OutboxMessage.registration_id == registration.id,
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.kind.not_in(LAST_MAIL_KINDS),
        _unclaimed(now),
    ).execution_options(synchronize_session="fetch"))
    for message in db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.registration_id == registration.id)):
        if message.status == OutboxStatus.PENDING:
            message.subject = scrub(message.subject)  # the sender reads only address and body
        else:
            _scrubbed_message(message, recipient=registration.email, scrub=scrub)


def _unclaimed(now: datetime):
    """Outbox rows no worker holds a claim on."""
    return sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)


def _scrub_mentions(registration: Registration, scrub: Scrubber) -> None:
    """Take the person out of the gathering's audit entries, and out of what the organisers
    and the other registrants of the gathering wrote (history notes, needs, comments)."""
    gathering_id = registration.gathering_id
    _scrub_audit_of(gathering_id, scrub)
    for event in db.session.scalars(
            sa.select(RegistrationEvent).join(RegistrationEvent.registration)
            .where(Registration.gathering_id == gathering_id,
                   sa.or_(RegistrationEvent.note != "", RegistrationEvent.note_code != ""))):
        stored_text.scrub(event, "note", scrub)
    others = db.session.execute(
        sa.select(Registration.id, Registration.needs, Registration.comment)
        .where(Registration.gathering_id == gathering_id, Registration.id != registration.id,
               sa.or_(Registration.needs != "", Registration.comment != "")))
    for other_id, needs, comment in others.all():
        if (scrub(needs), scrub(comment)) != (needs, comment):
            db.session.execute(sa.update(Registration).where(Registration.id == other_id)
                               .values(needs=scrub(needs), comment=scrub(comment)))
    questions.scrub_text_answers(gathering_id, scrub, besides=registration.id)


def _scrub_calendar_replies(registration: Registration, trace: Trace, scrub: Scrubber) -> None:
    """The person's calendar replies about this gathering: sender, attendee and the message
    go; the answer and what became of it stay. A held one is never applied now."""
    key = addresses.key(trace.address)
    forms = {key, trace.address.strip().lower()}
    uid_base = calendars.uid_base(registration.gathering.ical_uid)
    unlinked = db.session.scalars(sa.select(CalendarReply).where(
        CalendarReply.registration_id.is_(None),
        sa.or_(sa.func.lower(CalendarReply.sender).in_(forms),
               sa.func.lower(CalendarReply.attendee).in_(forms))))
    found = [reply for reply in unlinked if calendars.uid_base(reply.uid) == uid_base]
    found += db.session.scalars(sa.select(CalendarReply).where(
        CalendarReply.registration_id == registration.id))
    for reply in found:
        if addresses.key(reply.sender) == key or reply.registration_id is not None:
            reply.sender = ""
        if addresses.key(reply.attendee) == key or reply.registration_id is not None:
            reply.attendee = ""
        reply.raw = None
        reply.message_id = ""
        stored_text.scrub(reply, "reason", scrub)
        if reply.outcome == ReplyOutcome.HELD:  # a held reply of theirs is never applied
            reply.outcome = ReplyOutcome.IGNORED
            stored_text.store(reply, "reason", said("reply_erased"))


def scrub_delivered_mail(*, now: datetime, within: timedelta | None = None) -> int:
    """Scrub the mail to erased people that was still to go when they erased their registration
    (their last confirmation), now that it has been sent or has failed for good.

    `within`: look only at mail last tried that recently (the worker's frequent pass); None:
    all of it (the daily purge). Returns how many were scrubbed.
    """
    query = (sa.select(OutboxMessage, Registration.email)
             .join(Registration, OutboxMessage.registration_id == Registration.id)
             .where(Registration.anonymised_at.is_not(None),
                    OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
                    OutboxMessage.recipient != Registration.email))
    if within is not None:
        query = query.where(OutboxMessage.next_attempt_at >= now - within)
    scrubbed = 0
    for message, anonymous_address in db.session.execute(query).all():
        scrub = Scrubber([Trace("", message.recipient, pseudonym(message.registration_id))])
        _scrubbed_message(message, recipient=anonymous_address, scrub=scrub)
        scrubbed += 1
    db.session.flush()
    return scrubbed


def anonymise(registration: Registration, *, now: datetime) -> None:
    """Remove the personal data from a registration, keeping what the statistics need."""
    registration.name = ERASED_NAME
    registration.email = f"slettet-{registration.id}@invalid"
    registration.email_key = registration.email
    registration.job_title = ""
    registration.needs = ""
    registration.comment = ""
    registration.token = new_token()
    registration.anonymised_at = now
    registration.updated_at = now
    questions.forget_answers([registration.id])  # the answers to the organisers' questions
    for event in registration.events:
        stored_text.store(event, "note", "")


# --- the retention purge ----------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed."""

    registrations: int = 0  # anonymised
    messages: int = 0  # outbox rows deleted (about old registrations, or to nobody registered)
    erased_mail: int = 0  # mail to erased people scrubbed once it had gone
    calendar_replies: int = 0  # deleted
    audit_entries: int = 0  # with names or addresses taken out
    needs: int = 0  # registrations whose needs answer was deleted
    subscribers: int = 0  # unconfirmed or unsubscribed addresses forgotten
    feedback_texts: int = 0  # survey answers whose free text was deleted (the rating stays)

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))

    def summary(self) -> str:
        return (f"Anonymised {self.registrations} registrations; deleted {self.messages} "
                f"messages, {self.calendar_replies} calendar replies, {self.needs} needs "
                f"answers, {self.subscribers} mailing-list addresses and the texts of "
                f"{self.feedback_texts} survey answers; scrubbed "
                f"{self.audit_entries} audit entries and {self.erased_mail} messages to "
                "erased people.")


def retention_cutoff(now: datetime) -> datetime:
    """Gatherings that ended before this instant have had their personal data kept long enough."""
    return now - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])


def needs_cutoff(now: datetime) -> datetime:
    """Gatherings that ended before this instant no longer need their needs answers."""
    return now - timedelta(days=current_app.config["NEEDS_RETENTION_DAYS"])


def purge_personal_data(*, now: datetime) -> PurgeReport:
    """Forget what is no longer needed; the daily job and `flask klynge purge-personal-data`
    both run exactly this. Idempotent; counts by organisation, sector, status and attendance
    survive.

    - PERSONAL_DATA_RETENTION_DAYS after a gathering: its registrations are anonymised, their
      mail and calendar replies deleted, and their names and addresses in the audit log
      replaced by pseudonyms, and the free text of its survey answers (which may name someone)
      deleted; the ratings stay, as they say nothing about a person. Mail to no registration
      (the mailing list's), calendar replies to no registration, and any address but an
      organiser's in the audit log go once as old.
    - NEEDS_RETENTION_DAYS after a gathering (not one postponed, which still needs them):
      the needs answers (diet, accessibility: possibly health data) are deleted.
    - Mailing-list sign-ups unconfirmed for MAILING_LIST_UNCONFIRMED_DAYS, and addresses that
      left the list MAILING_LIST_UNSUBSCRIBED_DAYS ago, are forgotten with the mail to them.
    - Mail to erased people that was still going out at the erasure is scrubbed.
    """
    config = current_app.config
    cutoff = retention_cutoff(now)
    old_gatherings = sa.select(Gathering.id).where(Gathering.ends_at < cutoff)
    old_registrations = sa.select(Registration.id).where(
        Registration.gathering_id.in_(old_gatherings))
    registrations = db.session.scalars(
        sa.select(Registration).where(Registration.gathering_id.in_(old_gatherings),
                                      Registration.anonymised_at.is_(None))
        .order_by(Registration.gathering_id, Registration.id)
    ).all()
    audit_entries = _pseudonymise_audit(registrations)
    for registration in registrations:
        anonymise(registration, now=now)
    messages = _deleted(sa.delete(OutboxMessage).where(
        sa.or_(OutboxMessage.registration_id.in_(old_registrations),
               sa.and_(OutboxMessage.registration_id.is_(None), OutboxMessage.created_at < cutoff)),
        _unclaimed(now)))
    calendar_replies = _deleted(sa.delete(CalendarReply).where(
        sa.or_(CalendarReply.registration_id.in_(old_registrations),
               sa.and_(CalendarReply.registration_id.is_(None),
                       CalendarReply.received_at < cutoff))))
    audit_entries += _forget_old_addresses_in_audit(cutoff)
    feedback_texts = _deleted(sa.update(FeedbackAnswer).where(
        FeedbackAnswer.gathering_id.in_(old_gatherings),
        sa.or_(FeedbackAnswer.useful != "", FeedbackAnswer.change != "",
               FeedbackAnswer.wishes != ""),
    ).values(useful="", change="", wishes=""))
    needs = _deleted(sa.update(Registration).where(
        Registration.needs != "",
        Registration.gathering_id.in_(sa.select(Gathering.id).where(
            Gathering.ends_at < needs_cutoff(now), Gathering.status != GatheringStatus.POSTPONED)),
    ).values(needs=""))
    subscribers = (
        mailing_list.forget_unconfirmed(now=now, days=config["MAILING_LIST_UNCONFIRMED_DAYS"])
        + mailing_list.forget_unsubscribed(now=now, days=config["MAILING_LIST_UNSUBSCRIBED_DAYS"]))
    erased_mail = scrub_delivered_mail(now=now)
    # Fan-out templates no queued notice is filled in from any more (decision 0037).
    _deleted(sa.delete(MailTemplate).where(
        ~sa.exists().where(OutboxMessage.template_id == MailTemplate.id)))
    # Enhetsregisteret's answers past their use (a sole proprietorship's name is a person's).
    from . import registry

    registry.forget_stale(now=now)
    db.session.flush()
    return PurgeReport(registrations=len(registrations), messages=messages,
                       erased_mail=erased_mail, calendar_replies=calendar_replies,
                       audit_entries=audit_entries, needs=needs, subscribers=subscribers,
                       feedback_texts=feedback_texts)


def _deleted(statement) -> int:
    """Run a bulk DELETE or UPDATE (the session forgets what it held of those rows)."""
    count = db.session.execute(statement.execution_options(synchronize_session="fetch")).rowcount
    return count or 0


def _pseudonymise_audit(registrations: list[Registration]) -> int:
    """Put pseudonyms for these people's names and addresses in their gatherings' audit
    entries (before they are anonymised). Returns how many entries changed."""
    by_gathering: dict[int, list[Trace]] = {}
    for registration in registrations:
        by_gathering.setdefault(registration.gathering_id, []).append(Trace.of(registration))
    return sum(_scrub_audit_of(gathering_id, Scrubber(traces))
               for gathering_id, traces in by_gathering.items())


def _scrub_audit_of(gathering_id: int, scrub: Scrubber) -> int:
    """Scrub the audit entries about a gathering; returns how many changed."""
    changed = 0
    for entry in db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.gathering_id == gathering_id,
            sa.or_(AuditEntry.summary != "", AuditEntry.summary_code != ""))):
        changed += stored_text.scrub(entry, "summary", scrub)
    return changed


def _forget_old_addresses_in_audit(cutoff: datetime) -> int:
    """Replace every address but an organiser's (or the sending address) in audit entries older
    than `cutoff`: who did what is kept, not whom it concerned. Returns how many changed."""
    kept = {addresses.key(email) for email in db.session.scalars(sa.select(Organiser.email))}
    kept.add(addresses.key(calendars.organizer()[1]))

    def replace(match: re.Match) -> str:
        token = match.group(0)
        address = token.rstrip(".")
        if addresses.key(address) in kept:
            return token
        return ERASED_ADDRESS + token[len(address):]

    changed = 0
    for entry in db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.at < cutoff, stored_text.mentions(AuditEntry, "summary", "@"))):
        changed += stored_text.scrub(entry, "summary", lambda text: _ADDRESS.sub(replace, text))
    return changed
