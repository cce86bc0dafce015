"""No N+1 queries: the pages that list registrations run the same number of SQL statements
whether they show a handful of rows or many (counted with SQLAlchemy's before_cursor_execute)."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import statistics
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery, outbox
from klynge_rsvp.models import (
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    Sector,
    new_token,
)

FEW, MANY = 3, 40


@contextmanager
def counting():
    """The SQL statements run inside the block (any connection of the app's engine)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def add_registrations(gathering_id: int, count: int) -> None:
    """`count` registrations, each from its own organisation (so a per-row lazy load shows),
    with every status, check-ins and a history line each."""
    now = utcnow()
    sectors = list(Sector)
    for n in range(count):
        organisation = Organisation(name=f"Virksomhet {uuid.uuid4().hex[:8]}",
                                    name_key=uuid.uuid4().hex, sector=sectors[n % len(sectors)],
                                    created_at=now)
        status = [RegistrationStatus.CONFIRMED, RegistrationStatus.WAITING,
                  RegistrationStatus.CANCELLED][n % 3]
        email = f"p{n}-{uuid.uuid4().hex[:6]}@example.no"
        registration = Registration(
            gathering_id=gathering_id, organisation=organisation, name=f"Deltaker {n}",
            email=email, email_key=email, consented_at=now, status=status, token=new_token(),
            waiting_since=now + timedelta(seconds=n) if status == RegistrationStatus.WAITING
            else None, checked_in_at=now if n % 6 == 0 else None, created_at=now, updated_at=now,
            cancelled_at=now if status == RegistrationStatus.CANCELLED else None)
        registration.events.append(RegistrationEvent(at=now, kind="registered"))
        db.session.add(registration)
    db.session.commit()


@pytest.fixture
def two_gatherings(app, make_gathering):
    """(few, many): the ids and slugs of gatherings with FEW and MANY registrations."""
    with app.app_context():
        made = []
        for count in (FEW, MANY):
            gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=10),
                                       capacity=MANY)
            db.session.commit()
            add_registrations(gathering.id, count)
            made.append({"id": gathering.id, "slug": gathering.slug})
        return made


def statements_for(app, client, url: str) -> list[str]:
    """The statements a GET of `url` runs (after one warm-up request)."""
    assert client.get(url).status_code == 200
    with app.app_context():
        statistics.forget_recent_reach()  # the overview's reused figures: count their queries too
    with app.app_context(), counting() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return statements


def require(app, endpoint: str) -> None:
    if endpoint not in app.view_functions:
        pytest.skip(f"{endpoint} does not exist yet")


PAGES = {
    "public.gathering": "/samlinger/{slug}",
    "admin.registrations": "/arrangor/samlinger/{id}/pameldinger",
    "admin.export_csv": "/arrangor/samlinger/{id}/pameldinger.csv",
    "admin.export_xlsx": "/arrangor/samlinger/{id}/pameldinger.xlsx",
}


@pytest.mark.parametrize("endpoint", PAGES)
def test_page_runs_as_many_queries_for_many_rows_as_for_few(app, organiser_client, two_gatherings,
                                                             endpoint):
    require(app, endpoint)
    few, many = (statements_for(app, organiser_client, PAGES[endpoint].format(**g))
                 for g in two_gatherings)
    assert len(many) == len(few), "\n".join(many)


def test_registration_list_filters_and_search_do_not_query_per_row(app, organiser_client,
                                                                    two_gatherings):
    require(app, "admin.registrations")
    url = PAGES["admin.registrations"] + "?status=confirmed&q=deltaker"
    few, many = (statements_for(app, organiser_client, url.format(**g)) for g in two_gatherings)
    assert len(many) == len(few)


def test_dashboard_queries_do_not_grow_with_gatherings_or_registrations(
        app, organiser_client, make_gathering):
    require(app, "admin.index")
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
        add_registrations(gathering.id, FEW)
    before = statements_for(app, organiser_client, "/arrangor/")
    with app.app_context():
        for days in (4, 5, 6, -30, -60):  # more upcoming ones, and some held already
            gathering = make_gathering(now=utcnow() - timedelta(days=90),
                                       starts_at=utcnow() + timedelta(days=days))
            db.session.commit()
            add_registrations(gathering.id, MANY // 4)
    after = statements_for(app, organiser_client, "/arrangor/")
    assert len(after) == len(before), "\n".join(after)


def test_public_index_queries_do_not_grow_with_gatherings(app, client, make_gathering):
    with app.app_context():
        make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    before = statements_for(app, client, "/")
    with app.app_context():
        for days in range(4, 12):
            gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=days),
                                       capacity=10)
            db.session.commit()
            add_registrations(gathering.id, 2)
    after = statements_for(app, client, "/")
    assert len(after) == len(before), "\n".join(after)


# --- the outbox: a constant number of statements per message --------------------------------


def queue(count: int, prefix: str) -> None:
    now = utcnow()
    for n in range(count):
        outbox.enqueue(outbox.ComposedMail(kind="test", recipient=f"{prefix}{n}@example.no",
                                           subject="Hei", message=b"Subject: Hei\r\n\r\nHei\r\n"),
                       key=f"{prefix}:{n}", now=now)
    db.session.commit()


def test_enqueueing_a_fan_out_costs_a_constant_per_message(ctx):
    """Each notice costs its idempotency look-up and at most its INSERT; on PostgreSQL the
    INSERTs of one transaction go out together (SQLite's driver cannot batch them with
    RETURNING, and there a statement is a function call, not a round trip)."""
    with counting() as small:
        queue(2, "a")
    with counting() as large:
        queue(60, "b")

    def inserts(statements):
        return [s for s in statements if re.match(r"\s*INSERT INTO outbox_messages", s)]

    assert len(large) - len(small) <= 2 * (60 - 2)
    if db.engine.dialect.name == "postgresql":
        assert len(inserts(large)) <= len(inserts(small)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 62


def test_a_key_queued_twice_in_one_transaction_is_queued_once(ctx):
    mail = outbox.ComposedMail(kind="test", recipient="a@example.no", subject="x", message=b"x")
    first = outbox.enqueue(mail, key="same", now=utcnow())
    assert outbox.enqueue(mail, key="same", now=utcnow()) is first
    db.session.commit()
    assert outbox.enqueue(mail, key="same", now=utcnow()).id == first.id
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_a_rolled_back_savepoint_does_not_leave_its_mail_behind(ctx):
    mail = outbox.ComposedMail(kind="test", recipient="a@example.no", subject="x", message=b"x")
    savepoint = db.session.begin_nested()
    outbox.enqueue(mail, key="sp", now=utcnow())
    savepoint.rollback()
    again = outbox.enqueue(mail, key="sp", now=utcnow())
    db.session.commit()
    assert again.id is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_delivery_statements_grow_by_a_constant_per_message(smtp_config, app, smtp_server):
    with app.app_context():
        queue(3, "c")
        with counting() as small:
            assert len(delivery.deliver_due().sent) == 3
        queue(23, "d")
        with counting() as large:
            assert len(delivery.deliver_due().sent) == 23
        per_message = (len(large) - len(small)) / 20
        assert per_message == int(per_message) and per_message <= 4
        assert db.session.scalar(sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.SENT)) == 26
