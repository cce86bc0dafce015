"""Retention: personal data of old gatherings is anonymised; the statistics survive."""

from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import privacy, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Organisation, OutboxMessage, OutboxStatus, Registration
from tests.conftest import NOW, registration_request


def test_purge_anonymises_old_gatherings_only_and_keeps_counts(app, ctx, make_gathering):
    old = make_gathering(starts_at=NOW + timedelta(days=1))
    recent = make_gathering(starts_at=NOW + timedelta(days=300))
    for n in (1, 2):
        rsvp.register(old, registration_request(n), now=NOW)
    rsvp.register(recent, registration_request(3), now=NOW)
    db.session.execute(sa.update(OutboxMessage).values(status=OutboxStatus.SENT))
    db.session.commit()

    later = old.ends_at + timedelta(days=366)  # past the 365-day default retention
    report = privacy.purge_personal_data(now=later)
    db.session.commit()

    assert report.registrations == 2
    assert report.messages == 2
    people = db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()
    assert [p.name for p in people] == ["Slettet deltaker", "Slettet deltaker", "Deltaker 3"]
    assert all("deltaker" not in p.email for p in people[:2])
    assert all(p.anonymised_at == later for p in people[:2])
    assert people[2].anonymised_at is None
    # What the statistics need is still there.
    assert {p.organisation.name for p in people} == {"Bergen kommune"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 1
    assert [p.status.value for p in people[:2]] == ["confirmed", "confirmed"]
    remaining = db.session.scalars(sa.select(OutboxMessage.recipient)).all()
    assert remaining == ["deltaker3@example.no"]

    assert privacy.purge_personal_data(now=later).registrations == 0  # idempotent


def test_purge_keeps_data_within_retention(app, ctx, make_gathering):
    gathering = make_gathering(starts_at=NOW + timedelta(days=1))
    rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.commit()
    report = privacy.purge_personal_data(now=gathering.ends_at + timedelta(days=364))
    assert report.registrations == 0


def test_retention_is_configurable_and_the_command_runs(app_config, make_app, make_gathering):
    app_config["PERSONAL_DATA_RETENTION_DAYS"] = 30
    application = make_app(app_config)
    with application.app_context():
        gathering = make_gathering(starts_at=NOW - timedelta(days=40), now=NOW)
        registration = rsvp.register(gathering, registration_request(1),
                                     now=NOW - timedelta(days=50))
        del registration
        db.session.commit()
    result = application.test_cli_runner().invoke(args=["klynge", "purge-personal-data"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 registrations" in result.output
