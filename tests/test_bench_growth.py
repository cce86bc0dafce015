"""bench/growth.py's data (issue 20, targets 3 and 5): the sizes it claims, the measured
gathering the same at every size, and the state the daily purge leaves, so that the sender
worker has no backlog to purge while the pages are measured."""

import sys
from datetime import timedelta

import sqlalchemy as sa

from bench import growth
from klynge_rsvp import create_app, figures, privacy, statistics
from klynge_rsvp.clock import local_zone, utcnow
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
    monkeypatch.setattr(statistics, "stored_reach", statistics.stored_reach)  # put back after
    monkeypatch.setattr(figures, "stored_page", figures.stored_page)
    monkeypatch.delitem(sys.modules, "bench.wsgi_app", raising=False)  # an app on this database
    app = growth.cold_app()
    with app.test_request_context("/arrangor/?benk_kald=1"):
        app.extensions["klynge_recent_reach"] = ("then", "figures")
        app.preprocess_request()
        assert "klynge_recent_reach" not in app.extensions
    with app.test_request_context("/arrangor/"):
        app.extensions["klynge_recent_reach"] = ("then", "figures")
        app.preprocess_request()
        assert app.extensions["klynge_recent_reach"] == ("then", "figures")


def test_benk_kald_uten_passes_over_the_stored_figures(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'stored.sqlite3'}"
    growth.prepare(url, 2526, lambda: growth.fill(1_000))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "growth-test-" * 3)
    monkeypatch.setattr(statistics, "stored_reach", statistics.stored_reach)
    monkeypatch.setattr(figures, "stored_page", figures.stored_page)
    monkeypatch.delitem(sys.modules, "bench.wsgi_app", raising=False)
    app = growth.cold_app()
    assert not growth.has_stored_figures(url)
    with app.app_context():
        now = utcnow()
        statistics.store_reach(now)
        figures.store(now, local_zone("Europe/Oslo"))
        db.session.commit()
        assert statistics.stored_reach(now) is not None  # outside a request: as stored
    assert growth.has_stored_figures(url)
    everything = figures.Period()
    with app.test_request_context("/arrangor/?benk_kald=1"):
        assert statistics.stored_reach(now) is not None
        assert figures.stored_page(now, everything, 1) is not None
    with app.test_request_context("/arrangor/?benk_kald=uten"):
        assert statistics.stored_reach(now) is None  # so the request computes them
        assert figures.stored_page(now, everything, 1) is None
        db.engine.dispose()
