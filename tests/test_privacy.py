"""Retention: personal data of old gatherings is anonymised, the statistics survive, and every
place a person is stored is purged in its time; needs answers go first; a person's export."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import (
    announcements,
    history,
    lifecycle,
    mailing_list,
    organisers,
    privacy,
    replies,
    rsvp,
    worker,
)
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery, outbox
from klynge_rsvp.models import (
    Audience,
    AuditEntry,
    CalendarReply,
    Gathering,
    Organisation,
    Organiser,
    OutboxMessage,
    OutboxStatus,
    Registration,
    Subscriber,
)
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, ORGANISER_PASSWORD, registration_request
from tests.imap_helpers import gmail_reply, outlook_reply
from tests.pages import text
from tests.privacy_helpers import Person as Traced
from tests.privacy_helpers import scan


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


# --- what the purge covers ---------------------------------------------------------------------


def _audit(summary_start: str) -> list[str]:
    summaries = [shown(entry, "summary") for entry in
                 db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
    return [s for s in summaries if s.startswith(summary_start)]


def seed_every_category(make_gathering, organiser: Organiser) -> dict:
    """Personal data in every place the purge covers, some past its time, some not (real time:
    the daily job and the command both purge as of now)."""
    now = utcnow()
    then = now - timedelta(days=400)  # past the 365-day retention
    old = make_gathering(now=then - timedelta(days=30), starts_at=then)
    recent = make_gathering(now=now - timedelta(days=30), starts_at=now + timedelta(days=10))
    on_behalf = rsvp.register_on_behalf(old, registration_request(1), now=then - timedelta(days=5),
                                        by=organiser)  # audited: "Meldte på Deltaker 1 (…)"
    rsvp.register(old, registration_request(2), now=then - timedelta(days=5))
    rsvp.register_on_behalf(recent, registration_request(3), now=now, by=organiser)
    # A calendar reply from a registrant of the old gathering (held: kept whole), one about no
    # registration long ago, and one of yesterday.
    replies.receive(replies.read_message(
        gmail_reply(uid=old.ical_uid, address="deltaker2@example.no", name="Deltaker 2")),
        now=then - timedelta(days=1))
    replies.receive(replies.read_message(
        outlook_reply(uid="ukjent@example.no", address="fremmed@example.no")), now=then)
    replies.receive(replies.read_message(
        outlook_reply(uid="ukjent@example.no", address="nylig@example.no")),
        now=now - timedelta(days=1))
    # The mailing list: an announcement to it long ago and one yesterday; sign-ups never
    # confirmed and addresses that left, long enough ago and not.
    reader = mailing_list.sign_up("leser@example.no", now=then - timedelta(days=10))
    mailing_list.confirm(reader, now=then - timedelta(days=10))
    for when in (then, now - timedelta(days=1)):
        announcement = announcements.create(gathering=recent, audience=Audience.MAILING_LIST,
                                            subject="Nytt fra nettverket", body="Velkommen.",
                                            by=organiser, now=when)
        announcements.send(announcement, by=organiser, now=when)
    mailing_list.sign_up("ubekreftet-gammel@example.no", now=now - timedelta(days=31))
    mailing_list.sign_up("ubekreftet-ny@example.no", now=now - timedelta(days=5))
    for address, days in (("borte-gammel@example.no", 31), ("borte-ny@example.no", 5)):
        subscriber = mailing_list.sign_up(address, now=now - timedelta(days=100))
        mailing_list.confirm(subscriber, now=now - timedelta(days=100))
        mailing_list.unsubscribe(subscriber, now=now - timedelta(days=days), by=organiser)
    # Audit entries with no gathering: one about an address long ago, one about an organiser.
    history.audit("resend", by=organiser, now=then, summary="Nyhetsbrev til gammel@example.no")
    history.audit("organiser_create", by=organiser, now=then, summary=organiser.email)
    db.session.commit()
    delivery.deliver_due()  # everything queued goes to the browser mailbox: sent
    return {"old": old.id, "recent": recent.id, "on_behalf": on_behalf.id}


def assert_every_category_purged(seeded: dict) -> None:
    people = {r.email_key: r for r in db.session.scalars(sa.select(Registration))}
    assert "deltaker1@example.no" not in people and "deltaker2@example.no" not in people
    assert people["deltaker3@example.no"].anonymised_at is None
    # The audit log: entries kept, names and addresses gone where their time is up.
    assert _audit("Meldte på") == [f"Meldte på [slettet person #{seeded['on_behalf']}].",
                                   "Meldte på Deltaker 3 (deltaker3@example.no)."]
    assert _audit("Meldte ") [-2:] == ["Meldte [slettet abonnent] av e-postlisten",
                                      "Meldte borte-ny@example.no av e-postlisten"]
    assert _audit("Nyhetsbrev til") == ["Nyhetsbrev til [slettet adresse]"]
    assert _audit("arrangor@") == ["arrangor@bergen.kommune.no"]  # organisers are not purged
    # Mail: none about the old gathering's registrations, none to the list long ago, none to
    # forgotten addresses.
    recipients = db.session.scalars(sa.select(OutboxMessage.recipient)).all()
    assert sorted(recipients) == sorted([
        "deltaker3@example.no",  # confirmation (recent gathering)
        "leser@example.no",  # yesterday's newsletter
        "ubekreftet-ny@example.no", "borte-ny@example.no",  # confirmation mails, still kept
    ])
    # Calendar replies: the old registrant's and the old stray one gone, yesterday's kept.
    assert db.session.scalars(sa.select(CalendarReply.sender)).all() == ["nylig@example.no"]
    subscribers = sorted(db.session.scalars(sa.select(Subscriber.email)))
    assert subscribers == ["borte-ny@example.no", "leser@example.no", "ubekreftet-ny@example.no"]
    # Nothing of the old gathering's participants is left anywhere.
    for n in (1, 2):
        assert scan(Traced(f"Deltaker {n}", f"deltaker{n}@example.no", name_parts=False)) == []


@pytest.mark.parametrize("how", ["daily job", "command"])
def test_the_purge_covers_every_category_the_same_from_the_job_and_the_command(
        app, make_gathering, make_organiser, how):
    organiser_email = make_organiser()
    with app.app_context():
        seeded = seed_every_category(make_gathering, organisers.find_by_email(organiser_email))
    if how == "daily job":
        job = [job for job in worker.registered_jobs() if job.name == "purge-personal-data"]
        worker.Scheduler(app, job).run_due()
    else:
        result = app.test_cli_runner().invoke(args=["klynge", "purge-personal-data"])
        assert result.exit_code == 0, result.output
        assert "Anonymised 2 registrations" in result.output
        assert "2 mailing-list addresses" in result.output
    with app.app_context():
        assert_every_category_purged(seeded)
        again = privacy.purge_personal_data(now=utcnow())  # idempotent
        assert not again, again


def test_a_message_being_sent_is_never_deleted_under_the_worker(app, ctx, make_gathering):
    gathering = make_gathering(starts_at=NOW + timedelta(days=1))
    rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.commit()
    later = gathering.ends_at + timedelta(days=366)
    claimed = outbox.claim_due(now=later, limit=10)  # a worker holds it while it sends
    db.session.commit()
    assert privacy.purge_personal_data(now=later).messages == 0
    db.session.commit()
    assert db.session.get(OutboxMessage, claimed[0]) is not None
    outbox.mark_sent(db.session.get(OutboxMessage, claimed[0]), transport="smtp", now=later)
    db.session.commit()
    assert privacy.purge_personal_data(now=later + timedelta(minutes=1)).messages == 1


# --- needs answers ----------------------------------------------------------------------------


def _needs(gathering) -> list[str]:
    return [r.needs for r in db.session.scalars(
        sa.select(Registration).where(Registration.gathering_id == gathering.id))]


def test_needs_answers_are_deleted_needs_retention_days_after_the_gathering(app, ctx, make_gathering):
    held = make_gathering(starts_at=NOW + timedelta(days=1))
    postponed = make_gathering(starts_at=NOW + timedelta(days=1))
    for gathering in (held, postponed):
        rsvp.register(gathering, registration_request(1, needs="Glutenfritt, rullestol"), now=NOW)
    lifecycle.postpone(postponed, message="Vi kommer tilbake med ny dato.", now=NOW, by=None)
    db.session.commit()

    privacy.purge_personal_data(now=held.ends_at + timedelta(days=13, hours=23))
    db.session.commit()
    assert _needs(held) == ["Glutenfritt, rullestol"]

    report = privacy.purge_personal_data(now=held.ends_at + timedelta(days=14, minutes=1))
    db.session.commit()
    assert _needs(held) == [""]
    assert _needs(postponed) == ["Glutenfritt, rullestol"]  # it still has to take place
    assert report.needs == 1 and report.registrations == 0
    kept = db.session.scalar(sa.select(Registration).where(Registration.gathering_id == held.id))
    assert kept.name == "Deltaker 1" and kept.anonymised_at is None  # nothing else went


def test_needs_retention_is_configurable(app_config, make_app, make_gathering):
    app_config["NEEDS_RETENTION_DAYS"] = 3
    application = make_app(app_config)
    with application.app_context():
        now = utcnow()
        gathering = make_gathering(now=now - timedelta(days=10), starts_at=now - timedelta(days=5))
        rsvp.register_on_behalf(gathering, registration_request(1, needs="Vegetar"),
                                now=now - timedelta(days=5, hours=1),
                                by=organisers.create("a@bergen.kommune.no", ORGANISER_PASSWORD, now=now))
        db.session.commit()
        gathering_id = gathering.id
    result = application.test_cli_runner().invoke(args=["klynge", "purge-personal-data"])
    assert result.exit_code == 0, result.output
    with application.app_context():
        assert _needs(db.session.get(Gathering, gathering_id)) == [""]


# --- the person's own export -------------------------------------------------------------------


def test_the_export_holds_the_mail_sent_and_the_history(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now, starts_at=now + timedelta(days=10))
        [outcome] = rsvp.register(gathering, registration_request(1, needs="Vegetar"), now=now)
        rsvp.cancel(outcome.registration, now=now)
        rsvp.register(gathering, registration_request(1), now=now + timedelta(seconds=1))
        db.session.commit()
        delivery.deliver_due()  # the confirmation: to the browser mailbox
        token = outcome.registration.token

    response = client.get(f"/pamelding/{token}/mine-data.json")
    assert response.status_code == 200
    data = json.loads(response.data)
    mails = data["e_poster"]
    assert [m["type"] for m in mails] == ["confirmation", "cancellation", "confirmation"]
    assert mails[0]["status"] == "sent" and mails[0]["sendt"] is not None
    assert mails[2]["status"] == "pending" and mails[2]["sendt"] is None  # waits for the first
    assert mails[0]["til"] == "deltaker1@example.no"
    assert mails[0]["emne"] == "Påmeldt: Frokostmøte om beredskap"
    assert "Deltaker 1" in mails[0]["tekst"] and f"/pamelding/{token}" in mails[2]["tekst"]
    assert [e["hendelse"] for e in data["historikk"]] == ["registered", "cancelled", "registered"]
    assert data["historikk"][2]["merknad"] == "påmeldt på nytt etter avmelding"
    assert data["kalendersvar"] == []


@pytest.mark.parametrize(("language", "hint", "statement"), [
    ("nb", "Svaret slettes 9 dager etter samlingen.",
     "Derfor slettes de allerede 9 dager etter samlingen."),
    ("nn", "Svaret blir sletta 9 dagar etter samlinga.",
     "Difor blir dei sletta allereie 9 dagar etter samlinga."),
    ("en", "The answer is deleted 9 days after the gathering.",
     "That is why they are deleted as early as 9 days after the gathering."),
])
def test_the_form_and_the_privacy_statement_say_when_needs_answers_go(
        app_config, make_app, make_gathering, language, hint, statement):
    app_config["NEEDS_RETENTION_DAYS"] = 9
    application = make_app(app_config)
    with application.app_context():
        now = utcnow()
        slug = make_gathering(now=now, starts_at=now + timedelta(days=10)).slug
        db.session.commit()
    client = application.test_client()
    headers = {"Accept-Language": language}
    form = text(client.get(f"/samlinger/{slug}", headers=headers).text)
    assert hint in form  # the hint under the needs field
    assert statement in text(client.get("/personvern", headers=headers).text)
