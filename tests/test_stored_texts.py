"""Stored texts (audit log, history notes, calendar reply reasons) are codes with parameters,
put into words in the reader's language when shown; migration 0010 converts the old rows."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_migrate import downgrade, upgrade

from klynge_rsvp import gatherings, lifecycle, replies, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    AuditEntry,
    CalendarReply,
    Organiser,
    RegistrationEvent,
    ReplyOutcome,
)
from klynge_rsvp.stored_text import shown
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


# --- migration 0010 ---------------------------------------------------------------------------

LEGACY_AUDIT = {
    # (action, what the code before 0010 wrote) -> (code, English as shown now)
    ("register", "Meldte på Kari Nordmann (kari@example.no), på venteliste."):
        ("registered_by_organiser_waiting",
         "Registered Kari Nordmann (kari@example.no), on the waiting list."),
    ("register", "Meldte på [slettet person #7]."):
        ("registered_by_organiser", "Registered [slettet person #7]."),
    ("edit", "Endret tittel, antall plasser (10 → ubegrenset); 2 fikk plass fra ventelisten."):
        ("gathering_edited_capacity_promoted",
         "Changed title, number of places (10 → unlimited); 2 got a place from the waiting list."),
    ("move", "Tid: fredag 23. februar 2018 kl. 08.00–10.00 → lørdag 24. februar 2018 kl. "
             "08.00–10.00. Sted: Ole Bull Scene → Grieghallen. 3 varslet."):
        ("gathering_moved", "Time: fredag 23. februar 2018 kl. 08.00–10.00 → lørdag 24. februar "
                            "2018 kl. 08.00–10.00. Venue: Ole Bull Scene → Grieghallen. "
                            "3 notified."),
    ("organiser_role", "per@example.no: arrangør → administrator"):
        ("account_role_changed", "per@example.no: organiser → administrator"),
    ("send", "Kunngjøringen «Husk» til ventelisten: 4 mottakere"):
        ("announcement_sent", "The announcement “Husk” to the waiting list: 4 recipients"),
    ("resend", "Påminnelse til kari@example.no: «Snart»"):
        ("mail_resent", "Reminder to kari@example.no: “Snart”"),
    ("calendar_reply_confirmed", "Godkjente kalendersvar (ACCEPTED) fra kari@example.no: "
                                 "Påmeldingen er allerede avmeldt."):
        ("calendar_reply_confirmed_ignored", "Confirmed a calendar reply (ACCEPTED) from "
                                             "kari@example.no: The registration has already "
                                             "been cancelled."),
    # Not a phrasing the code wrote: kept, and shown as it is.
    ("edit", "Endret noe helt annet."): ("", "Endret noe helt annet."),
    ("renew_link", "kari@example.no"): ("", "kari@example.no"),
}
LEGACY_NOTES = {
    "Svar fra kalenderen: avslått (godkjent av arrangør)":
        ("note_calendar_answer_confirmed",
         "Answer from the calendar: declined (confirmed by an organiser)"),
    "ny dato: fredag 23. februar 2018 kl. 08.00–10.00":
        ("note_new_date", "new date: fredag 23. februar 2018 kl. 08.00–10.00"),
    "Ringte og meldte fra": ("", "Ringte og meldte fra"),
}
LEGACY_REASONS = {
    # Reasons were written in whatever language was active: Nynorsk and English too.
    "E-posttenaren vår seier at DMARC feila for domenet til avsendaren (example.no): svaret kan "
    "vere forfalska. Resultata frå e-posttenaren vår: dmarc=fail. Svaret ventar på at ein arrangør "
    "godkjenner eller avviser det.":
        ("reply_held", "Our mail server says DMARC failed for the sender's domain (example.no): "
                       "the reply may be forged. Our mail server's results: dmarc=fail. The "
                       "reply is waiting for an organiser to approve or reject it."),
    "Approved by an organiser, but changed nothing: The reply is for an older invitation "
    "(SEQUENCE 0, the current one is 2).":
        ("reply_confirmed_ignored", "Approved by an organiser, but changed nothing: The reply "
                                    "is for an older invitation (SEQUENCE 0, the current one "
                                    "is 2)."),
    "Avsenderen (ukjent) er ikke deltakeren i svaret (kari@example.no): et svar kan bare gjelde "
    "avsenderens egen påmelding.":
        ("reply_not_sender", "The sender (unknown) is not the attendee in the reply "
                             "(kari@example.no): a reply can only apply to the sender’s own "
                             "registration."),
}


def test_0010_turns_the_texts_written_so_far_into_codes_and_back(app, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        registration = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
        registration_id = registration.id
        lifecycle.move(gathering, starts_at=gathering.starts_at + timedelta(days=1),
                       ends_at=gathering.ends_at + timedelta(days=1), venue_name="Grieghallen",
                       venue_address="", message="", now=NOW, by=None)
        with force_locale("nb"):
            moved = shown(db.session.scalar(sa.select(AuditEntry)), "summary")
        assert moved.startswith("Tid: torsdag 12. februar 2026 kl. 10.00–12.00 → fredag 13. ")
        db.session.commit()
        db.session.close()
        downgrade(revision="0009_form_mail_consent")
        with db.engine.connect() as connection:  # the coded rows written back in Bokmål
            assert connection.scalar(sa.text(
                "SELECT summary FROM audit_entries WHERE action = 'move'")) == moved
        with db.engine.begin() as connection:  # rows as the code before 0010 wrote them
            for (action, summary) in LEGACY_AUDIT:
                connection.execute(sa.text(
                    "INSERT INTO audit_entries (at, actor, action, summary) "
                    "VALUES (:at, 'system', :action, :summary)"),
                    {"at": NOW, "action": action, "summary": summary})
            for note in LEGACY_NOTES:
                connection.execute(sa.text(
                    "INSERT INTO registration_events (registration_id, at, kind, note) "
                    "VALUES (:id, :at, 'cancelled', :note)"),
                    {"id": registration_id, "at": NOW, "note": note})
            for n, reason in enumerate(LEGACY_REASONS):
                connection.execute(sa.text(
                    "INSERT INTO calendar_replies (fingerprint, message_id, received_at, sender, "
                    "attendee, uid, partstat, outcome, reason) VALUES (:fingerprint, '', :at, '', "
                    "'', '', 'ACCEPTED', 'ignored', :reason)"),
                    {"fingerprint": f"{n:064d}", "at": NOW, "reason": reason})
        upgrade()
        db.session.expire_all()

        for (action, legacy), (code, english) in LEGACY_AUDIT.items():
            entry = _find(db.session.scalars(sa.select(AuditEntry)), "summary", action, legacy)
            assert entry.summary_code == code, legacy
            assert entry.summary == ("" if code else legacy)
            with force_locale("en"):
                assert shown(entry, "summary") == english
        events = list(db.session.scalars(sa.select(RegistrationEvent).where(
            RegistrationEvent.kind == "cancelled")))
        for legacy, (code, english) in LEGACY_NOTES.items():
            event = _find(events, "note", None, legacy)
            assert event.note_code == code
            with force_locale("en"):
                assert shown(event, "note") == english
        for legacy, (code, english) in LEGACY_REASONS.items():
            reply = _find(db.session.scalars(sa.select(CalendarReply)), "reason", None, legacy)
            assert reply.reason_code == code and reply.outcome == ReplyOutcome.IGNORED
            with force_locale("en"):
                assert shown(reply, "reason") == english

        # Down again: every coded text is written back in Bokmål words.
        db.session.close()
        downgrade(revision="0009_form_mail_consent")
        with db.engine.connect() as connection:
            summaries = set(connection.scalars(sa.text("SELECT summary FROM audit_entries")))
            notes = set(connection.scalars(sa.text("SELECT note FROM registration_events")))
        assert {legacy for _action, legacy in LEGACY_AUDIT} <= summaries
        assert set(LEGACY_NOTES) <= notes
        upgrade()


def _find(rows, field, action, legacy):
    """The row whose text reads `legacy` in one of the three languages."""
    for row in rows:
        if action is not None and row.action != action:
            continue
        for language in ("nb", "nn", "en"):
            with force_locale(language):
                if shown(row, field) == legacy:
                    return row
    raise AssertionError(f"no row for {legacy!r}")
