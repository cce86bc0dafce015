"""The demo data: the network's real history from the seed file."""

from datetime import UTC, date, datetime

import sqlalchemy as sa

from klynge_rsvp import demo
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, GatheringStatus


def test_demo_history_and_one_gathering_to_register_for(app, runner):
    result = runner.invoke(args=["klynge", "init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "Demo data loaded." in result.output
    with app.app_context():
        gatherings = db.session.scalars(sa.select(Gathering).order_by(Gathering.starts_at)).all()
        assert len(gatherings) == 7
        held = [g for g in gatherings if g.status == GatheringStatus.PUBLISHED][:5]
        assert [g.format for g in held] == [
            "Frokostmøte", "Hjernedugnad", "Frokostseminar", "Frokostmøte", "Lunsjseminar"]
        # "19.12.05" in the seed is 5 December 2019 (08.00 Oslo is 07.00 UTC in winter).
        fifth = held[4]
        assert fifth.starts_at == datetime(2019, 12, 5, 10, 30, tzinfo=UTC)
        assert fifth.venue_name == "Grand konferanse- og festlokaler"
        first = held[0]
        assert first.starts_at == datetime(2018, 2, 23, 7, 0, tzinfo=UTC)
        postponed = gatherings[5]
        assert postponed.status == GatheringStatus.POSTPONED
        assert postponed.venue_name.startswith("Høgskulen på Vestlandet")
        upcoming = gatherings[6]
        assert upcoming.status == GatheringStatus.PUBLISHED
        assert upcoming.registration_open(datetime.now(UTC))

    again = runner.invoke(args=["klynge", "init", "--demo"])
    assert "demo not loaded" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)) == 7


def test_demo_day_avoids_christmas():
    assert demo.next_demo_day(date(2026, 11, 26)) == date(2027, 1, 7)
    assert demo.next_demo_day(date(2026, 3, 2)).weekday() == 3
