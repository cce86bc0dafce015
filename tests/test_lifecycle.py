"""Moving, postponing, giving a new date and cancelling a gathering: the services themselves."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import calendars, lifecycle, rsvp
from klynge_rsvp.errors import DomainError, RegistrationClosed
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import when
from klynge_rsvp.models import (
    AuditEntry,
    Gathering,
    GatheringStatus,
    OutboxMessage,
    Reconfirmation,
    RegistrationEvent,
    RegistrationStatus,
)
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, registration_request
from tests.lifecycle_helpers import (
    last_outbox_id,
    organiser,
    outbox_invite,
    parse,
    queued,
    register,
    text_body,
)

LATER = NOW + timedelta(hours=1)
NEW_START = NOW + timedelta(days=40)


@pytest.fixture
def full(ctx, make_gathering):
    """Three seats: persons 1, 2 and 3 (promoted) have them, 4 cancelled, 5 waits."""
    gathering = make_gathering(capacity=3)
    one, two, four, three = register(gathering, 1, 2, 4, 3)
    rsvp.cancel(four, now=NOW)  # 3 is promoted, 4's CANCEL outranks their REQUEST
    five = register(gathering, 5)[0]
    db.session.commit()
    assert [r.status for r in (one, two, three, four, five)] == [
        RegistrationStatus.CONFIRMED, RegistrationStatus.CONFIRMED, RegistrationStatus.CONFIRMED,
        RegistrationStatus.CANCELLED, RegistrationStatus.WAITING]
    return gathering


def move_args(gathering, **overrides):
    values = {"starts_at": NEW_START, "ends_at": NEW_START + timedelta(hours=2),
              "venue_name": gathering.venue_name, "venue_address": gathering.venue_address,
              "message": "Salen var dobbeltbooket.", "now": LATER, "by": None}
    values.update(overrides)
    return values


def reschedule_args(**overrides):
    values = {"starts_at": NEW_START, "ends_at": NEW_START + timedelta(hours=2),
              "venue_name": "Bergen rådhus", "venue_address": "Rådhusgaten 10, 5014 Bergen",
              "reconfirm_deadline": NEW_START - timedelta(days=7),
              "message": "Nå har vi en ny dato.", "now": LATER + timedelta(hours=1), "by": None}
    values.update(overrides)
    return values


def kinds_to(gathering, after_id=0):
    """{recipient: [kind, …]} of what was queued after `after_id`."""
    found = {}
    for row in queued(after_id=after_id):
        found.setdefault(row.recipient, []).append(row.kind)
    return found


# --- move -----------------------------------------------------------------------------------


def test_move_sends_an_updated_invite_to_seats_and_the_news_to_the_waiting_list(full):
    gathering, by = full, organiser()
    old_start, old_when, uid = gathering.starts_at, when(gathering.starts_at, gathering.ends_at), \
        gathering.ical_uid
    before = last_outbox_id()

    outcome = lifecycle.move(gathering, **move_args(gathering, by=by))

    assert outcome == lifecycle.Outcome(done=True, notified=4)
    assert gathering.starts_at == NEW_START and gathering.previous_starts_at == old_start
    assert gathering.ical_sequence == 1 and gathering.ical_uid == uid
    assert kinds_to(gathering, before) == {
        "deltaker1@example.no": ["gathering_moved"], "deltaker2@example.no": ["gathering_moved"],
        "deltaker3@example.no": ["gathering_moved"], "deltaker5@example.no": ["gathering_moved"]}
    for row in queued(after_id=before):
        message = parse(row.message)
        invite = outbox_invite(row)
        text = text_body(message)
        assert f"Før: {old_when}" in text
        assert f"Nå:  {when(NEW_START, NEW_START + timedelta(hours=2))}" in text
        assert "Salen var dobbeltbooket." in text
        assert message["Subject"] == "Ny tid: Frokostmøte om beredskap"
        if row.recipient == "deltaker5@example.no":
            assert invite is None
            assert "ventelisten som nummer 1" in text
        else:
            assert (invite.method, invite.mime_method, invite.status) == ("REQUEST", "REQUEST",
                                                                         "CONFIRMED")
            assert invite.uid == uid and invite.sequence == row.registration.ical_sequence == 1
            assert invite.start == NEW_START
            assert invite.attendees == [f"mailto:{row.recipient}"]
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "move")).all()
    assert entry.organiser == by and entry.gathering == gathering
    assert old_when in shown(entry, "summary") and "4 varslet" in shown(entry, "summary")


def test_a_person_who_cancelled_and_came_back_keeps_outranking_their_calendar(full):
    gathering = full
    [four] = [r for r in gathering.registrations if r.email == "deltaker4@example.no"]
    assert four.ical_sequence == 1  # their CANCEL
    before = last_outbox_id()
    lifecycle.move(gathering, **move_args(gathering))
    assert "deltaker4@example.no" not in kinds_to(gathering, before)  # cancelled: not told
    three = next(r for r in gathering.registrations if r.email == "deltaker3@example.no")
    [row] = [r for r in queued(after_id=before) if r.registration == three]
    assert outbox_invite(row).sequence == 1


def test_moving_only_the_venue_says_so_and_keeps_the_start(full):
    gathering = full
    start = gathering.starts_at
    before = last_outbox_id()
    lifecycle.move(gathering, **move_args(gathering, starts_at=start, ends_at=gathering.ends_at,
                                          venue_name="Bergen rådhus", venue_address=""))
    assert gathering.previous_starts_at is None and gathering.starts_at == start
    row = queued(after_id=before)[0]
    message = parse(row.message)
    assert message["Subject"] == "Nytt sted: Frokostmøte om beredskap"
    text = text_body(message)
    assert "Før: Ole Bull Scene, Øvre Ole Bulls plass 3, 5012 Bergen" in text
    assert "Nå:  Bergen rådhus" in text
    assert "Tid\n" not in text


def test_moving_twice_with_the_same_request_sends_once(full):
    gathering = full
    before = last_outbox_id()
    first = lifecycle.move(gathering, **move_args(gathering))
    second = lifecycle.move(gathering, **move_args(gathering, now=LATER + timedelta(seconds=1)))
    assert first.done and second == lifecycle.Outcome(done=False)
    assert gathering.ical_sequence == 1
    assert len(queued(after_id=before)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1


def test_move_shifts_the_registration_deadline_with_the_start(ctx, make_gathering):
    gathering = make_gathering(registration_deadline=NOW + timedelta(days=28))
    lifecycle.move(gathering, **move_args(gathering))
    assert gathering.registration_deadline == NEW_START - timedelta(days=2)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"ends_at": NEW_START}, "Slutttidspunktet må være etter starttidspunktet."),
    ({"starts_at": NOW - timedelta(days=1), "ends_at": NOW}, "Den nye tiden må være fram i tid."),
    ({"venue_name": "  "}, "Skriv hvor samlingen skal være."),
])
def test_move_refuses_impossible_times_and_places(full, overrides, message):
    with pytest.raises(DomainError, match=message):
        lifecycle.move(full, **move_args(full, **overrides))
    assert full.ical_sequence == 0


@pytest.mark.parametrize("status", [GatheringStatus.DRAFT, GatheringStatus.POSTPONED,
                                    GatheringStatus.CANCELLED])
def test_only_a_published_gathering_can_be_moved(ctx, make_gathering, status):
    gathering = make_gathering(status=status)
    with pytest.raises(DomainError):
        lifecycle.move(gathering, **move_args(gathering))


def test_a_gathering_that_has_begun_cannot_be_moved(ctx, make_gathering):
    gathering = make_gathering()
    with pytest.raises(DomainError, match="allerede begynt"):
        lifecycle.move(gathering, **move_args(gathering, now=gathering.starts_at))


# --- postpone -------------------------------------------------------------------------------


def test_postpone_cancels_calendar_entries_keeps_registrations_and_closes_registration(full):
    gathering = full
    start, uid = gathering.starts_at, gathering.ical_uid
    before = last_outbox_id()

    outcome = lifecycle.postpone(gathering, message="Foredragsholderen er syk.", now=LATER,
                                 by=None)

    assert outcome == lifecycle.Outcome(done=True, notified=4)
    assert gathering.status == GatheringStatus.POSTPONED
    assert gathering.status_message == "Foredragsholderen er syk."
    assert gathering.previous_starts_at == start and gathering.ical_sequence == 1
    assert not gathering.registration_open(LATER)
    with pytest.raises(RegistrationClosed):
        rsvp.register(gathering, registration_request(9), now=LATER)
    statuses = sorted(r.status.value for r in gathering.registrations)
    assert statuses == ["cancelled", "confirmed", "confirmed", "confirmed", "waiting"]
    for row in queued(after_id=before):
        invite = outbox_invite(row)
        text = text_body(parse(row.message))
        assert "utsatt på ubestemt tid" in text and "Foredragsholderen er syk." in text
        if row.recipient == "deltaker5@example.no":
            assert invite is None and "ventelisten (nummer 1)" in text
        else:
            assert (invite.method, invite.mime_method, invite.status) == ("CANCEL", "CANCEL",
                                                                         "CANCELLED")
            assert invite.summary == "Utsatt: Frokostmøte om beredskap"
            assert invite.uid == uid and invite.sequence == 1
            assert "en kalender ikke kan vise en samling uten dato" in text
            assert "ny kalenderinvitasjon" in text


def test_postponing_twice_sends_once(full):
    before = last_outbox_id()
    assert lifecycle.postpone(full, message="Syk.", now=LATER, by=None).done
    assert not lifecycle.postpone(full, message="Syk.", now=LATER, by=None).done
    assert full.ical_sequence == 1 and len(queued(after_id=before)) == 4


def test_two_requests_postponing_at_once_send_each_person_one_notice(app, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        register(gathering, 1, 2)
        db.session.commit()
        gathering_id = gathering.id
    barrier, errors = threading.Barrier(2), []

    def postpone():
        with app.app_context():
            try:
                barrier.wait()
                lifecycle.postpone(db.session.get(Gathering, gathering_id), message="Syk.",
                                   now=LATER, by=None)
                db.session.commit()
            except Exception as error:  # collected and asserted on below
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=postpone) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        assert sorted(row.recipient for row in queued(kind="gathering_postponed")) == [
            "deltaker1@example.no", "deltaker2@example.no"]
        assert db.session.get(Gathering, gathering_id).ical_sequence == 1


# --- reschedule -----------------------------------------------------------------------------


def test_reschedule_needs_a_postponed_gathering(full):
    with pytest.raises(DomainError, match="Bare en samling som er utsatt"):
        lifecycle.reschedule(full, **reschedule_args())


def test_reschedule_gives_a_new_uid_at_sequence_zero_and_asks_everyone_with_a_seat(full):
    gathering = full
    lifecycle.postpone(gathering, message="Syk.", now=LATER, by=None)
    first_uid = gathering.ical_uid
    before = last_outbox_id()

    outcome = lifecycle.reschedule(gathering, **reschedule_args())

    assert outcome == lifecycle.Outcome(done=True, notified=4)
    assert gathering.status == GatheringStatus.PUBLISHED and gathering.status_message == ""
    assert gathering.ical_generation == 2
    assert gathering.ical_uid == calendars.uid_for_generation(first_uid, 2) != first_uid
    assert gathering.ical_uid.endswith("-r2@rsvp.test")
    assert gathering.ical_sequence == 0
    assert all(r.ical_sequence_bump == 0 for r in gathering.registrations)
    assert gathering.registration_open(LATER + timedelta(hours=1))
    answers = {r.email: r.reconfirmation for r in gathering.registrations}
    assert answers == {
        "deltaker1@example.no": Reconfirmation.PENDING, "deltaker2@example.no": Reconfirmation.PENDING,
        "deltaker3@example.no": Reconfirmation.PENDING, "deltaker4@example.no": Reconfirmation.NOT_ASKED,
        "deltaker5@example.no": Reconfirmation.NOT_ASKED}
    for row in queued(after_id=before):
        invite = outbox_invite(row)
        text = text_body(parse(row.message))
        if row.recipient == "deltaker5@example.no":
            assert invite is None and "ventelisten som nummer 1" in text
            continue
        assert (invite.method, invite.mime_method, invite.status) == ("REQUEST", "REQUEST",
                                                                     "CONFIRMED")
        assert (invite.uid, invite.sequence, invite.start) == (gathering.ical_uid, 0, NEW_START)
        token = row.registration.token
        assert f"https://rsvp.test/pamelding/{token}/ny-dato?svar=ja" in text
        assert f"https://rsvp.test/pamelding/{token}/ny-dato?svar=nei" in text
        assert "ny avtale, fordi den gamle ble tatt ut av kalenderen din" in text
    kinds = db.session.scalars(sa.select(RegistrationEvent.kind)).all()
    assert kinds.count("reconfirmation_asked") == 3


def test_reschedule_twice_sends_once_and_a_different_date_is_refused(full):
    lifecycle.postpone(full, message="Syk.", now=LATER, by=None)
    before = last_outbox_id()
    assert lifecycle.reschedule(full, **reschedule_args()).done
    assert not lifecycle.reschedule(full, **reschedule_args()).done
    assert len(queued(after_id=before)) == 4 and full.ical_generation == 2
    with pytest.raises(DomainError):
        lifecycle.reschedule(full, **reschedule_args(starts_at=NEW_START + timedelta(days=1),
                                                     ends_at=NEW_START + timedelta(days=1, hours=2)))


@pytest.mark.parametrize("deadline", [LATER, NEW_START + timedelta(minutes=1)])
def test_reschedule_refuses_a_deadline_that_is_past_or_after_the_start(full, deadline):
    lifecycle.postpone(full, message="Syk.", now=LATER, by=None)
    with pytest.raises(DomainError, match="Svarfristen"):
        lifecycle.reschedule(full, **reschedule_args(reconfirm_deadline=deadline))


def test_a_second_postponement_and_new_date_makes_a_third_uid(full):
    base = calendars.uid_base(full.ical_uid)
    for round_ in (1, 2):
        lifecycle.postpone(full, message="Igjen.", now=LATER, by=None)
        start = NEW_START + timedelta(days=round_)
        lifecycle.reschedule(full, **reschedule_args(starts_at=start,
                                                     ends_at=start + timedelta(hours=2)))
    assert full.ical_generation == 3 and full.ical_uid == calendars.uid_for_generation(base, 3)


# --- reconfirm ------------------------------------------------------------------------------


def rescheduled(gathering):
    lifecycle.postpone(gathering, message="Syk.", now=LATER, by=None)
    lifecycle.reschedule(gathering, **reschedule_args())
    return {r.email: r for r in gathering.registrations}


def test_yes_records_the_answer_once(full):
    people = rescheduled(full)
    before = last_outbox_id()
    one = people["deltaker1@example.no"]
    at = LATER + timedelta(hours=3)
    assert lifecycle.reconfirm(one, coming=True, now=at).done
    assert not lifecycle.reconfirm(one, coming=True, now=at + timedelta(minutes=1)).done
    assert (one.reconfirmation, one.reconfirmed_at) == (Reconfirmation.YES, at)
    assert queued(after_id=before) == []


def test_no_cancels_frees_the_seat_and_promotes_the_waiting_list(full):
    people = rescheduled(full)
    before = last_outbox_id()
    two, five = people["deltaker2@example.no"], people["deltaker5@example.no"]

    outcome = lifecycle.reconfirm(two, coming=False, now=LATER + timedelta(hours=3))

    assert outcome == lifecycle.Outcome(done=True, notified=2)
    assert (two.status, two.reconfirmation) == (RegistrationStatus.CANCELLED, Reconfirmation.NO)
    assert five.status == RegistrationStatus.CONFIRMED
    rows = {row.recipient: row for row in queued(after_id=before)}
    assert {email: row.kind for email, row in rows.items()} == {
        "deltaker2@example.no": "cancellation", "deltaker5@example.no": "promotion"}
    cancel = outbox_invite(rows["deltaker2@example.no"])
    assert (cancel.method, cancel.uid, cancel.sequence) == ("CANCEL", full.ical_uid, 1)
    assert not lifecycle.reconfirm(two, coming=False, now=LATER + timedelta(hours=4)).done


def test_only_those_asked_can_answer(full):
    people = rescheduled(full)
    with pytest.raises(DomainError, match="ikke bedt om"):
        lifecycle.reconfirm(people["deltaker5@example.no"], coming=True, now=LATER)


def test_overview_groups_the_answers(full):
    people = rescheduled(full)
    lifecycle.reconfirm(people["deltaker1@example.no"], coming=True, now=LATER)
    lifecycle.reconfirm(people["deltaker2@example.no"], coming=False, now=LATER)
    overview = lifecycle.reconfirmation_overview(full)
    assert {k: [r.email for r in v] for k, v in overview.items()} == {
        "yes": ["deltaker1@example.no"], "no": ["deltaker2@example.no"],
        "pending": ["deltaker3@example.no"]}


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_sends_cancel_with_a_higher_sequence_and_closes_registration(full):
    before = last_outbox_id()
    outcome = lifecycle.cancel(full, message="For få påmeldte.", now=LATER, by=None)
    assert outcome == lifecycle.Outcome(done=True, notified=4)
    assert full.status == GatheringStatus.CANCELLED and not full.registration_open(LATER)
    for row in queued(after_id=before):
        invite = outbox_invite(row)
        assert "For få påmeldte." in text_body(parse(row.message))
        if row.recipient == "deltaker5@example.no":
            assert invite is None
        else:
            assert (invite.method, invite.status, invite.sequence) == ("CANCEL", "CANCELLED", 1)
            assert invite.summary == "Frokostmøte om beredskap"
    assert not lifecycle.cancel(full, message="For få påmeldte.", now=LATER, by=None).done
    assert len(queued(after_id=before)) == 4


def test_a_postponed_gathering_can_be_cancelled_for_good(full):
    lifecycle.postpone(full, message="Syk.", now=LATER, by=None)
    before = last_outbox_id()
    lifecycle.cancel(full, message="Det blir ikke noe av.", now=LATER, by=None)
    row = next(r for r in queued(after_id=before) if r.recipient == "deltaker1@example.no")
    assert outbox_invite(row).sequence == 2
    assert "som var utsatt på ubestemt tid, er avlyst" in text_body(parse(row.message))


def test_a_draft_cannot_be_cancelled(ctx, make_gathering):
    with pytest.raises(DomainError):
        lifecycle.cancel(make_gathering(status=GatheringStatus.DRAFT), message="x", now=NOW,
                         by=None)


def test_nothing_is_queued_when_the_transaction_rolls_back(app, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        register(gathering, 1)
        db.session.commit()
        lifecycle.cancel(gathering, message="x", now=LATER, by=None)
        db.session.rollback()
        assert queued(kind="gathering_cancelled") == []
        assert db.session.get(Gathering, gathering.id).status == GatheringStatus.PUBLISHED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_seconds_never_make_a_move(ctx, make_gathering):
    gathering = make_gathering(starts_at=NOW + timedelta(days=30, seconds=17, microseconds=5))
    whole = gathering.starts_at.replace(second=0, microsecond=0)
    args = move_args(gathering, starts_at=whole, ends_at=whole + timedelta(hours=2))
    assert lifecycle.differences(gathering, **{k: args[k] for k in (
        "starts_at", "ends_at", "venue_name", "venue_address")}) == []
    assert lifecycle.move(gathering, **args) == lifecycle.Outcome(done=False)
