"""The schema is made only by migrations: up, down, up again, and no drift from the models."""

from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from klynge_rsvp.extensions import db

TABLES = {"gatherings", "organisations", "registrations", "outbox_messages", "organisers",
          "audit_entries", "registration_events", "gathering_links", "subscribers", "announcements",
          "calendar_replies", "organiser_recovery_codes", "login_throttles",
          "form_mail_suppressions", "organiser_sign_ins", "organisation_aliases",
          "programme_items", "certificates", "feedback_invitations", "feedback_answers",
          "registry_lookups", "api_tokens",
          "webhook_endpoints", "webhook_deliveries", "seat_rules", "seat_holds",
          "questions", "question_choices", "answers", "answer_choices", "mail_templates",
          "figure_snapshots"}


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
    """0010: the audit summaries, history notes and reply reasons written in words before become
    codes with parameters (shown in English here); a phrasing not known stays as it was; the
    downgrade writes them back in Bokmål."""
    from datetime import timedelta

    from flask_babel import force_locale

    from klynge_rsvp import lifecycle, rsvp
    from klynge_rsvp.models import AuditEntry, CalendarReply, RegistrationEvent, ReplyOutcome
    from klynge_rsvp.stored_text import shown
    from tests.conftest import NOW, registration_request

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
    from flask_babel import force_locale

    from klynge_rsvp.stored_text import shown

    for row in rows:
        if action is not None and row.action != action:
            continue
        for language in ("nb", "nn", "en"):
            with force_locale(language):
                if shown(row, field) == legacy:
                    return row
    raise AssertionError(f"no row for {legacy!r}")


def test_0011_adds_and_removes_the_sign_in_links(app):
    """0011: the table linking organisers to their provider's subject comes and goes, and the
    accounts already there are kept."""
    from klynge_rsvp import organisers
    from tests.conftest import NOW

    with app.app_context():
        organisers.create("kari@kommune.no", "Et langt og godt passord 42", now=NOW)
        db.session.commit()
        downgrade(revision="0010_stored_text_codes")
        assert "organiser_sign_ins" not in table_names()
        upgrade()
        assert "organiser_sign_ins" in table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("organiser_sign_ins")}
        assert {"provider", "subject", "last_acr", "last_amr"} <= columns
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT email FROM organisers")).scalar() == \
                "kari@kommune.no"


def test_0015_rekeys_organisations_and_merges_those_that_now_collide(app, make_gathering):
    """0015: the rows keyed the narrow way before are keyed however typed; "Universitetet i
    bergen." and "Universitetet i Bergen (UiB)" become the oldest of them, registrations and a
    missing organisasjonsnummer with them. Down and up again keeps it so."""
    from klynge_rsvp import rsvp
    from klynge_rsvp.models import Organisation, Registration
    from klynge_rsvp.organisations import name_key
    from tests.conftest import NOW, registration_request

    names = ["Universitetet i Bergen", "Universitetet i bergen.", "Universitetet i Bergen (UiB)",
             "Bergen næringsråd", "bergen naeringsrad", "Bergen Røde Kors"]
    with app.app_context():
        gathering = make_gathering()
        for n in range(1, len(names) + 1):
            rsvp.register(gathering, registration_request(n), now=NOW)
        db.session.commit()
        with db.engine.begin() as connection:  # as the code before 0015 found and keyed them
            for n, name in enumerate(names, 1):
                connection.execute(sa.text(
                    "INSERT INTO organisations (id, name, name_key, sector, org_number, created_at)"
                    " VALUES (:id, :name, :key, 'offentlig', :number, :at)"),
                    {"id": 100 + n, "name": name, "key": name.casefold(), "at": NOW,
                     "number": "974760673" if n == 3 else None})
                connection.execute(sa.text(
                    "UPDATE registrations SET organisation_id = :id WHERE email = :email"),
                    {"id": 100 + n, "email": f"deltaker{n}@example.no"})
            connection.execute(sa.text("DELETE FROM organisations WHERE id < 100"))
        downgrade(revision="0011_organiser_sign_in")
        assert "organisation_aliases" not in table_names()
        upgrade()
        db.session.expire_all()
        organisations = db.session.scalars(sa.select(Organisation).order_by(Organisation.id)).all()
        assert [(o.id, o.name, o.name_key, o.org_number) for o in organisations] == [
            (101, "Universitetet i Bergen", "universitetet i bergen", "974760673"),
            (104, "Bergen næringsråd", "bergen naeringsrad", None),
            (106, "Bergen Røde Kors", "bergen rode kors", None),
        ]
        assert all(o.name_key == name_key(o.name) for o in organisations)
        moved = dict(db.session.execute(
            sa.select(Registration.email, Registration.organisation_id)).all())
        assert moved == {"deltaker1@example.no": 101, "deltaker2@example.no": 101,
                         "deltaker3@example.no": 101, "deltaker4@example.no": 104,
                         "deltaker5@example.no": 104, "deltaker6@example.no": 106}
        db.session.rollback()
        downgrade(revision="0011_organiser_sign_in")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT name_key FROM organisations ORDER BY id")).scalars().all() == [
                "universitetet i bergen", "bergen næringsråd", "bergen røde kors"]
        upgrade()


def test_0018_adds_and_removes_the_certificate_codes(app, make_gathering):
    """0018: the table of certificate codes comes and goes, and the registrations stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        downgrade(revision="0016_programme")
        assert "certificates" not in table_names()
        upgrade()
        assert "certificates" in table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("certificates")}
        assert columns == {"id", "registration_id", "code", "issued_at"}
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM registrations")).scalar() == 1


def test_0020_adds_and_removes_the_feedback_tables(app, make_gathering):
    """0020: the survey's invitations and anonymous answers come and go; registrations stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        downgrade(revision="0018_certificates")
        assert not {"feedback_invitations", "feedback_answers"} & table_names()
        upgrade()
        assert {"feedback_invitations", "feedback_answers"} <= table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("feedback_answers")}
        assert "registration_id" not in columns
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM registrations")).scalar() == 1


def test_0023_adds_and_removes_the_registry_lookups_table(app, make_gathering):
    """0023: the Enhetsregisteret cache comes and goes; organisations and registrations stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO registry_lookups (org_number, state, name, sector, fetched_at) "
                "VALUES ('974760673', 'found', 'REGISTERENHETEN I BRØNNØYSUND', 'offentlig', "
                ":at)"), {"at": NOW})
        downgrade(revision="0022_webhooks")
        assert "registry_lookups" not in table_names()
        with db.engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM registrations")) == 1
        upgrade()
        assert "registry_lookups" in table_names()
        with db.engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM registry_lookups")) == 0


def test_0021_adds_and_removes_the_api_tokens_table(app, make_organiser):
    """0021: organisers' API keys come and go; the accounts stay."""
    with app.app_context():
        make_organiser()
        downgrade(revision="0020_feedback")
        assert "api_tokens" not in table_names()
        upgrade()
        assert "api_tokens" in table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("api_tokens")}
        assert "secret_hash" in columns and "secret" not in columns
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM organisers")).scalar() == 1


def test_0022_adds_and_removes_the_webhook_tables(app, make_gathering):
    """0022: webhook endpoints and their deliveries come and go; registrations stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        downgrade(revision="0021_api_tokens")
        assert not {"webhook_endpoints", "webhook_deliveries"} & table_names()
        upgrade()
        assert {"webhook_endpoints", "webhook_deliveries"} <= table_names()
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("webhook_deliveries")}
        assert "ix_webhook_deliveries_due" in indexes
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM registrations")).scalar() == 1


def test_0026_adds_and_removes_the_seat_rule_tables(app, make_gathering):
    """0026: the cap per organisation and the sector holds come and go; registrations stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    with app.app_context():
        gathering = make_gathering(capacity=10)
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        downgrade(revision="0025_questions")
        assert not {"seat_rules", "seat_holds"} & table_names()
        upgrade()
        assert {"seat_rules", "seat_holds"} <= table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("seat_holds")}
        assert columns == {"id", "gathering_id", "sector", "seats", "held_until"}
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM registrations")).scalar() == 1


def test_0025_adds_and_removes_the_question_tables(app, make_gathering):
    """0025: organisers' questions, their choices and the answers come and go; registrations
    stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    tables = {"questions", "question_choices", "answers", "answer_choices"}
    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        downgrade(revision="0024_participation_modes")
        assert not tables & table_names()
        upgrade()
        assert tables <= table_names()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("answer_choices")}
        assert columns == {"answer_id", "choice_id"}
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM registrations")).scalar() == 1


def test_0024_adds_and_removes_the_participation_modes(app, make_gathering):
    """0024: gatherings and registrations get a mode (existing rows: in person), a hybrid
    gathering's online seats and its meeting link; downgrade takes them away, rows stay."""
    from klynge_rsvp import rsvp
    from tests.conftest import NOW, registration_request

    def columns(table):
        return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}

    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        db.session.close()
        downgrade(revision="0023_registry_lookups")
        assert not {"mode", "online_capacity", "meeting_url", "meeting_details"} & columns("gatherings")
        assert "mode" not in columns("registrations")
        upgrade()
        assert {"mode", "online_capacity", "meeting_url", "meeting_details"} <= columns("gatherings")
        with db.engine.begin() as connection:
            assert connection.execute(sa.text("SELECT mode, meeting_url FROM gatherings")).all() \
                == [("in_person", "")]
            assert connection.execute(sa.text("SELECT mode FROM registrations")).all() \
                == [("in_person",)]
            with pytest.raises(sa.exc.IntegrityError):
                connection.execute(sa.text("UPDATE registrations SET mode = 'hybrid'"))


def test_0027_stores_each_name_s_sort_key_and_takes_it_away(app, make_gathering):
    """0027: existing registrations get their name's Norwegian sort key (æ ø å after z, accents
    and case folded), and the database sorts by it as Python does; downgrade drops it."""
    from klynge_rsvp import rsvp
    from klynge_rsvp.names import sort_key
    from tests.conftest import NOW, person, registration_request

    names = ["Åse Ås", "Øyvind", "zara", "Ærlig", "Émile", "Anne", "Aase", "ßigrid"]
    with app.app_context():
        gathering = make_gathering(capacity=20)
        for n, name in enumerate(names, start=1):
            rsvp.register(gathering, registration_request(n, person=person(n, name=name)), now=NOW)
        db.session.commit()
        db.session.close()
        downgrade(revision="0026_seat_rules")
        assert "sort_name" not in {c["name"] for c in sa.inspect(db.engine).get_columns("registrations")}
        upgrade()
        with db.engine.begin() as connection:
            stored = connection.execute(sa.text(
                "SELECT name, sort_name FROM registrations ORDER BY sort_name, id")).all()
        assert [key for _name, key in stored] == [sort_key(name) for name, _key in stored]
        assert [name for name, _key in stored] == sorted(names, key=sort_key)
        assert [name for name, _key in stored][-3:] == ["Ærlig", "Øyvind", "Åse Ås"]


def test_0028_keeps_notices_to_fill_in_and_will_not_drop_them(app, make_gathering):
    """0028: a fan-out's notices wait as rows pointing to a template; the downgrade refuses
    while one is still to be filled in (it would be mail lost), and goes once they are sent."""
    from klynge_rsvp import lifecycle
    from klynge_rsvp.mail import delivery
    from tests.conftest import NOW
    from tests.lifecycle_helpers import register

    with app.app_context():
        gathering = make_gathering(capacity=20)
        register(gathering, 1, 2, 3, 4)
        lifecycle.postpone(gathering, message="", now=NOW, by=None)
        db.session.commit()
        db.session.close()
        with pytest.raises(SystemExit):  # flask-migrate logs the RuntimeError and exits
            downgrade(revision="0027_registration_sort_names")
        db.session.close()
        assert "mail_templates" in table_names()
        while delivery.deliver_due().claimed:  # the browser mailbox: fills in, keeps each notice
            db.session.commit()
        db.session.close()
        downgrade(revision="0027_registration_sort_names")
        assert "mail_templates" not in table_names()
        assert "template_id" not in {c["name"] for c in
                                      sa.inspect(db.engine).get_columns("outbox_messages")}
        with db.engine.begin() as connection:
            notices = connection.execute(sa.text(
                "SELECT message FROM outbox_messages WHERE kind = 'gathering_postponed'")).all()
        subjects = [message_from_bytes(row.message, policy=policy.default)["Subject"] for row in notices]
        assert len(subjects) == 4 and all(subject.startswith("Utsatt: ") for subject in subjects)
        upgrade()
