"""The schema is made only by migrations: up, down, up again, and no drift from the models."""

import pytest
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from klynge_rsvp.extensions import db

TABLES = {"gatherings", "organisations", "registrations", "outbox_messages", "organisers",
          "audit_entries", "registration_events", "gathering_links", "subscribers", "announcements",
          "calendar_replies"}


def table_names():
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_and_no_drift(app):
    with app.app_context():
        assert table_names() == TABLES
        downgrade(revision="base")
        assert table_names() == set()
        upgrade()
        assert table_names() == TABLES
        check()  # exits 1 when the models and the migrated schema differ


def test_drift_check_can_fail(app):
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE stray_table (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SystemExit):  # Flask-Migrate turns alembic's drift error into exit 1
            check()
