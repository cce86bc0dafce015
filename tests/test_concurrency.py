"""Many people at once: never more confirmed than seats, one registration per address, and
everyone on the waiting list told the place they really have."""

import re
import threading
from datetime import timedelta
from email import message_from_bytes, policy

import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, OutboxMessage, Registration, RegistrationStatus
from tests.conftest import registration_request


def run_at_once(app, jobs):
    """Run each job in its own thread, app context and database connection, released together."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def worker(job):
        with app.app_context():
            try:
                barrier.wait()
                job()
                db.session.commit()
            except Exception as error:  # collected and asserted on below
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_last_seats_are_never_overbooked(app, make_gathering):
    with app.app_context():
        gathering_id = make_gathering(capacity=3, now=utcnow(),
                                      starts_at=utcnow() + timedelta(days=5)).id
        db.session.commit()

    def register(n):
        def job():
            gathering = db.session.get(Gathering, gathering_id)
            rsvp.register(gathering, registration_request(n), now=utcnow())
        return job

    errors = run_at_once(app, [register(n) for n in range(12)])
    assert errors == []
    with app.app_context():
        people = db.session.scalars(sa.select(Registration)).all()
        statuses = [r.status for r in people]
        assert statuses.count(RegistrationStatus.CONFIRMED) == 3
        assert statuses.count(RegistrationStatus.WAITING) == 9
        positions = sorted(rsvp.waiting_position(r) for r in people
                           if r.status == RegistrationStatus.WAITING)
        assert positions == list(range(1, 10))
        mails = db.session.scalars(sa.select(OutboxMessage.kind)).all()
        assert sorted(mails) == ["confirmation"] * 3 + ["waiting_list"] * 9


def test_same_form_submitted_twice_at_once_makes_one_registration(app, make_gathering):
    with app.app_context():
        gathering_id = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=5)).id
        db.session.commit()

    def job():
        gathering = db.session.get(Gathering, gathering_id)
        rsvp.register(gathering, registration_request(1), now=utcnow())

    errors = run_at_once(app, [job, job, job])
    assert errors == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1
        kinds = db.session.scalars(sa.select(OutboxMessage.kind)).all()
        assert kinds.count("confirmation") == 1


def told_place(raw: bytes) -> int | None:
    """The waiting-list number a queued mail's text body tells its reader (Bokmål)."""
    body = message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
    found = re.findall(r"venteliste som nummer (\d+)", body)
    assert len(found) <= 1, body
    return int(found[0]) if found else None


def test_everyone_on_the_waiting_list_is_told_their_real_place(app, make_gathering):
    seats, people = 7, 60
    with app.app_context():
        gathering_id = make_gathering(capacity=seats, now=utcnow(),
                                      starts_at=utcnow() + timedelta(days=5)).id
        db.session.commit()

    def register(n):
        now = utcnow()  # as a view does: the request's time, before it waits for the seat lock

        def job():
            gathering = db.session.get(Gathering, gathering_id)
            rsvp.register(gathering, registration_request(n), now=now)
        return job

    # Sixty people, the last six of whom press the button twice.
    jobs = [register(n) for n in range(people)] + [register(n) for n in range(people - 6, people)]
    errors = run_at_once(app, jobs)
    assert errors == []
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        places = rsvp.waiting_positions(gathering)
        assert sorted(places.values()) == list(range(1, people - seats + 1))
        told = {mail.registration_id: told_place(mail.message) for mail in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "waiting_list"))}
        # Each number told once, none missing, and each is the person's place in the list's order.
        assert sorted(told.values()) == list(range(1, people - seats + 1))
        assert told == places
        again = {mail.registration_id: told_place(mail.message) for mail in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "already_registered"))}
        assert len(again) == 6
        for registration_id, place in again.items():
            assert place == places.get(registration_id), registration_id
        # Promotion follows the same order: the first seat freed goes to number 1.
        first = next(rid for rid, place in places.items() if place == 1)
        confirmed = db.session.scalars(sa.select(Registration).where(
            Registration.gathering_id == gathering_id,
            Registration.status == RegistrationStatus.CONFIRMED)).first()
        [promoted] = rsvp.cancel(confirmed, now=utcnow())
        assert promoted.id == first


# --- fair seats (issue 16): the cap and the held seats under a rush --------------------------


def _gathering_with_rules(app, make_gathering, *, capacity, cap=None, holds=()):
    from klynge_rsvp.seat_rule_changes import Change, change

    with app.app_context():
        gathering = make_gathering(capacity=capacity, now=utcnow(),
                                   starts_at=utcnow() + timedelta(days=5))
        change(gathering, Change(cap, tuple(holds)), now=utcnow(), by=None)
        db.session.commit()
        return gathering.id


def test_one_organisation_racing_for_seats_gets_no_more_than_its_cap(app, make_gathering):
    gathering_id = _gathering_with_rules(app, make_gathering, capacity=5, cap=2)

    def register(n):
        def job():
            gathering = db.session.get(Gathering, gathering_id)
            rsvp.register(gathering, registration_request(n), now=utcnow())
        return job

    errors = run_at_once(app, [register(n) for n in range(8)])
    assert errors == []
    with app.app_context():
        statuses = db.session.scalars(sa.select(Registration.status)).all()
        assert statuses.count(RegistrationStatus.CONFIRMED) == 2
        assert statuses.count(RegistrationStatus.WAITING) == 6


def test_others_racing_never_take_the_seats_held_for_a_sector(app, make_gathering):
    from klynge_rsvp.models import Sector
    from klynge_rsvp.seat_rules import Hold

    held = Hold(Sector.VOLUNTEER, 2, utcnow() + timedelta(days=2))
    gathering_id = _gathering_with_rules(app, make_gathering, capacity=5, holds=[held])
    sectors = [Sector.PUBLIC, Sector.PRIVATE, Sector.NON_PROFIT] * 2

    def register(n):
        def job():
            gathering = db.session.get(Gathering, gathering_id)
            rsvp.register(gathering, registration_request(
                n, organisation_name=f"Virksomhet {n}", sector=sectors[n]), now=utcnow())
        return job

    errors = run_at_once(app, [register(n) for n in range(6)])
    assert errors == []
    with app.app_context():
        statuses = db.session.scalars(sa.select(Registration.status)).all()
        assert statuses.count(RegistrationStatus.CONFIRMED) == 3  # capacity − 2 held
        assert statuses.count(RegistrationStatus.WAITING) == 3
