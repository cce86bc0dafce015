"""Faults: the database away, a failure half-way through a registration, rate limits."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import notifications, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Organisation, OutboxMessage, Registration
from tests.conftest import person, registration_request
from tests.pages import post_form

DOWN = "postgresql+psycopg://nobody:nothing@127.0.0.1:9/none?connect_timeout=2"


def test_database_unavailable_gives_a_clear_page(app_config, make_app):
    # A PostgreSQL URL where nothing listens: every query fails to connect.
    app_config["SQLALCHEMY_DATABASE_URI"] = DOWN
    response = make_app(app_config, migrate=False).test_client().get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Tjenesten er midlertidig utilgjengelig" in response.text


def test_healthz_reports_database_and_outbox(app, client, make_gathering):
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["outbox"]["pending"] == 1
    assert body["outbox"]["failed"] == 0
    assert 0 <= body["outbox"]["oldest_pending_seconds"] < 60


def test_healthz_without_database_is_503(app_config, make_app):
    app_config["SQLALCHEMY_DATABASE_URI"] = DOWN
    response = make_app(app_config, migrate=False).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_failure_half_way_through_a_group_leaves_nothing(app, ctx, make_gathering, monkeypatch):
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
    db.session.commit()
    real = notifications.registration.compose_confirmation
    calls = []

    def fail_on_second(registration, *, now, **details):
        calls.append(registration.email)
        if len(calls) == 2:
            raise RuntimeError("the mail template broke")
        return real(registration, now=now, **details)

    monkeypatch.setattr(notifications.registration, "compose_confirmation", fail_on_second)
    monkeypatch.setattr(rsvp.notifications, "compose_confirmation", fail_on_second)
    with pytest.raises(RuntimeError):
        rsvp.register(gathering, registration_request(1, organisation_name="Ny forening",
                                                     colleagues=[person(2)]), now=utcnow())
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_registration_is_rate_limited_per_client(app_config, make_app, make_gathering):
    app_config["REGISTRATION_RATE_LIMIT"] = "3 per minute"
    application = make_app(app_config)
    with application.app_context():
        slug = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3)).slug
        db.session.commit()
    client = application.test_client()
    statuses = [post_form(client, f"/samlinger/{slug}", email=f"p{n}@example.no").status_code
                for n in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert "For mange forsøk" in post_form(client, f"/samlinger/{slug}").text
    with application.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 3
