"""Calendar replies: reading them from messages (pure), applying them (service), holding the
ones whose sender our mail server did not prove, and the organiser page for held replies."""

from datetime import timedelta
from email import message_from_bytes

import pytest
import sqlalchemy as sa

from klynge_rsvp import calendars, replies, reply_fetcher, rsvp
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    AuditEntry,
    CalendarReply,
    GatheringStatus,
    Organiser,
    OutboxMessage,
    Reconfirmation,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    ReplyOutcome,
)
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, person, registration_request
from tests.imap_helpers import (
    AUTHSERV_ID,
    ORGANIZER,
    PASS,
    apple_reply,
    gmail_reply,
    outlook_reply,
    plain_mail,
    reply_calendar,
)
from tests.pages import csrf_token, text

UID = "0b8a3c1e-5a4f-4f57-9d7e-7f6f5e3b9c21@rsvp.test"
FAIL = ("mx.rsvp.test; dkim=fail (body hash did not verify) header.d=example.no header.s=sel1; "
        "spf=softfail smtp.mailfrom=example.no; dmarc=fail (p=NONE) header.from=example.no")


@pytest.fixture
def app_config(app_config):
    """The organiser mailbox's server is mx.rsvp.test (the helpers' replies pass there)."""
    app_config["REPLY_AUTHSERV_ID"] = AUTHSERV_ID
    return app_config


# --- reading (pure) ------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [outlook_reply, gmail_reply, apple_reply])
@pytest.mark.parametrize("partstat", ["ACCEPTED", "TENTATIVE", "DECLINED"])
def test_each_calendar_program_shape_is_read(build, partstat):
    raw = build(uid=UID, address="Kari.Nordmann@Example.no", partstat=partstat, sequence=2)
    message = replies.read_message(raw, authserv_id=AUTHSERV_ID)
    assert message is not None
    assert message.sender == "Kari.Nordmann@Example.no"
    assert message.fingerprint == replies.fingerprint(raw)
    [event] = message.events  # Gmail's inline part and its invite.ics are one reply
    assert event.uid == UID
    assert event.sequence == 2
    [answer] = event.answers
    assert answer.address.lower() == "kari.nordmann@example.no"
    assert answer.partstat == partstat
    assert message.authentication.proven
    assert message.authentication.sender_domain == "example.no"


def test_display_names_with_commas_and_quotes_survive_folding():
    outlook = replies.read_message(outlook_reply(uid=UID, address="kari@example.no"))
    apple = replies.read_message(apple_reply(uid=UID, address="kari@example.no"))
    assert outlook.events[0].answers[0].name == "Nordmann, Kari"
    assert apple.events[0].answers[0].name == 'Kari "Kaja" Nordmann'
    assert apple.events[0].answers[0].address == "KARI@EXAMPLE.NO"  # MAILTO: in capitals


def test_folded_uid_and_attendee_lines_are_unfolded():
    calendar = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:0b8a3c1e-5a4f-4f57-9d7e-7f6\r\n"
                " f5e3b9c21@rsvp.test\r\nATTENDEE;PARTSTAT=DECL\r\n\tINED;CN=\"Nordmann, Kari\":Ma\r\n"
                " ilTo:kari@exa\r\n mple.no\r\nSEQUENCE:\r\n 4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    [event] = replies.parse_calendar(calendar)
    assert event.uid == UID
    assert event.sequence == 4
    assert event.answers == (replies.Answer("kari@example.no", "Nordmann, Kari", "DECLINED"),)


def test_unquoted_comma_in_cn_and_urn_attendee_with_email_parameter():
    lines = replies.content_lines(
        "ATTENDEE;CN=Nordmann, Kari;PARTSTAT=ACCEPTED:mailto:kari@example.no\r\n"
        "ATTENDEE;EMAIL=ola@example.no;PARTSTAT=TENTATIVE:urn:uuid:3b1c\r\n")
    assert lines[0] == ("ATTENDEE", {"CN": "Nordmann, Kari", "PARTSTAT": "ACCEPTED"},
                        "mailto:kari@example.no")
    assert replies._answer(*lines[1][1:]) == replies.Answer("ola@example.no", "", "TENTATIVE")


def test_method_only_in_the_mime_type_counts_but_a_request_is_not_a_reply():
    no_method = reply_calendar(uid=UID, address="kari@example.no", partstat="ACCEPTED", method=None)
    request = reply_calendar(uid=UID, address="kari@example.no", partstat="ACCEPTED",
                             method="REQUEST")
    assert replies.parse_calendar(no_method) == []
    assert len(replies.parse_calendar(no_method, mime_method="REPLY")) == 1
    assert replies.parse_calendar(request, mime_method="REPLY") == []


def test_octet_stream_ics_attachment_is_read():
    raw = apple_reply(uid=UID, address="kari@example.no").replace(
        b"Content-Type: text/calendar", b"Content-Type: application/octet-stream")
    assert replies.read_message(raw).events[0].uid == UID


def test_other_mail_is_not_a_reply():
    assert replies.read_message(plain_mail()) is None
    assert replies.read_message(b"not a message at all") is None


def test_a_forwarded_reply_is_not_read():
    inner = outlook_reply(uid=UID, address="kari@example.no")
    raw = (b"From: ola@example.no\r\nSubject: Fwd: Godtatt\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
           b"Se under.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n")
    assert replies.read_message(raw) is None


def test_sender_needs_exactly_one_well_formed_from_address():
    two = b"From: a@example.no, b@example.no\r\n\r\n"
    odd = b"From: Kari <kari at example.no>\r\n\r\n"
    assert replies.sender_address(message_from_bytes(two)) == ""
    assert replies.sender_address(message_from_bytes(odd)) == ""


def test_imap_folder_names():
    assert reply_fetcher.mailbox_name("Klynge/Behandlet", ".") == "Klynge.Behandlet"
    assert reply_fetcher.mailbox_name("Klynge/Behandlet", "/") == "Klynge/Behandlet"
    assert reply_fetcher.mailbox_name("Svar ø & æ", None) == "Svar &APg- &- &AOY-"
    assert reply_fetcher.quote('a"b\\c') == '"a\\"b\\\\c"'
    data = [(b'1 (UID 4 BODYSTRUCTURE ("text" "calendar" ("name" {9}', b"x.ics z y"), b') ")"))',
            b'2 (UID 5 BODYSTRUCTURE ("text" "plain"))']
    assert reply_fetcher.fetch_responses(data) == [
        b'1 (UID 4 BODYSTRUCTURE ("text" "calendar" ("name" {9}x.ics z y) ")"))',
        b'2 (UID 5 BODYSTRUCTURE ("text" "plain"))']


# --- applying (service) ------------------------------------------------------------------------


@pytest.fixture
def gathering(ctx, make_gathering):
    """A gathering with two seats: deltaker1 and deltaker2 have them, deltaker3 waits."""
    gathering = make_gathering(capacity=2)
    for n in (1, 2, 3):
        rsvp.register(gathering, registration_request(n), now=NOW)
    db.session.flush()
    return gathering


def registration(gathering, n) -> Registration:
    return db.session.scalar(sa.select(Registration).where(
        Registration.gathering_id == gathering.id,
        Registration.email_key == f"deltaker{n}@example.no"))


def events(reg) -> list[tuple[str, str]]:
    return [(e.kind, shown(e, "note")) for e in db.session.scalars(
        sa.select(RegistrationEvent).where(RegistrationEvent.registration_id == reg.id)
        .order_by(RegistrationEvent.id))]


def receive(raw, now=NOW, authserv_id=AUTHSERV_ID):
    return replies.receive(replies.read_message(raw, authserv_id=authserv_id), now=now)


def test_decline_cancels_frees_the_seat_and_mails_the_person(gathering):
    row = receive(apple_reply(uid=gathering.ical_uid, address="Deltaker1@Example.NO"))
    assert row.outcome == ReplyOutcome.APPLIED
    assert row.registration == registration(gathering, 1)
    kari = registration(gathering, 1)
    assert kari.status == RegistrationStatus.CANCELLED
    assert (kari.calendar_partstat, kari.calendar_replied_at) == ("DECLINED", NOW)
    assert events(kari)[-2:] == [("calendar_reply", "Svar fra kalenderen: avslått"),
                                 ("cancelled", "avmeldt via kalendersvar")]
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.registration_id == kari.id,
                                                            OutboxMessage.kind == "cancellation"))
    assert mail is not None and mail.recipient == "deltaker1@example.no"
    assert registration(gathering, 3).status == RegistrationStatus.CONFIRMED  # promoted
    assert registration(gathering, 2).status == RegistrationStatus.CONFIRMED


def test_accept_and_tentative_are_recorded_without_other_change(gathering):
    receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no"))
    receive(gmail_reply(uid=gathering.ical_uid, address="deltaker2@example.no", partstat="TENTATIVE"))
    one, two = registration(gathering, 1), registration(gathering, 2)
    assert (one.status, one.calendar_partstat) == (RegistrationStatus.CONFIRMED, "ACCEPTED")
    assert (two.status, two.calendar_partstat) == (RegistrationStatus.CONFIRMED, "TENTATIVE")
    assert one.reconfirmation == Reconfirmation.NOT_ASKED
    assert events(two)[-1] == ("calendar_reply", "Svar fra kalenderen: foreløpig")


def reschedule(gathering):
    """What a reschedule after an indefinite postponement does to the calendar identity."""
    gathering.ical_generation += 1
    gathering.ical_uid = calendars.uid_for_generation(calendars.uid_base(gathering.ical_uid),
                                                      gathering.ical_generation)
    gathering.ical_sequence = 0
    for reg in gathering.registrations:
        if reg.status == RegistrationStatus.CONFIRMED:
            reg.reconfirmation = Reconfirmation.PENDING
    db.session.flush()


def test_accept_after_a_reschedule_means_still_coming(gathering):
    old_uid = gathering.ical_uid
    reschedule(gathering)
    assert gathering.ical_uid.endswith("-r2@rsvp.test")
    stale = receive(outlook_reply(uid=old_uid, address="deltaker2@example.no", message_id="<old@x>"))
    assert stale.outcome == ReplyOutcome.IGNORED
    assert "eldre kalenderoppføring" in shown(stale, "reason")
    assert stale.registration == registration(gathering, 2)

    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no"))
    kari = registration(gathering, 1)
    assert row.outcome == ReplyOutcome.APPLIED
    assert (kari.reconfirmation, kari.reconfirmed_at) == (Reconfirmation.YES, NOW)
    assert [kind for kind, _ in events(kari)][-2:] == ["calendar_reply", "reconfirmed"]
    assert registration(gathering, 2).reconfirmation == Reconfirmation.PENDING


def test_decline_after_a_reschedule_is_a_no(gathering):
    reschedule(gathering)
    receive(gmail_reply(uid=gathering.ical_uid, address="deltaker2@example.no", partstat="DECLINED"))
    ola = registration(gathering, 2)
    assert (ola.status, ola.reconfirmation) == (RegistrationStatus.CANCELLED, Reconfirmation.NO)


@pytest.mark.parametrize(("case", "reason"), [
    ("unknown uid", "Ukjent kalenderoppføring"),
    ("unknown attendee", "Ingen påmelding fra deltaker9@example.no"),
    ("stale sequence", "eldre invitasjon (SEQUENCE 0, gjeldende er 1)"),
    ("cancelled gathering", "er avlyst"),
    ("already cancelled", "allerede avmeldt"),
    ("needs-action", "Svaret NEEDS-ACTION endrer ingenting"),
    ("gathering over", "er over"),
])
def test_replies_that_change_nothing_are_logged(gathering, case, reason):
    uid, address, partstat, now, sequence = gathering.ical_uid, "deltaker1@example.no", "DECLINED", NOW, 0
    if case == "unknown uid":
        uid = "ffffffff-0000-0000-0000-000000000000@rsvp.test"
    elif case == "unknown attendee":
        address = "deltaker9@example.no"
    elif case == "stale sequence":
        gathering.ical_sequence = 1  # moved: the new invitation has SEQUENCE 1
    elif case == "cancelled gathering":
        gathering.status = GatheringStatus.CANCELLED
    elif case == "already cancelled":
        rsvp.cancel(registration(gathering, 2), now=NOW)  # their CANCEL had SEQUENCE 1
        address, sequence = "deltaker2@example.no", 1
    elif case == "needs-action":
        partstat = "NEEDS-ACTION"
    elif case == "gathering over":
        now = gathering.ends_at + timedelta(minutes=1)
    db.session.flush()
    before = [(r.id, r.status, r.calendar_partstat) for r in gathering.registrations]
    row = receive(outlook_reply(uid=uid, address=address, partstat=partstat, sequence=sequence),
                  now=now)
    assert row.outcome == ReplyOutcome.IGNORED
    assert reason in shown(row, "reason")
    assert (row.uid, row.attendee, row.partstat) == (uid, address, partstat)
    assert row.raw is None
    assert [(r.id, r.status, r.calendar_partstat) for r in gathering.registrations] == before


def test_a_reply_never_changes_another_persons_registration(gathering):
    # Ola (registered himself) sends a Decline naming Kari as the attendee.
    forged = outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                           sender="deltaker2@example.no")
    row = receive(forged)
    assert row.outcome == ReplyOutcome.IGNORED
    assert "ikke deltakeren" in shown(row, "reason")
    assert registration(gathering, 1).status == RegistrationStatus.CONFIRMED
    assert registration(gathering, 2).status == RegistrationStatus.CONFIRMED
    assert registration(gathering, 1).calendar_partstat is None
    assert registration(gathering, 2).calendar_partstat is None


def test_with_several_attendees_only_the_senders_own_answer_counts(gathering):
    calendar_line = ("ATTENDEE;PARTSTAT=DECLINED:mailto:deltaker1@example.no\r\n"
                     "ATTENDEE;PARTSTAT=ACCEPTED:mailto:deltaker2@example.no")
    raw = outlook_reply(uid=gathering.ical_uid, address="deltaker2@example.no",
                        attendee_line=calendar_line)
    row = receive(raw)
    assert (row.outcome, row.attendee, row.partstat) == (ReplyOutcome.APPLIED, "deltaker2@example.no",
                                                         "ACCEPTED")
    assert registration(gathering, 1).status == RegistrationStatus.CONFIRMED
    assert registration(gathering, 1).calendar_partstat is None


def test_the_same_message_is_received_once(gathering):
    raw = outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no", partstat="TENTATIVE")
    assert receive(raw).outcome == ReplyOutcome.APPLIED
    assert receive(raw) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarReply)) == 1
    assert [kind for kind, _ in events(registration(gathering, 1))].count("calendar_reply") == 1


def test_strangers_text_is_stored_within_bounds(gathering):
    long_uid = "x" * 400 + "@rsvp.test"
    raw = outlook_reply(uid=long_uid, address="deltaker1@example.no", message_id="<a\x00" + "b" * 1200 + ">")
    row = receive(raw)
    db.session.flush()
    assert row.outcome == ReplyOutcome.IGNORED
    assert len(row.uid) == 300 and "\x00" not in row.message_id and len(row.message_id) <= 998


# --- who sent it: only our own server's proof applies a reply -----------------------------------

# Each is a Decline "from" deltaker1@example.no that anyone could send: the UID is in every
# invitation, and a higher SEQUENCE is easy to guess. Headers are listed top first.
OURS = AUTHSERV_ID
FORGED = {
    "no header at all": [],
    "another server's header": ["mx.other.example; dkim=pass header.d=example.no; "
                                "dmarc=pass header.from=example.no"],
    "a pass with our id forged below ours": [
        f"{OURS}; dkim=none (message not signed); spf=none smtp.mailfrom=example.no; dmarc=none",
        f"{OURS}; dkim=pass header.d=example.no; dmarc=pass header.from=example.no"],
    "a pass from another id above ours": [
        "relay.example.org; dkim=pass header.d=example.no; dmarc=pass header.from=example.no",
        f"{OURS}; spf=softfail smtp.mailfrom=example.no"],
    "a pass without an authserv-id (as Microsoft 365 writes it)": [
        "spf=pass (sender IP is 192.0.2.7) smtp.mailfrom=example.no; dkim=pass (signature was "
        "verified) header.d=example.no;dmarc=pass action=none header.from=example.no;compauth=pass "
        "reason=100"],
    "dkim=none": [f"{OURS}; dkim=none (message not signed) header.d=none; dmarc=none"],
    "spf=pass alone": [f"{OURS}; spf=pass (domain of example.no designates 192.0.2.7) "
                       "smtp.mailfrom=example.no"],
    "spf=fail": [f"{OURS}; spf=fail smtp.mailfrom=example.no"],
    "permerror": [f"{OURS}; dkim=permerror (no key) header.d=example.no; "
                  "dmarc=permerror header.from=example.no"],
    "temperror": [f"{OURS}; dkim=temperror (dns timeout) header.d=example.no; "
                  "spf=temperror smtp.mailfrom=example.no"],
    "dkim=pass for an unaligned domain": [f"{OURS}; dkim=pass header.d=evil.example header.s=s1; "
                                          "spf=pass smtp.mailfrom=evil.example"],
    "dkim=pass for a domain that only ends like it": [f"{OURS}; dkim=pass header.d=xample.no"],
    "dkim=pass for the public suffix": [f"{OURS}; dkim=pass header.d=no"],
    "dkim=pass with header.i of another domain": [f"{OURS}; dkim=pass header.i=@evil.example"],
    "dmarc=pass for another header.from": [f"{OURS}; dmarc=pass (p=reject) header.from=evil.example"],
    "dmarc=fail beside an unaligned dkim=pass": [
        f"{OURS}; dkim=pass header.d=evil.example; dmarc=fail (p=none) header.from=example.no"],
}


@pytest.mark.parametrize("auth", FORGED.values(), ids=FORGED.keys())
def test_a_reply_our_server_did_not_prove_is_held_and_changes_nothing(gathering, auth):
    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                                partstat="DECLINED", sequence=5, auth=auth))
    assert row.outcome == ReplyOutcome.HELD
    kari = registration(gathering, 1)
    assert (kari.status, kari.calendar_partstat) == (RegistrationStatus.CONFIRMED, None)
    assert registration(gathering, 3).status == RegistrationStatus.WAITING
    assert shown(row, "reason").endswith(
        "Svaret venter på at en arrangør godkjenner eller avviser det.")


def test_without_reply_authserv_id_nothing_is_trusted(gathering):
    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                                partstat="DECLINED"), authserv_id="")  # the helpers' passing header
    assert row.outcome == ReplyOutcome.HELD
    assert "REPLY_AUTHSERV_ID er ikke satt" in shown(row, "reason")
    assert registration(gathering, 1).status == RegistrationStatus.CONFIRMED


GENUINE = {
    "dmarc=pass": [f"{OURS}; spf=pass smtp.mailfrom=example.no; dmarc=pass (p=none dis=none) "
                   "header.from=example.no"],
    "dmarc=pass without header.from": [f"{OURS}; dmarc=pass"],
    "aligned dkim=pass (a subdomain signs)": [
        f"{OURS}; dkim=pass (2048-bit key) header.d=mail.example.no header.s=s1; "
        "spf=none smtp.mailfrom=bounce.esp.example"],
    "aligned dkim=pass in header.i (as Gmail writes it)": [
        f"{OURS}; dkim=pass header.i=@example.no header.s=20230601 header.b=Ab12; spf=softfail"],
    "a broken signature beside an aligned one": [
        f"{OURS}; dkim=fail (body hash) header.d=list.example; dkim=pass header.d=example.no"],
    "ours on top, in other letters, a forged fail below": [
        "MX.RSVP.TEST 1; DKIM=Pass header.d=EXAMPLE.NO; dmarc=none",
        f"{OURS}; dkim=fail; dmarc=fail header.from=example.no"],
}


@pytest.mark.parametrize("auth", GENUINE.values(), ids=GENUINE.keys())
def test_a_reply_our_server_proved_is_applied(gathering, auth):
    row = receive(apple_reply(uid=gathering.ical_uid, address="deltaker1@example.no", auth=auth))
    assert (row.outcome, shown(row, "reason")) == (ReplyOutcome.APPLIED, "")
    assert registration(gathering, 1).status == RegistrationStatus.CANCELLED
    assert registration(gathering, 3).status == RegistrationStatus.CONFIRMED


def test_dkim_of_the_parent_domain_proves_a_subdomain_sender(ctx, make_gathering):
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(person=person(email="ola@post.firma.no")), now=NOW)
    raw = gmail_reply(uid=gathering.ical_uid, address="ola@post.firma.no", partstat="TENTATIVE",
                      auth=[f"{OURS}; dkim=pass header.d=firma.no header.s=google; spf=pass "
                            "smtp.mailfrom=ola@post.firma.no"])
    row = receive(raw)
    assert row.outcome == ReplyOutcome.APPLIED
    assert row.registration.calendar_partstat == "TENTATIVE"


# --- held replies ------------------------------------------------------------------------------


@pytest.fixture
def organiser(ctx):
    person = Organiser(email="arrangor@bergen.kommune.no", name="Arrangør", password_hash="x",
                       created_at=NOW)
    db.session.add(person)
    db.session.flush()
    return person


def test_failed_dkim_or_dmarc_is_held_until_an_organiser_confirms(gathering, organiser):
    raw = apple_reply(uid=gathering.ical_uid, address="deltaker1@example.no", auth=[FAIL])
    row = receive(raw)
    assert row.outcome == ReplyOutcome.HELD
    assert row.raw == raw
    assert "DMARC feilet for avsenderens domene (example.no)" in shown(row, "reason")
    assert ("dkim=fail (header.d=example.no), spf=softfail (smtp.mailfrom=example.no)"
            in shown(row, "reason"))
    assert registration(gathering, 1).status == RegistrationStatus.CONFIRMED
    assert replies.held() == [row]

    later = NOW + timedelta(hours=1)
    replies.confirm(row, by=organiser, now=later)
    kari = registration(gathering, 1)
    assert (row.outcome, row.raw, row.decided_by, row.decided_at) == (
        ReplyOutcome.APPLIED, None, organiser, later)
    assert kari.status == RegistrationStatus.CANCELLED
    assert kari.calendar_replied_at == later
    reply_event = db.session.scalar(sa.select(RegistrationEvent).where(
        RegistrationEvent.registration_id == kari.id, RegistrationEvent.kind == "calendar_reply"))
    assert reply_event.organiser == organiser
    audit = db.session.scalar(sa.select(AuditEntry))
    assert (audit.action, audit.organiser, audit.gathering) == (
        "calendar_reply_confirmed", organiser, gathering)
    with pytest.raises(DomainError):
        replies.confirm(row, by=organiser, now=later)
    assert replies.held() == []


def test_a_held_reply_that_no_longer_applies_changes_nothing_when_confirmed(gathering, organiser):
    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no", auth=[FAIL]))
    gathering.status = GatheringStatus.CANCELLED
    replies.confirm(row, by=organiser, now=NOW)
    assert row.outcome == ReplyOutcome.IGNORED
    assert "er avlyst" in shown(row, "reason")
    assert registration(gathering, 1).calendar_partstat is None


def test_rejecting_a_held_reply_keeps_the_registration(gathering, organiser):
    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                                partstat="DECLINED", auth=[FAIL]))
    replies.reject(row, by=organiser, now=NOW)
    assert (row.outcome, row.raw, row.decided_by) == (ReplyOutcome.REJECTED, None, organiser)
    assert registration(gathering, 1).status == RegistrationStatus.CONFIRMED
    assert db.session.scalar(sa.select(AuditEntry.action)) == "calendar_reply_rejected"
    with pytest.raises(DomainError):
        replies.reject(row, by=organiser, now=NOW)


def test_a_forged_reply_is_ignored_not_held(gathering):
    row = receive(outlook_reply(uid=gathering.ical_uid, address="deltaker1@example.no",
                                sender="eve@example.org", auth=[FAIL]))
    assert row.outcome == ReplyOutcome.IGNORED
    assert row.raw is None


# --- the organiser page ------------------------------------------------------------------------


def held_reply(app, *, subject_attack=False, auth=(FAIL,), authserv_id=AUTHSERV_ID, n=1):
    with app.app_context():
        from klynge_rsvp import gatherings
        gathering = gatherings.create(
            title="Øvelse <Bergen>", format="Seminar", starts_at=NOW + timedelta(days=400),
            ends_at=NOW + timedelta(days=400, hours=2), venue_name="Ole Bull Scene", now=NOW,
            status=GatheringStatus.PUBLISHED)
        rsvp.register(gathering, registration_request(n), now=NOW)
        raw = outlook_reply(uid=gathering.ical_uid, address=f"deltaker{n}@example.no",
                            partstat="DECLINED", auth=list(auth))
        if subject_attack:
            raw = raw.replace(b"Subject: =?utf-8?q?Avsl=C3=A5tt=3A_Frokostm=C3=B8te_om_beredskap?=",
                              b"Subject: <script>alert(1)</script>")
        row = receive(raw, authserv_id=authserv_id)
        db.session.commit()
        assert row.outcome == ReplyOutcome.HELD
        return row.id


def test_replies_pages_require_login(app, client):
    # A valid CSRF token (from the login page), so only the missing login can refuse the POSTs.
    token = csrf_token(client.get("/arrangor/innlogging").text)
    for method, url in [("GET", "/arrangor/kalendersvar/"), ("POST", "/arrangor/kalendersvar/1/godkjenn"),
                        ("POST", "/arrangor/kalendersvar/1/avvis")]:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, url
        assert "/arrangor/innlogging" in response.headers["Location"]


def csrf(html):
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_organiser_sees_held_reply_and_confirms_it(app, organiser_client):
    reply_id = held_reply(app, subject_attack=True)
    page = organiser_client.get("/arrangor/kalendersvar/")
    assert page.status_code == 200
    shown = text(page.text)
    assert "Til vurdering (1)" in shown
    assert "deltaker1@example.no" in shown
    assert "Avslått" in shown
    assert "dkim=fail (body hash did not verify)" in shown
    assert "Deltaker 1 – Øvelse <Bergen>" in shown
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text

    assert organiser_client.post(f"/arrangor/kalendersvar/{reply_id}/godkjenn").status_code == 400
    response = organiser_client.post(f"/arrangor/kalendersvar/{reply_id}/godkjenn",
                                     data={"csrf_token": csrf(page.text)})
    assert response.status_code == 302
    page = organiser_client.get(response.headers["Location"])
    assert "er godkjent og brukt" in text(page.text)
    assert "Ingen svar venter på vurdering." in text(page.text)
    assert "Godkjent av arrangør." in text(page.text)
    with app.app_context():
        reg = db.session.scalar(sa.select(Registration))
        assert reg.status == RegistrationStatus.CANCELLED
        assert db.session.get(CalendarReply, reply_id).decided_by.email == "arrangor@bergen.kommune.no"

    again = organiser_client.post(f"/arrangor/kalendersvar/{reply_id}/godkjenn",
                                  data={"csrf_token": csrf(page.text)}, follow_redirects=True)
    assert "allerede behandlet" in text(again.text)


def test_organiser_rejects_a_held_reply(app, organiser_client):
    reply_id = held_reply(app)
    page = organiser_client.get("/arrangor/kalendersvar/")
    response = organiser_client.post(f"/arrangor/kalendersvar/{reply_id}/avvis",
                                     data={"csrf_token": csrf(page.text)}, follow_redirects=True)
    assert "er avvist. Påmeldingen er uendret." in text(response.text)
    with app.app_context():
        assert db.session.scalar(sa.select(Registration)).status == RegistrationStatus.CONFIRMED
        assert db.session.get(CalendarReply, reply_id).outcome == ReplyOutcome.REJECTED
    assert organiser_client.post("/arrangor/kalendersvar/999/avvis",
                                 data={"csrf_token": csrf(page.text)}).status_code == 404


def test_organizer_constant_matches_the_test_app(app):
    assert app.config["MAIL_DEFAULT_SENDER"].endswith(f"<{ORGANIZER}>")


@pytest.mark.parametrize(("language", "expected"), [
    ("nb", ["Hvorfor svaret venter",
            "E-posttjeneren vår sier at DMARC feilet for avsenderens domene (example.no): svaret kan "
            "være forfalsket. Resultatene fra e-posttjeneren vår: dkim=fail (header.d=example.no), "
            "spf=softfail (smtp.mailfrom=example.no), dmarc=fail (header.from=example.no).",
            "verken DMARC-pass eller DKIM-pass for avsenderens domene"]),
    ("nn", ["Kvifor svaret ventar",
            "E-posttenaren vår seier at DMARC feila for domenet til avsendaren (example.no)",
            "Resultata frå e-posttenaren vår: dkim=fail (header.d=example.no)"]),
    ("en", ["Why the reply is waiting",
            "Our mail server says DMARC failed for the sender's domain (example.no): the reply may be "
            "forged. Our mail server's results: dkim=fail (header.d=example.no)",
            "Anyone who knows the invitation can forge a reply."]),
])
def test_the_page_says_why_a_reply_waits_in_the_organisers_language(app, organiser_client, language,
                                                                     expected):
    held_reply(app)
    organiser_client.get(f"/sprak/{language}")
    shown = text(organiser_client.get("/arrangor/kalendersvar/").text)
    for words in expected:
        assert words in shown


def test_the_page_names_each_kind_of_unproven_sender(app, organiser_client):
    held_reply(app, auth=[], n=1)
    held_reply(app, auth=[f"{OURS}; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example"],
               n=2)
    held_reply(app, auth=["mx.evil.example; dkim=pass header.d=example.no; dmarc=pass",
                          f"{OURS}; spf=none smtp.mailfrom=example.no"], n=3)
    organiser_client.get("/sprak/en")
    shown = text(organiser_client.get("/arrangor/kalendersvar/").text)
    assert "Awaiting review (3)" in shown
    assert ("Our mail server (mx.rsvp.test) did not confirm the sender: the message has no "
            "Authentication-Results header from it.") in shown
    assert ("The sender's mail server did not prove who the sender is: our mail server found neither "
            "a DMARC pass nor a valid DKIM signature from the sender's domain (example.no). Our mail "
            "server's results: dkim=pass (header.d=evil.example), "
            "spf=pass (smtp.mailfrom=evil.example).") in shown
    assert "Our mail server's results: spf=none (smtp.mailfrom=example.no)." in shown
    assert "Other Authentication-Results in the message (not used) mx.evil.example" in shown
    assert "REPLY_AUTHSERV_ID is not set" not in shown


def test_without_reply_authserv_id_the_page_says_every_reply_waits(app, organiser_client):
    app.config["REPLY_AUTHSERV_ID"] = ""
    held_reply(app, auth=[PASS], authserv_id="")
    shown = text(organiser_client.get("/arrangor/kalendersvar/").text)
    assert "REPLY_AUTHSERV_ID er ikke satt, så appen kan ikke se om" in shown
    assert "Appen vet ikke hvilken e-posttjener som er vår (REPLY_AUTHSERV_ID er ikke satt)." in shown
    # The ids of the headers the message has: where an administrator finds the value to set.
    assert "Andre Authentication-Results i meldingen (ikke brukt) mx.rsvp.test" in shown
