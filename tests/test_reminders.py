"""Reminders: once per person and date, never after a postponement, the new date after a move,
and the one reminder to answer "still coming?" after a new date."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from klynge_rsvp import lifecycle, reminders, rsvp, worker
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import Gathering, GatheringStatus, Reconfirmation
from tests.conftest import NOW
from tests.lifecycle_helpers import outbox_invite, parse, queued, register, text_body

START = NOW + timedelta(days=10)
MOMENT = START - timedelta(days=2)  # the default: two days before


@pytest.fixture
def gathering(ctx, make_gathering):
    """Persons 1 and 2 have seats, 3 waits, 4 cancelled; all registered well before."""
    gathering = make_gathering(starts_at=START, capacity=3)
    _, _, four, _ = register(gathering, 1, 2, 4, 3)
    rsvp.cancel(four, now=NOW)  # 3 promoted
    register(gathering, 5)  # waits
    db.session.commit()
    return gathering


def reminded(after_id: int = 0) -> list[str]:
    return sorted(row.recipient for row in queued(kind="reminder", after_id=after_id))


def test_no_reminder_before_the_moment_then_one_each_for_those_with_a_seat(gathering):
    assert reminders.send_reminders(gathering, now=MOMENT - timedelta(minutes=1)) == 0
    assert reminders.send_reminders(gathering, now=MOMENT) == 3
    assert reminded() == ["deltaker1@example.no", "deltaker2@example.no", "deltaker3@example.no"]
    # Every later run (a restart, a second worker, the next interval) finds them sent.
    for later in (MOMENT, MOMENT + timedelta(hours=5), START - timedelta(minutes=1)):
        assert reminders.send_reminders(gathering, now=later) == 0
    assert len(reminded()) == 3


def test_the_reminder_carries_the_current_invitation(gathering):
    reminders.send_reminders(gathering, now=MOMENT)
    for row in queued(kind="reminder"):
        invite = outbox_invite(row)
        assert (invite.method, invite.mime_method, invite.status) == ("REQUEST", "REQUEST",
                                                                     "CONFIRMED")
        assert invite.uid == gathering.ical_uid
        assert invite.sequence == row.registration.ical_sequence
        assert invite.start == START and invite.dtstamp == MOMENT
        assert invite.attendees == [f"mailto:{row.recipient}"]
        message = parse(row.message)
        assert message["Subject"].startswith("Påminnelse: Frokostmøte om beredskap")
        assert "Velkommen til" in text_body(message)


def test_the_number_of_days_is_set_per_gathering(ctx, make_gathering):
    gathering = make_gathering(starts_at=START, reminder_days_before=5)
    register(gathering, 1)
    assert reminders.send_reminders(gathering, now=START - timedelta(days=5, minutes=1)) == 0
    assert reminders.send_reminders(gathering, now=START - timedelta(days=5)) == 1
    never = make_gathering(starts_at=START)
    never.reminder_days_before = None  # (the column default wins over None at INSERT)
    db.session.flush()
    register(never, 2)
    assert reminders.send_reminders(never, now=MOMENT) == 0


@pytest.mark.parametrize(("start", "moment"), [
    # Monday after the change to summer time: Saturday 08.00 is still in winter time.
    (datetime(2026, 3, 30, 6, 0, tzinfo=UTC), datetime(2026, 3, 28, 7, 0, tzinfo=UTC)),
    # Monday after the change back: Saturday 08.00 is still in summer time.
    (datetime(2026, 10, 26, 7, 0, tzinfo=UTC), datetime(2026, 10, 24, 6, 0, tzinfo=UTC)),
], ids=["spring", "autumn"])
def test_days_before_are_counted_on_the_oslo_calendar(ctx, make_gathering, start, moment):
    gathering = make_gathering(starts_at=start)
    register(gathering, 1)
    assert reminders.reminder_moment(gathering) == moment
    assert reminders.send_reminders(gathering, now=moment - timedelta(seconds=1)) == 0
    assert reminders.send_reminders(gathering, now=moment) == 1


@pytest.mark.parametrize("action", ["postpone", "cancel"])
def test_postponed_and_cancelled_gatherings_get_no_reminders(gathering, action):
    getattr(lifecycle, action)(gathering, message="Syk.", now=NOW, by=None)
    assert reminders.send_reminders(gathering, now=MOMENT) == 0
    assert reminded() == []


def test_a_gathering_that_has_begun_gets_none(gathering):
    assert reminders.send_reminders(gathering, now=START) == 0
    assert reminders.send_reminders(gathering, now=START + timedelta(days=1)) == 0


def test_a_moved_gathering_is_reminded_again_for_the_new_date(gathering):
    reminders.send_reminders(gathering, now=MOMENT)
    new_start = START + timedelta(days=7)
    lifecycle.move(gathering, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                   venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                   message="", now=MOMENT + timedelta(hours=1), by=None)
    before = max(row.id for row in queued())
    assert reminders.send_reminders(gathering, now=START) == 0  # the old date means nothing now
    assert reminders.send_reminders(gathering, now=new_start - timedelta(days=2)) == 3
    rows = queued(kind="reminder", after_id=before)
    assert {outbox_invite(row).start for row in rows} == {new_start}
    assert {outbox_invite(row).sequence for row in rows} == {1}
    assert reminders.send_reminders(gathering, now=new_start - timedelta(hours=1)) == 0


def test_someone_told_after_the_moment_is_not_reminded_on_top(gathering):
    late = MOMENT + timedelta(hours=2)
    register(gathering, 6, now=late)  # gets the confirmation with the invite now
    lifecycle.move(gathering, starts_at=START, ends_at=START + timedelta(hours=2),
                   venue_name="Bergen rådhus", venue_address="", message="", now=late, by=None)
    assert reminders.send_reminders(gathering, now=late + timedelta(minutes=5)) == 0


def test_two_schedulers_at_once_queue_each_reminder_once(app, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now - timedelta(days=5), starts_at=now + timedelta(days=1))
        register(gathering, 1, 2, 3, now=now - timedelta(days=5))
        db.session.commit()
    barrier, errors, counts = threading.Barrier(3), [], []

    def scheduler():
        with app.app_context():
            try:
                barrier.wait()
                counts.append(reminders.run_reminders())
            except Exception as error:  # collected and asserted on below
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=scheduler) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(counts) == [0, 0, 3]
    with app.app_context():
        assert reminded() == ["deltaker1@example.no", "deltaker2@example.no",
                              "deltaker3@example.no"]


def test_the_worker_runs_the_reminder_jobs(app, make_gathering):
    names = [job.name for job in worker.registered_jobs()]
    assert "reminders" in names and "reconfirm-reminders" in names
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now - timedelta(days=5), starts_at=now + timedelta(days=1))
        register(gathering, 1, now=now - timedelta(days=5))
        db.session.commit()
    scheduler = worker.Scheduler(app, [job for job in worker.registered_jobs()
                                     if job.name in {"reminders", "reconfirm-reminders"}])
    scheduler.run_due()
    scheduler.run_due()  # not due again yet; and if it were, nothing new to send
    with app.app_context():
        assert reminded() == ["deltaker1@example.no"]


def test_a_reminder_goes_out_through_smtp(smtp_config, app, smtp_server, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now - timedelta(days=5), starts_at=now + timedelta(days=1))
        register(gathering, 1, now=now - timedelta(days=5))
        db.session.commit()
        delivery.deliver_due()  # the confirmation
        reminders.run_reminders()
        delivery.deliver_due()
        [message] = smtp_server.handler.parsed()[1:]
        assert message["Subject"].startswith("Påminnelse: Frokostmøte om beredskap")
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert calendar.get_param("method") == "REQUEST"


# --- "still coming?" after a new date ---------------------------------------------------------


def rescheduled(gathering, *, deadline):
    lifecycle.postpone(gathering, message="Syk.", now=NOW, by=None)
    new_start = START + timedelta(days=20)
    lifecycle.reschedule(gathering, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                         venue_name="Bergen rådhus", venue_address="", reconfirm_deadline=deadline,
                         message="", now=NOW + timedelta(hours=1), by=None)
    return {r.email: r for r in gathering.registrations}


def test_those_who_have_not_answered_by_the_deadline_get_one_reminder(gathering):
    deadline = START
    people = rescheduled(gathering, deadline=deadline)
    lifecycle.reconfirm(people["deltaker1@example.no"], coming=True, now=NOW + timedelta(hours=2))
    lifecycle.reconfirm(people["deltaker2@example.no"], coming=False, now=NOW + timedelta(hours=2))
    assert people["deltaker5@example.no"].reconfirmation == Reconfirmation.NOT_ASKED  # promoted

    assert reminders.send_reconfirm_reminders(gathering, now=deadline - timedelta(minutes=1)) == 0
    assert reminders.send_reconfirm_reminders(gathering, now=deadline) == 1
    assert reminders.send_reconfirm_reminders(gathering, now=deadline + timedelta(days=1)) == 0
    [row] = queued(kind="reconfirm_reminder")
    assert row.recipient == "deltaker3@example.no"
    invite = outbox_invite(row)
    assert (invite.method, invite.uid, invite.sequence) == ("REQUEST", gathering.ical_uid, 0)
    token = row.registration.token
    assert f"/pamelding/{token}/ny-dato?svar=ja" in text_body(parse(row.message))


def test_no_deadline_no_reconfirm_reminder_and_none_once_cancelled(gathering):
    rescheduled(gathering, deadline=None)
    assert reminders.send_reconfirm_reminders(gathering, now=START) == 0
    other = db.session.get(Gathering, gathering.id)
    other.reconfirm_deadline = START
    lifecycle.cancel(other, message="x", now=NOW + timedelta(hours=3), by=None)
    assert other.status == GatheringStatus.CANCELLED
    assert reminders.send_reconfirm_reminders(other, now=START) == 0
    assert queued(kind="reconfirm_reminder") == []
