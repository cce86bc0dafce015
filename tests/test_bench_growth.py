"""bench/growth.py's data (issue 20, targets 3 and 5): the sizes it claims, the measured
gathering the same at every size, and the state the daily purge leaves, so that the sender
worker has no backlog to purge while the pages are measured."""

from datetime import timedelta

import sqlalchemy as sa

from bench import growth
from klynge_rsvp import create_app, privacy, statistics
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, OutboxMessage, Registration


def test_growth_seeds_the_sizes_in_the_purges_steady_state(tmp_path):
    url = f"sqlite:///{tmp_path / 'growth.sqlite3'}"
    made = growth.prepare(url, 2525, lambda: growth.fill(1_000))
    app = create_app({"SECRET_KEY": "growth-test-" * 3, "SQLALCHEMY_DATABASE_URI": url,
                      "KLYNGE_SENDER_THREAD": False})
    with app.app_context():
        assert made["counted"]["registrations"] == 1_000
        assert made["counted"]["gatherings"] == 21  # 20, and one for the registration load
        measured = db.session.scalar(sa.select(sa.func.count()).where(
            Registration.gathering_id == made["measured"]))
        assert measured == growth.MEASURED
        cutoff = privacy.retention_cutoff(utcnow())
        old = sa.select(Gathering.id).where(Gathering.ends_at < cutoff)
        old_registrations = db.session.scalar(sa.select(sa.func.count()).where(
            Registration.gathering_id.in_(old)))
        assert old_registrations > 0  # years of history, anonymised as the purge leaves it
        assert db.session.scalar(sa.select(sa.func.count()).where(
            Registration.gathering_id.in_(old), Registration.anonymised_at.is_(None))) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).join(
            Registration).where(Registration.gathering_id.in_(old))) == 0
        report = privacy.purge_personal_data(now=utcnow())
        assert (report.registrations, report.messages, report.needs) == (0, 0, 0)
        db.session.rollback()
        held = statistics.past_attendance(utcnow() + timedelta(seconds=1))
        assert len(held) == 6  # 20 gatherings: 14 upcoming (the measured one among them)
        db.engine.dispose()


def test_benk_kald_makes_the_overview_compute_reach_afresh(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cold.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", "growth-test-" * 3)
    app = growth.cold_app()
    with app.test_request_context("/arrangor/?benk_kald=1"):
        app.extensions["klynge_recent_reach"] = ("then", "figures")
        app.preprocess_request()
        assert "klynge_recent_reach" not in app.extensions
    with app.test_request_context("/arrangor/"):
        app.extensions["klynge_recent_reach"] = ("then", "figures")
        app.preprocess_request()
        assert app.extensions["klynge_recent_reach"] == ("then", "figures")
