"""Announcements: the right recipients only, once however often the button is pressed, the
preview as it will arrive, the progress while the outbox is delivered, and the offer after
publishing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import render_template

from klynge_rsvp import announcements, mailing_list, organisers, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import (
    Announcement,
    Audience,
    AuditEntry,
    GatheringStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
)
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, registration_request
from tests.overview_helpers import deliver, links, part, to_address, token
from tests.pages import text

ORGANISER = "arrangor@bergen.kommune.no"


def register(gathering, *numbers) -> list[Registration]:
    found = []
    for n in numbers:
        [outcome] = rsvp.register(gathering, registration_request(n), now=NOW)
        found.append(outcome.registration)
    db.session.commit()
    return found


def subscribe(email, *, confirm=True):
    subscriber = mailing_list.sign_up(email, now=NOW)
    if confirm:
        mailing_list.confirm(subscriber, now=NOW)
    db.session.commit()
    return subscriber


def announcement_rows(announcement_id) -> list[OutboxMessage]:
    return list(db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.announcement_id == announcement_id)
        .order_by(OutboxMessage.recipient)))


@pytest.fixture
def full_gathering(author, ctx, make_gathering):
    """A gathering with two seats: persons 1 and 2 have them, 3 and 4 wait; 5 cancelled."""
    gathering = make_gathering(capacity=2)
    registrations = register(gathering, 1, 2, 3, 4, 5)
    rsvp.cancel(registrations[4], now=NOW)
    # 5 had no seat, so nobody was promoted: 1 and 2 confirmed, 3 and 4 waiting.
    db.session.commit()
    assert [r.status for r in registrations[:4]] == [RegistrationStatus.CONFIRMED] * 2 + \
        [RegistrationStatus.WAITING] * 2
    return gathering


@pytest.fixture
def author_email(app, make_organiser):
    """Made in its own transaction, before the test's own (SQLite has one writer at a time)."""
    return make_organiser(ORGANISER)


@pytest.fixture
def author(author_email, ctx):
    return organisers.find_by_email(author_email)


# --- the service -------------------------------------------------------------------------------


@pytest.mark.parametrize(("audience", "expected"), [
    (Audience.CONFIRMED, ["deltaker1@example.no", "deltaker2@example.no"]),
    (Audience.WAITING, ["deltaker3@example.no", "deltaker4@example.no"]),
    (Audience.MAILING_LIST, ["abonnent@example.no", "deltaker1@example.no"]),
])
def test_each_audience_gets_it_and_nobody_else(full_gathering, author, audience, expected):
    subscribe("abonnent@example.no")
    subscribe("deltaker1@example.no")
    subscribe("venter-pa-bekreftelse@example.no", confirm=False)
    mailing_list.unsubscribe(subscribe("meldt-av@example.no"), now=NOW)
    db.session.commit()
    announcement = announcements.create(gathering=full_gathering, audience=audience,
                                        subject="Viktig", body="Husk ID.", by=author, now=NOW)
    assert announcements.recipient_count(full_gathering, audience) == len(expected)

    assert announcements.send(announcement, by=author, now=NOW) == len(expected)
    db.session.commit()

    rows = announcement_rows(announcement.id)
    assert [r.recipient for r in rows] == expected
    assert {r.idempotency_key for r in rows} == \
        {f"announcement:{announcement.id}:{email}" for email in expected}
    assert announcement.queued_at == NOW and announcement.recipient_count == len(expected)
    if audience == Audience.MAILING_LIST:
        assert {r.kind for r in rows} == {"announcement_list"}
        assert all(r.registration_id is None for r in rows)
    else:
        assert {r.kind for r in rows} == {"announcement"}
        assert all(r.registration.email == r.recipient for r in rows)


def test_anonymised_registrants_are_not_written_to(full_gathering, author):
    from klynge_rsvp import privacy

    first = db.session.scalar(sa.select(Registration).where(
        Registration.email_key == "deltaker1@example.no"))
    privacy.anonymise(first, now=NOW)  # as the retention purge does: the status stays
    db.session.commit()
    assert [r.email for r in announcements.recipients(full_gathering, Audience.CONFIRMED)] == \
        ["deltaker2@example.no"]


def test_sending_twice_sends_once(full_gathering, author):
    announcement = announcements.create(gathering=full_gathering, audience=Audience.CONFIRMED,
                                        subject="Viktig", body="Husk ID.", by=author, now=NOW)
    assert announcements.send(announcement, by=author, now=NOW) == 2
    assert announcements.send(announcement, by=author, now=NOW + timedelta(seconds=1)) == 0
    db.session.commit()
    assert len(announcement_rows(announcement.id)) == 2
    [entry] = db.session.scalars(sa.select(AuditEntry)).all()
    assert entry.action == "send" and entry.gathering_id == full_gathering.id
    assert entry.actor == ORGANISER and "2 mottakere" in shown(entry, "summary")


def test_an_announcement_with_nobody_to_send_to_is_refused(ctx, make_gathering, author):
    gathering = make_gathering()
    announcement = announcements.create(gathering=gathering, audience=Audience.WAITING,
                                        subject="Hei", body="Tekst", by=author, now=NOW)
    with pytest.raises(DomainError, match="ingen mottakere"):
        announcements.send(announcement, by=author, now=NOW)


def test_the_mailing_list_hears_only_of_published_gatherings(ctx, make_gathering, author):
    draft = make_gathering(status=GatheringStatus.DRAFT)
    with pytest.raises(DomainError, match="ikke publisert"):
        announcements.create(gathering=draft, audience=Audience.MAILING_LIST, subject="Hei",
                             body="Tekst", by=author, now=NOW)


def test_a_sent_announcement_cannot_be_changed(full_gathering, author):
    announcement = announcements.create(gathering=full_gathering, audience=Audience.CONFIRMED,
                                        subject="Hei", body="Tekst", by=author, now=NOW)
    announcements.send(announcement, by=author, now=NOW)
    with pytest.raises(DomainError, match="kan ikke endres"):
        announcements.update(announcement, gathering=full_gathering,
                             audience=Audience.WAITING, subject="Nytt", body="Ny")


def test_suggested_text_for_the_mailing_list(ctx, make_gathering):
    gathering = make_gathering(title="Frokost om flom", theme="Når elva går over",
                               description="Første avsnitt.\n\nAndre avsnitt.")
    subject, body = announcements.suggested_text(gathering)
    assert subject == "Frokostmøte: Frokost om flom"
    assert "Når elva går over" in body and "Første avsnitt." in body
    assert "Andre avsnitt." not in body


# --- what arrives ------------------------------------------------------------------------------


@pytest.fixture
def smtp_setup(smtp_config, make_organiser, app, smtp_server):
    make_organiser(ORGANISER)
    with app.app_context():
        yield smtp_server
        db.session.rollback()


def test_registrants_get_their_manage_link_and_no_unsubscribe(smtp_setup, make_gathering):
    gathering = make_gathering(title="Frokostmøte om flom")
    [registration] = register(gathering, 1)
    deliver(smtp_setup)  # the confirmation
    author = organisers.find_by_email(ORGANISER)
    announcement = announcements.create(
        gathering=gathering, audience=Audience.CONFIRMED, subject="Endret inngang",
        body="Bruk inngangen fra Vaskerelvsmauet.\n\nVelkommen <3 & takk!", by=author, now=NOW)
    announcements.send(announcement, by=author, now=NOW)
    db.session.commit()

    [mail] = deliver(smtp_setup)
    assert to_address(mail) == "deltaker1@example.no"
    assert mail["Subject"] == "Endret inngang"
    assert "List-Unsubscribe" not in mail and "List-Unsubscribe-Post" not in mail
    manage_url = f"https://rsvp.test/pamelding/{registration.token}"
    plain, html = part(mail, "plain"), part(mail, "html")
    assert "Hei Deltaker 1," in plain
    assert "Velkommen <3 & takk!" in plain
    assert "Velkommen &lt;3 &amp; takk!" in html  # escaped in HTML
    assert "Frokostmøte om flom" in plain and "Frokostmøte om flom" in html
    assert any(link.startswith(manage_url) for link in links(plain))
    assert any(link.startswith(manage_url) for link in links(html))
    assert "avmelding" not in " ".join(links(plain) + links(html)).replace(
        registration.token, "")


def test_mailing_list_copies_carry_the_unsubscribe_headers(smtp_setup, make_gathering):
    gathering = make_gathering()
    subscriber = subscribe("abonnent@example.no")
    deliver(smtp_setup)  # the confirmation
    author = organisers.find_by_email(ORGANISER)
    announcement = announcements.create(gathering=gathering, audience=Audience.MAILING_LIST,
                                        subject="Ny samling", body="Velkommen!", by=author,
                                        now=NOW)
    announcements.send(announcement, by=author, now=NOW)
    db.session.commit()
    [mail] = deliver(smtp_setup)
    unsubscribe_url = f"https://rsvp.test/nyhetsbrev/avmelding/{subscriber.unsubscribe_token}"
    assert mail["List-Unsubscribe"] == \
        f"<{unsubscribe_url}>, <mailto:klynge@rsvp.test?subject=unsubscribe>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url in links(part(mail, "plain"))
    assert unsubscribe_url in links(part(mail, "html"))
    assert f"https://rsvp.test/samlinger/{gathering.slug}" in links(part(mail, "plain"))
    assert "/pamelding/" not in part(mail, "plain")  # no manage link: they are not registered


# --- through the pages -------------------------------------------------------------------------


def new_announcement(client, **fields):
    page = client.get("/arrangor/kunngjoringer/ny")
    assert page.status_code == 200
    return client.post("/arrangor/kunngjoringer/ny", data={"csrf_token": token(page.text),
                                                           **fields})


def test_write_preview_send_and_watch_progress(app, organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering(capacity=2, now=utcnow(), starts_at=utcnow() + timedelta(days=9))
        for n in (1, 2, 3):
            rsvp.register(gathering, registration_request(n), now=utcnow())
        db.session.commit()
        gathering_id = gathering.id

    response = new_announcement(organiser_client, gathering=gathering_id, audience="confirmed",
                                subject="Praktisk informasjon", body="Møt opp i god tid.")
    assert response.status_code == 303, response.text
    page_url = response.headers["Location"]
    announcement_id = int(re.search(r"/kunngjoringer/(\d+)$", page_url).group(1))

    page = organiser_client.get(page_url)
    words = text(page.text)
    assert "Send til 2 personer" in words
    assert "Hei Deltaker 1," in page.text and "Møt opp i god tid." in page.text
    assert "announcement-progress.js" not in page.text  # nothing to watch yet
    with app.app_context():
        assert announcement_rows(announcement_id) == []  # a preview sends nothing

    frame = organiser_client.get(f"/arrangor/kunngjoringer/{announcement_id}/forhandsvisning")
    assert frame.status_code == 200 and "Møt opp i god tid." in frame.text
    assert "sandbox" in frame.headers["Content-Security-Policy"]

    send_url = f"/arrangor/kunngjoringer/{announcement_id}/send"
    csrf = token(page.text)
    first = organiser_client.post(send_url, data={"csrf_token": csrf})
    second = organiser_client.post(send_url, data={"csrf_token": csrf})  # a double click
    assert first.status_code == second.status_code == 303
    with app.app_context():
        rows = announcement_rows(announcement_id)
        assert [r.recipient for r in rows] == ["deltaker1@example.no", "deltaker2@example.no"]

    progress_url = f"/arrangor/kunngjoringer/{announcement_id}/framdrift.json"
    assert organiser_client.get(progress_url).json == \
        {"total": 2, "pending": 2, "sent": 0, "failed": 0, "done": False}
    page = organiser_client.get(page_url)
    assert "announcement-progress.js" in page.text
    assert f'data-progress-url="{progress_url}"' in page.text
    assert "Oppdater" in page.text  # without JavaScript: a link that reloads
    assert "Send til" not in text(page.text)

    with app.app_context():
        # No SMTP server configured: the browser mailbox. Each person's confirmation goes in a
        # pass before their announcement (a person's mail keeps its order).
        while delivery.deliver_due().claimed:
            pass
    assert organiser_client.get(progress_url).json == \
        {"total": 2, "pending": 0, "sent": 2, "failed": 0, "done": True}
    done = organiser_client.get(page_url).text
    assert "Ferdig" in done and "announcement-progress.js" not in done

    listing = text(organiser_client.get("/arrangor/kunngjoringer").text)
    assert "Praktisk informasjon" in listing and "2 av 2 levert" in listing


def test_the_form_refuses_a_subject_with_a_line_break_and_keeps_the_text(app, organiser_client,
                                                                        make_gathering):
    with app.app_context():
        gathering_id = make_gathering().id
        db.session.commit()
    response = new_announcement(organiser_client, gathering=gathering_id, audience="confirmed",
                                subject="To\nlinjer", body="Teksten min")
    assert response.status_code == 422
    assert "linjeskift" in response.text and "Teksten min" in response.text


def test_the_form_needs_an_audience(app, organiser_client, make_gathering):
    with app.app_context():
        gathering_id = make_gathering().id
        db.session.commit()
    response = new_announcement(organiser_client, gathering=gathering_id, subject="Hei",
                                body="Tekst")
    assert response.status_code == 422
    assert "Velg hvem kunngjøringen skal til." in response.text


def test_sending_to_nobody_says_so(app, organiser_client, make_gathering):
    with app.app_context():
        gathering_id = make_gathering().id
        db.session.commit()
    response = new_announcement(organiser_client, gathering=gathering_id, audience="waiting",
                                subject="Hei", body="Tekst")
    page = organiser_client.get(response.headers["Location"])
    assert "Ingen mottakere ennå" in page.text
    assert "oppdiktet mottaker" in page.text  # the preview still shows how it will look
    sent = organiser_client.post(response.headers["Location"] + "/send",
                                 data={"csrf_token": token(page.text)}, follow_redirects=True)
    assert "ingen mottakere" in sent.text
    with app.app_context():
        assert db.session.scalar(sa.select(Announcement.queued_at)) is None


def test_a_draft_can_be_edited_until_it_is_sent(app, organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(1), now=NOW)
        db.session.commit()
        gathering_id = gathering.id
    location = new_announcement(organiser_client, gathering=gathering_id, audience="confirmed",
                                subject="Førsteutkast", body="Tekst").headers["Location"]
    edit = organiser_client.get(location + "/endre")
    assert "Førsteutkast" in edit.text
    response = organiser_client.post(location + "/endre", data={
        "csrf_token": token(edit.text), "gathering": gathering_id, "audience": "confirmed",
        "subject": "Endelig emne", "body": "Ny tekst"})
    assert response.status_code == 303
    page = organiser_client.get(location)
    assert "Endelig emne" in page.text
    organiser_client.post(location + "/send", data={"csrf_token": token(page.text)})
    refused = organiser_client.get(location + "/endre", follow_redirects=True)
    assert "kan ikke endres" in refused.text


def test_publishing_offers_to_tell_the_mailing_list(app, organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering(title="Hjernedugnad om kraftbrudd", format="Hjernedugnad")
        db.session.commit()
        with app.test_request_context():
            offer = render_template("admin/announcements/_offer.html", gathering=gathering)
        gathering_id = gathering.id
    [link] = re.findall(r'href="([^"]+)"', offer)
    assert link == f"/arrangor/kunngjoringer/ny?samling={gathering_id}&amp;mottakere=mailing_list"
    form = organiser_client.get(link.replace("&amp;", "&"))
    assert form.status_code == 200
    assert 'value="Hjernedugnad: Hjernedugnad om kraftbrudd"' in form.text
    assert re.search(rf'<option selected value="{gathering_id}"|<option value="{gathering_id}" '
                     r'selected', form.text)
    assert re.search(r'checked[^>]*value="mailing_list"|value="mailing_list"[^>]*checked',
                     form.text)


def test_failed_copies_show_in_the_progress(ctx, full_gathering, author):
    announcement = announcements.create(gathering=full_gathering, audience=Audience.CONFIRMED,
                                        subject="Hei", body="Tekst", by=author, now=NOW)
    announcements.send(announcement, by=author, now=NOW)
    rows = announcement_rows(announcement.id)
    rows[0].status = OutboxStatus.FAILED
    rows[1].status = OutboxStatus.SENT
    db.session.commit()
    assert announcements.progress(announcement).as_dict() == \
        {"total": 2, "pending": 0, "sent": 1, "failed": 1, "done": True}
