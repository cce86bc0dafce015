"""Stored texts (audit log, history notes, calendar reply reasons) are codes with parameters,
put into words in the reader's language when shown (migration 0010, which converts the old
rows, is tested in test_migrations.py)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from klynge_rsvp import gatherings, lifecycle, replies, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Organiser
from klynge_rsvp.stored_text import render, shown
from tests.conftest import NOW, registration_request
from tests.imap_helpers import AUTHSERV_ID, outlook_reply
from tests.pages import text


@pytest.fixture
def app_config(app_config):
    app_config["REPLY_AUTHSERV_ID"] = AUTHSERV_ID
    return app_config


def write_rows_in_bokmal(app, make_gathering):
    """An organiser registers someone and changes the capacity, the gathering is moved, and a
    calendar reply that concerns nobody arrives: all while Bokmål is the language."""
    with app.app_context():
        organiser = db.session.scalar(sa.select(Organiser))
        gathering = make_gathering(capacity=10)
        registration = rsvp.register_on_behalf(gathering, registration_request(1), now=NOW,
                                               by=organiser)
        gatherings.update(gathering, {"capacity": None}, now=NOW, by=organiser)
        lifecycle.move(gathering, starts_at=gathering.starts_at + timedelta(days=1),
                       ends_at=gathering.ends_at + timedelta(days=1),
                       venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                       message="", now=NOW, by=organiser)
        replies.receive(replies.read_message(outlook_reply(
            uid=gathering.ical_uid, address="ukjent@example.no"), authserv_id=AUTHSERV_ID), now=NOW)
        db.session.commit()
        return registration.id


def test_an_organiser_reads_stored_texts_in_the_language_they_chose(
        app, make_gathering, organiser_client):
    registration_id = write_rows_in_bokmal(app, make_gathering)
    pages = ("/arrangor/revisjonslogg", f"/arrangor/pameldinger/{registration_id}",
             "/arrangor/kalendersvar/")

    organiser_client.get("/sprak/en")
    audit, history, calendar = (text(organiser_client.get(page).text) for page in pages)
    assert "Registered Deltaker 1 (deltaker1@example.no)." in audit
    assert "Changed number of places (10 → unlimited)." in audit
    assert "Time: " in audit and "1 notified." in audit
    assert "Meldte på" not in audit and "Endret" not in audit and "varslet" not in audit
    assert "(registered by an organiser)" in history and "meldt på av arrangør" not in history
    assert "No registration from ukjent@example.no for “Frokostmøte om beredskap”." in calendar
    assert "Ingen påmelding fra" not in calendar

    organiser_client.get("/sprak/nn")
    audit = text(organiser_client.get(pages[0]).text)
    assert "Melde på Deltaker 1 (deltaker1@example.no)." in audit
    assert "Endra tal på plassar (10 → uavgrensa)." in audit

    organiser_client.get("/sprak/nb")
    audit, history, calendar = (text(organiser_client.get(page).text) for page in pages)
    assert "Meldte på Deltaker 1 (deltaker1@example.no)." in audit
    assert "Endret antall plasser (10 → ubegrenset)." in audit
    assert "(meldt på av arrangør)" in history
    assert "Ingen påmelding fra ukjent@example.no til «Frokostmøte om beredskap»." in calendar


def test_a_move_names_the_times_in_the_readers_language(app, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        lifecycle.move(gathering, starts_at=gathering.starts_at + timedelta(days=1),
                       ends_at=gathering.ends_at + timedelta(days=1),
                       venue_name="Grieghallen", venue_address="Edvard Griegs plass 1",
                       message="", now=NOW, by=None)
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "move"))
        assert entry.summary == "" and entry.summary_code == "gathering_moved"
        with force_locale("en"):
            english = shown(entry, "summary")
        with force_locale("nb"):
            bokmal = shown(entry, "summary")
        assert english.startswith("Time: Thursday 12 February 2026, 10:00–12:00 → Friday")
        assert "Venue: Ole Bull Scene" in english and english.endswith("0 notified.")
        assert bokmal.startswith("Tid: torsdag 12. februar 2026 kl. 10.00–12.00 → fredag")
        assert "Sted: Ole Bull Scene" in bokmal and bokmal.endswith("0 varslet.")


def test_what_an_organiser_typed_is_kept_as_typed(app, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        registration = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
        rsvp.cancel_by_organiser(registration, now=NOW, by=None, note="Ringte og meldte fra")
        event = registration.events[-1]
        assert (event.note, event.note_code) == ("Ringte og meldte fra", "")
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "cancel_registration"))
        with force_locale("en"):
            assert shown(entry, "summary") == ("Cancelled the registration of Deltaker 1 "
                                               "(deltaker1@example.no): Ringte og meldte fra.")


@pytest.mark.parametrize("stored", [
    {"code": "gathering_created", "params": {}},  # its words need a title
    {"code": "gathering_created", "params": {"tittel": "Frokost"}},
    {"code": "a_code_of_a_newer_version", "params": {"title": "Frokost"}},
    {"code": "note_new_date", "params": {"when": {"when": ["not a time", "2026-01-01"]}}},
])
def test_a_stored_text_that_does_not_fit_its_words_is_still_shown(app, stored):
    with app.test_request_context():
        assert render(stored)  # words of some kind, never an error (no page ends in a 500)
