"""Many people at once: never more confirmed than seats, one registration per address."""

import threading
from datetime import timedelta

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
