"""The schema is made only by migrations: up, down, up again, and no drift from the models."""

import pytest
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from klynge_rsvp.extensions import db

TABLES = {"gatherings", "organisations", "registrations", "outbox_messages", "organisers",
          "audit_entries", "registration_events", "gathering_links", "subscribers", "announcements",
          "calendar_replies", "organiser_recovery_codes", "login_throttles",
          "form_mail_suppressions", "organiser_sign_ins"}


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


def test_keys_stored_in_unicode_are_rewritten_in_punycode(app, make_gathering):
    """0007: `ola@bølle.no` stored before as its own key becomes `ola@xn--blle-gra.no`, unless
    that mailbox is also registered in punycode (both are left for an organiser to see)."""
    from klynge_rsvp import mailing_list, rsvp
    from klynge_rsvp.models import Registration, Subscriber
    from tests.conftest import NOW, person, registration_request

    with app.app_context():
        gathering = make_gathering()
        for n, email in enumerate(["ola@bølle.no", "kari@bølle.no", "kari.ascii@example.no"], 1):
            rsvp.register(gathering, registration_request(n, person=person(n, email=email)), now=NOW)
        mailing_list.sign_up("per@bølle.no", now=NOW)
        db.session.commit()
        with db.engine.begin() as connection:  # as the code before 0007 stored them
            connection.execute(sa.text("UPDATE registrations SET email_key = lower(email)"))
            connection.execute(sa.text("UPDATE registrations SET email_key = 'kari@xn--blle-gra.no' "
                                       "WHERE email = 'kari.ascii@example.no'"))
            connection.execute(sa.text("UPDATE subscribers SET email_key = 'per@bølle.no'"))
        downgrade(revision="0006_outbox_error_kind")
        upgrade()
        db.session.expire_all()
        keys = {r.email: r.email_key for r in db.session.scalars(sa.select(Registration))}
        assert keys == {"ola@bølle.no": "ola@xn--blle-gra.no", "kari@bølle.no": "kari@bølle.no",
                        "kari.ascii@example.no": "kari@xn--blle-gra.no"}
        assert db.session.scalar(sa.select(Subscriber.email_key)) == "per@xn--blle-gra.no"


def test_0011_adds_and_removes_the_sign_in_links(app):
    """0011: the table linking organisers to their provider's subject comes and goes, and the
    accounts already there are kept."""
    from klynge_rsvp import organisers
    from tests.conftest import NOW

    with app.app_context():
        organisers.create("kari@kommune.no", "Et langt og godt passord 42", now=NOW)
        db.session.commit()
        downgrade(revision="0009_form_mail_consent")
        assert "organiser_sign_ins" not in table_names()
        upgrade()
        assert "organiser_sign_ins" in table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("organiser_sign_ins")}
        assert {"provider", "subject", "last_acr", "last_amr"} <= columns
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT email FROM organisers")).scalar() == \
                "kari@kommune.no"
