"""Calendar replies: the iMIP METHOD:REPLY a calendar program sends when a registrant clicks
Accept, Tentative or Decline, read from a message and applied to their registration.

Reading is pure (bytes in, data out). Applying is a service: it records every reply it sees as
a CalendarReply (fingerprint = sha256 of the raw message, unique, so a message counts once even
with several fetchers) and changes nothing but the replying person's own registration. A reply
is applied by itself only when our mail server proved who sent it (mail_authentication); any
other waits for an organiser.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

import sqlalchemy as sa
from flask_babel import gettext as _

from . import calendars, history, mail_authentication, rsvp, stored_text
from .errors import DomainError
from .extensions import db
from .models import (
    CalendarReply,
    Gathering,
    GatheringStatus,
    Organiser,
    Reconfirmation,
    Registration,
    RegistrationStatus,
    ReplyOutcome,
)
from .stored_text import Stored, said

# The answers that change a registration (RFC 5545 PARTSTAT for a VEVENT); labels.ANSWER_LABELS
# names them.
ANSWERS = frozenset({"ACCEPTED", "TENTATIVE", "DECLINED"})

_CALENDAR_TYPES = {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics"}
_ADDRESS = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+")


# --- reading a message (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One ATTENDEE line of a reply: who answered what."""

    address: str
    name: str
    partstat: str


@dataclass(frozen=True)
class EventReply:
    """One VEVENT of a METHOD:REPLY calendar."""

    uid: str
    sequence: int | None
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class ReplyMessage:
    """A message that holds at least one calendar reply."""

    raw: bytes
    fingerprint: str
    message_id: str
    subject: str
    sender: str  # the From address; "" unless there is exactly one well-formed one
    events: tuple[EventReply, ...]
    authentication: mail_authentication.Verdict


def fingerprint(raw: bytes) -> str:
    """sha256 of the raw message: the same message is recognised however often it is read."""
    return hashlib.sha256(raw).hexdigest()


def read_message(raw: bytes, *, authserv_id: str = "") -> ReplyMessage | None:
    """The calendar replies in a raw message, or None when it holds none (any other mail)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    events: list[EventReply] = []
    for text, mime_method in calendar_texts(message):
        for event in parse_calendar(text, mime_method=mime_method):
            if event not in events:  # Gmail sends the same reply inline and as invite.ics
                events.append(event)
    if not events:
        return None
    return ReplyMessage(
        raw=raw,
        fingerprint=fingerprint(raw),
        message_id=_header_text(message, "Message-ID"),
        subject=_header_text(message, "Subject"),
        sender=sender_address(message),
        events=tuple(events),
        authentication=authentication_verdict(message, authserv_id=authserv_id),
    )


def calendar_texts(message: Message) -> list[tuple[str, str]]:
    """(text, METHOD from the MIME type) of every calendar part, inline or attached.

    Messages forwarded inside this one (message/rfc822) are not looked into: a forwarded reply
    is somebody else's answer.
    """
    found: list[tuple[str, str]] = []
    _collect_calendar_texts(message, found)
    return found


def _collect_calendar_texts(part: Message, found: list[tuple[str, str]]) -> None:
    if part.is_multipart():
        if part.get_content_type() == "message/rfc822":
            return
        for child in part.get_payload():
            _collect_calendar_texts(child, found)
        return
    content_type = part.get_content_type()
    filename = (part.get_filename() or "").lower()
    if content_type not in _CALENDAR_TYPES and not (
            content_type == "application/octet-stream" and filename.endswith(".ics")):
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", errors="replace")
    found.append((text.lstrip("\ufeff"), str(part.get_param("method") or "").upper()))


def parse_calendar(text: str, *, mime_method: str = "") -> list[EventReply]:
    """The VEVENTs of every VCALENDAR in `text` whose METHOD is REPLY.

    A calendar without METHOD counts when its MIME type says method=REPLY.
    """
    replies: list[EventReply] = []
    method = ""
    stack: list[str] = []
    event: dict | None = None
    for name, params, value in content_lines(text):
        if name == "BEGIN":
            stack.append(value.upper())
            if value.upper() == "VCALENDAR":
                method = ""
            elif value.upper() == "VEVENT" and stack[:1] == ["VCALENDAR"]:
                event = {"uid": "", "sequence": None, "answers": []}
        elif name == "END":
            closed = stack.pop() if stack else ""
            if closed == "VEVENT" and event is not None:
                if (method or mime_method) == "REPLY" and event["uid"]:
                    replies.append(EventReply(event["uid"], event["sequence"],
                                              tuple(event["answers"])))
                event = None
        elif stack == ["VCALENDAR"] and name == "METHOD":
            method = value.strip().upper()
        elif event is not None and stack[-1:] == ["VEVENT"]:
            if name == "UID":
                event["uid"] = _unescape_text(value).strip()
            elif name == "SEQUENCE":
                event["sequence"] = int(value) if value.strip().isdigit() else None
            elif name == "ATTENDEE":
                answer = _answer(params, value)
                if answer is not None:
                    event["answers"].append(answer)
    return replies


def content_lines(text: str) -> list[tuple[str, dict[str, str], str]]:
    """RFC 5545 content lines, unfolded: (NAME, {PARAM: value}, value)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = []
    for line in unfolded.split("\n"):
        parsed = _content_line(line)
        if parsed is not None:
            lines.append(parsed)
    return lines


def _content_line(line: str) -> tuple[str, dict[str, str], str] | None:
    match = re.match(r"[A-Za-z0-9-]+", line)
    if match is None:
        return None
    name, i, params = match.group(0).upper(), match.end(), {}
    while i < len(line) and line[i] == ";":
        key_match = re.match(r"[A-Za-z0-9-]+=", line[i + 1:])
        if key_match is None:
            return None
        key = key_match.group(0)[:-1].upper()
        i += 1 + key_match.end()
        values = []
        while True:
            if line[i:i + 1] == '"':
                end = line.find('"', i + 1)
                if end < 0:
                    return None
                values.append(line[i + 1:end])
                i = end + 1
            else:
                end = i
                while end < len(line) and line[end] not in ',;:':
                    end += 1
                values.append(line[i:end])
                i = end
            if line[i:i + 1] != ",":
                break
            i += 1
        # RFC 6868 escapes in a parameter value; an unquoted comma (Outlook's CN) is kept.
        params[key] = ",".join(values).replace("^n", " ").replace("^'", '"').replace("^^", "^")
    if line[i:i + 1] != ":":
        return None
    return name, params, line[i + 1:]


def _answer(params: dict[str, str], value: str) -> Answer | None:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        address = value[len("mailto:"):].strip()
    else:  # e.g. an urn:uuid: attendee with the address in EMAIL= (RFC 7986)
        address = params.get("EMAIL", "").strip()
    if not _ADDRESS.fullmatch(address):
        return None
    return Answer(address=address, name=params.get("CN", "").strip(),
                  partstat=params.get("PARTSTAT", "NEEDS-ACTION").strip().upper())


def _unescape_text(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _header_text(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        text = str(value)
    return " ".join(text.split())


def sender_address(message: Message) -> str:
    """The From address, if the message has exactly one well-formed From address."""
    values = message.get_all("From") or []
    addresses = [address for _, address in getaddresses([str(v) for v in values])]
    if len(addresses) != 1 or not _ADDRESS.fullmatch(addresses[0]):
        return ""
    return addresses[0]


def authentication_verdict(message: Message, *, authserv_id: str = "") -> mail_authentication.Verdict:
    """Whether our mail server (REPLY_AUTHSERV_ID) proved the From address: see
    mail_authentication. Without `authserv_id` nothing is proven."""
    headers = [str(value) for value in message.get_all("Authentication-Results") or []]
    return mail_authentication.judge(headers, sender=sender_address(message), authserv_id=authserv_id)


# --- applying a reply (service) -----------------------------------------------------------------


@dataclass
class Decision:
    """What a reply would do: its answer, the registration it concerns, and why not, if not."""

    answer: Answer | None = None
    event: EventReply | None = None
    registration: Registration | None = None
    reason: Stored | None = None  # why it changes nothing (stored_text.said); None: it applies


def receive(message: ReplyMessage, *, now: datetime) -> CalendarReply | None:
    """Record a reply read from the mailbox and apply it, or hold it for an organiser when our
    mail server did not prove the sender (see mail_authentication).

    Returns None when this message was recorded before. The CalendarReply row is flushed
    before anything changes, so a second fetcher reading the same message at the same time
    fails on the unique fingerprint (IntegrityError) and its transaction changes nothing.
    """
    if _already_recorded(message.fingerprint):
        return None
    row = CalendarReply(
        fingerprint=message.fingerprint,
        message_id=_fit(message.message_id, 998),
        received_at=now,
        sender=_fit(message.sender, 254),
        outcome=ReplyOutcome.IGNORED,
    )
    db.session.add(row)
    db.session.flush()  # a concurrent fetcher with the same message waits or fails here
    decision = decide(message, now=now)
    _describe(row, decision, message)
    if decision.reason:
        stored_text.store(row, "reason", decision.reason)
    elif not message.authentication.proven:
        row.outcome = ReplyOutcome.HELD
        stored_text.store(row, "reason", said("reply_held", why=why_held(message.authentication)))
        row.raw = message.raw
    else:
        _apply(decision, now=now)
        row.outcome = ReplyOutcome.APPLIED
    db.session.flush()
    return row


def why_held(verdict: mail_authentication.Verdict) -> Stored | None:
    """Why a reply waits for an organiser (a stored text), with our server's results; None if
    proven."""
    problem, domain = verdict.problem, verdict.sender_domain or said("unknown")
    if problem is None:
        return None
    if problem == mail_authentication.Problem.NOT_CONFIGURED:
        return said("held_not_configured")
    if problem == mail_authentication.Problem.NO_HEADER:
        return said("held_no_header", server=verdict.authserv_id)
    results = ", ".join(verdict.relevant) or said("no_results")
    if problem == mail_authentication.Problem.DMARC_FAIL:
        why = said("held_dmarc_failed", domain=domain)
    elif problem == mail_authentication.Problem.OTHER_DOMAIN:
        why = said("held_other_domain", claimed=verdict.claimed_domain, domain=domain)
    else:
        why = said("held_unproven", domain=domain)
    return said("held_with_results", why=why, results=results)


def decide(message: ReplyMessage, *, now: datetime) -> Decision:
    """Which registration the reply concerns, and whether it may change it (no changes)."""
    decision = Decision()
    answers = [(event, answer) for event in message.events for answer in event.answers]
    if not answers:
        decision.reason = said("reply_no_attendee")
        return decision
    own = [(event, answer) for event, answer in answers
           if message.sender and rsvp.email_key(answer.address) == rsvp.email_key(message.sender)]
    if not own:
        decision.event, decision.answer = answers[0]
        decision.reason = said("reply_not_sender", sender=message.sender or said("unknown"),
                               attendee=answers[0][1].address)
        return decision
    distinct = {(event.uid, event.sequence, rsvp.email_key(answer.address), answer.partstat)
                for event, answer in own}
    decision.event, decision.answer = own[0]
    if len(distinct) > 1:
        decision.reason = said("reply_conflicting")
        return decision
    return _check(decision, now=now)


def _check(decision: Decision, *, now: datetime) -> Decision:
    event, answer = decision.event, decision.answer
    gathering = find_gathering(event.uid)
    if gathering is None:
        decision.reason = said("reply_unknown_uid")
        return decision
    registration = db.session.scalar(sa.select(Registration).where(
        Registration.gathering_id == gathering.id,
        Registration.email_key == rsvp.email_key(answer.address)))
    decision.registration = registration
    sequence = event.sequence or 0  # RFC 5545: no SEQUENCE means 0
    if registration is None:
        decision.reason = said("reply_no_registration", address=answer.address,
                               title=gathering.title)
    elif gathering.status == GatheringStatus.CANCELLED:
        decision.reason = said("reply_gathering_cancelled", title=gathering.title)
    elif event.uid != gathering.ical_uid:
        decision.reason = said("reply_old_uid")
    elif sequence < registration.ical_sequence:
        decision.reason = said("reply_old_sequence", sequence=sequence,
                               current=registration.ical_sequence)
    elif registration.status == RegistrationStatus.CANCELLED:
        decision.reason = said("reply_already_cancelled")
    elif gathering.is_past(now):
        decision.reason = said("reply_gathering_over", title=gathering.title)
    elif answer.partstat not in ANSWERS:
        decision.reason = said("reply_changes_nothing", answer=answer.partstat)
    return decision


def _apply(decision: Decision, *, now: datetime, by: Organiser | None = None,
           confirmed: bool = False) -> None:
    """Make the registration say what the person answered (the decision had no reason);
    `confirmed`: an organiser vouched for a held reply."""
    registration, partstat = decision.registration, decision.answer.partstat
    registration.calendar_partstat = partstat
    registration.calendar_replied_at = now
    registration.updated_at = now
    history.record(registration, "calendar_reply", now=now, by=by,
                   note=said("note_calendar_answer_confirmed" if confirmed else "note_calendar_answer",
                             answer=stored_text.label("answer", partstat, lower=True)))
    if partstat == "ACCEPTED" and registration.reconfirmation == Reconfirmation.PENDING:
        registration.reconfirmation = Reconfirmation.YES
        registration.reconfirmed_at = now
        history.record(registration, "reconfirmed", now=now, by=by,
                       note=said("note_still_coming_calendar"))
    elif partstat == "DECLINED":
        if registration.reconfirmation == Reconfirmation.PENDING:
            registration.reconfirmation = Reconfirmation.NO
            registration.reconfirmed_at = now
        db.session.flush()  # rsvp.cancel reloads the registration
        rsvp.cancel(registration, now=now, by=by, note=said(
            "note_cancelled_by_calendar_confirmed" if confirmed else "note_cancelled_by_calendar"))


def find_gathering(uid: str) -> Gathering | None:
    """The gathering whose calendar identity (any generation) `uid` is."""
    base = calendars.uid_base(uid)
    local, _, host = base.partition("@")
    pattern = _like_escape(local) + "-r%@" + _like_escape(host)
    candidates = db.session.scalars(sa.select(Gathering).where(sa.or_(
        Gathering.ical_uid == base, Gathering.ical_uid.like(pattern, escape="\\"))))
    for gathering in candidates:
        if calendars.uid_base(gathering.ical_uid) == base:
            return gathering
    return None


def _describe(row: CalendarReply, decision: Decision, message: ReplyMessage) -> None:
    event = decision.event or (message.events[0] if message.events else None)
    row.uid = _fit(event.uid if event else "", 300)
    row.sequence = event.sequence if event else None
    row.attendee = _fit(decision.answer.address if decision.answer else "", 254)
    row.partstat = _fit(decision.answer.partstat if decision.answer else "", 20)
    row.registration = decision.registration


def _already_recorded(fingerprint_: str) -> bool:
    return db.session.scalar(
        sa.select(CalendarReply.id).where(CalendarReply.fingerprint == fingerprint_)) is not None


def _fit(value: str, length: int) -> str:
    """Text from a stranger's message, made storable: no NUL (PostgreSQL refuses it), bounded."""
    return value.replace("\x00", "")[:length]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- held replies: an organiser decides ---------------------------------------------------------


def held(limit: int = 200) -> list[CalendarReply]:
    """Replies set aside because our mail server did not prove the sender, oldest first."""
    return list(db.session.scalars(
        sa.select(CalendarReply).where(CalendarReply.outcome == ReplyOutcome.HELD)
        .order_by(CalendarReply.received_at, CalendarReply.id).limit(limit)))


def recent(limit: int = 50) -> list[CalendarReply]:
    """The latest replies that were applied, ignored or decided, newest first."""
    return list(db.session.scalars(
        sa.select(CalendarReply).where(CalendarReply.outcome != ReplyOutcome.HELD)
        .order_by(CalendarReply.received_at.desc(), CalendarReply.id.desc()).limit(limit)))


def held_message(reply: CalendarReply, *, authserv_id: str = "") -> ReplyMessage | None:
    """The held reply's message, read again from the raw bytes kept for the organiser."""
    return read_message(reply.raw, authserv_id=authserv_id) if reply.raw else None


@dataclass(frozen=True)
class HeldReply:
    """A held reply as an organiser sees it: the message, and why it waits (a stored text)."""

    reply: CalendarReply
    message: ReplyMessage | None
    why: Stored | str


def held_for_review(*, authserv_id: str, limit: int = 200) -> list[HeldReply]:
    """The held replies, each with its message read again (with today's REPLY_AUTHSERV_ID)."""
    found = []
    for reply in held(limit):
        message = held_message(reply, authserv_id=authserv_id)
        why = why_held(message.authentication) if message is not None else None
        found.append(HeldReply(reply, message, why or stored_text.stored(reply, "reason")))
    return found


def confirm(reply: CalendarReply, *, by: Organiser, now: datetime) -> CalendarReply:
    """An organiser vouches for a held reply: apply it, if it still applies."""
    _lock_held(reply)
    message = held_message(reply)
    decision = decide(message, now=now) if message is not None else Decision(
        reason=said("reply_unreadable"))
    if decision.reason:
        reply.outcome = ReplyOutcome.IGNORED
        stored_text.store(reply, "reason", said("reply_confirmed_ignored", reason=decision.reason))
    else:
        _apply(decision, now=now, by=by, confirmed=True)
        reply.outcome = ReplyOutcome.APPLIED
        stored_text.store(reply, "reason", said("reply_confirmed"))
    _decided(reply, by=by, now=now)
    gathering = decision.registration.gathering if decision.registration else None
    who = {"answer": reply.partstat, "attendee": reply.attendee}
    history.audit("calendar_reply_confirmed", by=by, now=now, gathering=gathering,
                  summary=said("calendar_reply_confirmed_ignored", **who, reason=decision.reason)
                  if decision.reason else said("calendar_reply_confirmed", **who))
    return reply


def reject(reply: CalendarReply, *, by: Organiser, now: datetime) -> CalendarReply:
    """An organiser throws a held reply away: the registration stays as it is."""
    _lock_held(reply)
    reply.outcome = ReplyOutcome.REJECTED
    stored_text.store(reply, "reason", said("reply_rejected"))
    _decided(reply, by=by, now=now)
    gathering = reply.registration.gathering if reply.registration else None
    history.audit("calendar_reply_rejected", by=by, now=now, gathering=gathering,
                  summary=said("calendar_reply_rejected", answer=reply.partstat,
                               attendee=reply.attendee))
    return reply


def _lock_held(reply: CalendarReply) -> None:
    db.session.refresh(reply, with_for_update=True)
    if reply.outcome != ReplyOutcome.HELD:
        raise DomainError(_("Dette kalendersvaret er allerede behandlet."))


def _decided(reply: CalendarReply, *, by: Organiser, now: datetime) -> None:
    reply.raw = None
    reply.decided_by = by
    reply.decided_at = now
    db.session.flush()
