"""The network's mailing list: double opt-in, one-click unsubscribe, rate limit, organisers' list."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import announcements, mailing_list, organisers
from klynge_rsvp.extensions import db
from klynge_rsvp.mailing_list import SubscriberState
from klynge_rsvp.models import Audience, AuditEntry, OutboxMessage, Subscriber
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW
from tests.overview_helpers import deliver, links, part, path_of, to_address, token
from tests.pages import text


def outbox_rows(kind: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def subscribe(email: str, *, now=NOW) -> Subscriber:
    """Sign up and confirm, through the service."""
    subscriber = mailing_list.sign_up(email, now=now)
    mailing_list.confirm(subscriber, now=now)
    db.session.commit()
    return subscriber


def sign_up_page(client, email: str, name: str = ""):
    page = client.get("/nyhetsbrev")
    assert page.status_code == 200
    return client.post("/nyhetsbrev", data={"csrf_token": token(page.text), "email": email,
                                            "name": name})


# --- the service -------------------------------------------------------------------------------


def test_sign_up_waits_for_confirmation_and_mails_once_an_hour(ctx):
    subscriber = mailing_list.sign_up(" Kari@Example.no ", "Kari", now=NOW)
    db.session.commit()
    assert subscriber.email_key == "kari@example.no"
    assert not subscriber.is_subscribed
    assert mailing_list.counts() == mailing_list.Counts(confirmed=0, pending=1, unsubscribed=0)
    [mail] = outbox_rows()
    assert mail.kind == "mailing_list_confirm" and mail.recipient == "Kari@Example.no"

    # Typed in again (by them, or by someone else) within the hour: no second mail.
    again = mailing_list.sign_up("kari@example.no", now=NOW + timedelta(minutes=30))
    assert again.id == subscriber.id
    assert len(outbox_rows()) == 1
    # An hour later, one more.
    mailing_list.sign_up("kari@example.no", now=NOW + timedelta(hours=1))
    assert len(outbox_rows()) == 2


def test_confirmed_subscriber_is_left_alone(ctx):
    subscriber = subscribe("ola@example.no")
    before = len(outbox_rows())
    assert mailing_list.sign_up("ola@example.no", now=NOW + timedelta(hours=5)) is subscriber
    assert len(outbox_rows()) == before
    assert subscriber.is_subscribed
    assert mailing_list.confirm(subscriber, now=NOW + timedelta(days=1)) is False


def test_unsubscribe_kills_the_old_confirmation_link_and_signing_up_again_needs_a_new_one(ctx):
    subscriber = subscribe("ola@example.no")
    old_confirm = subscriber.confirm_token
    assert mailing_list.unsubscribe(subscriber, now=NOW + timedelta(days=1))
    assert mailing_list.unsubscribe(subscriber, now=NOW + timedelta(days=2)) is False
    assert mailing_list.find_by_confirm_token(old_confirm) is None
    assert mailing_list.counts() == mailing_list.Counts(confirmed=0, pending=0, unsubscribed=1)

    mailing_list.sign_up("ola@example.no", now=NOW + timedelta(days=3))
    assert not subscriber.is_subscribed  # not counted until confirmed again
    assert subscriber.confirm_token != old_confirm
    assert mailing_list.counts() == mailing_list.Counts(confirmed=0, pending=1, unsubscribed=0)


def test_counts_and_listing_by_state(ctx):
    subscribe("a@example.no")
    subscribe("b@example.no")
    mailing_list.sign_up("c@example.no", now=NOW)
    mailing_list.unsubscribe(subscribe("d@example.no"), now=NOW)
    assert mailing_list.counts() == mailing_list.Counts(confirmed=2, pending=1, unsubscribed=1)
    emails = {state: sorted(s.email for s in db.session.scalars(mailing_list.listing(state)))
              for state in SubscriberState}
    assert emails == {SubscriberState.CONFIRMED: ["a@example.no", "b@example.no"],
                      SubscriberState.PENDING: ["c@example.no"],
                      SubscriberState.UNSUBSCRIBED: ["d@example.no"]}


# --- end to end, with a real SMTP server -------------------------------------------------------


@pytest.fixture
def smtp(smtp_config, app, smtp_server):
    with app.app_context():
        yield smtp_server
        db.session.rollback()


def test_double_opt_in_and_one_click_unsubscribe_end_to_end(smtp_config, make_organiser, app,
                                                             smtp_server, make_gathering):
    author_email = make_organiser()  # before this test's own transaction begins
    with app.app_context():
        _end_to_end(app, smtp_server, make_gathering, organisers.find_by_email(author_email))


def _end_to_end(app, smtp, make_gathering, author):
    client = app.test_client()
    response = sign_up_page(client, "kari@example.no", "Kari Nordmann")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/nyhetsbrev/sjekk-innboksen")
    assert "Sjekk innboksen din" in client.get(response.headers["Location"]).text
    assert mailing_list.counts().confirmed == 0

    [confirmation] = deliver(smtp)
    assert to_address(confirmation) == "kari@example.no"
    assert "List-Unsubscribe" not in confirmation
    assert "Kari Nordmann" not in part(confirmation, "plain")  # nothing typed by the signer
    [confirm_url] = [u for u in links(part(confirmation, "plain")) if "/bekreft/" in u]
    assert confirm_url in links(part(confirmation, "html"))

    # Opening the link (a mail scanner does) changes nothing; the button does.
    for _ in range(2):
        page = client.get(path_of(confirm_url))
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert "Ja, send meg nyhetsbrevet" in page.text
    db.session.commit()
    assert mailing_list.counts().confirmed == 0
    done = client.post(path_of(confirm_url), data={"csrf_token": token(page.text)})
    assert done.status_code == 200
    assert "Du står nå på listen" in text(done.text)
    db.session.commit()
    assert mailing_list.counts().confirmed == 1

    # An announcement to the list carries the RFC 8058 headers and the same link in its body.
    gathering = make_gathering()
    announcement = announcements.create(gathering=gathering, audience=Audience.MAILING_LIST,
                                        subject="Ny samling", body="Velkommen!", by=author,
                                        now=NOW)
    announcements.send(announcement, by=author, now=NOW)
    db.session.commit()
    [newsletter] = deliver(smtp)
    assert newsletter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [v.strip() for v in newsletter["List-Unsubscribe"].split(",")]
    assert mailto == "<mailto:klynge@rsvp.test?subject=unsubscribe>"
    unsubscribe_url = https.strip("<>")
    assert "/nyhetsbrev/avmelding/" in unsubscribe_url
    assert unsubscribe_url in links(part(newsletter, "plain"))
    assert unsubscribe_url in links(part(newsletter, "html"))

    # The link opens a one-button page; opening it changes nothing.
    page = client.get(path_of(unsubscribe_url))
    assert page.status_code == 200 and "Meld meg av" in page.text
    db.session.commit()
    assert mailing_list.counts().confirmed == 1

    # The mail program's one-click POST: no session, no CSRF token, just the RFC 8058 body.
    one_click = app.test_client().post(path_of(unsubscribe_url),
                                       data="List-Unsubscribe=One-Click",
                                       content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200
    db.session.commit()
    assert mailing_list.counts() == mailing_list.Counts(confirmed=0, pending=0, unsubscribed=1)
    # The old confirmation link cannot put the address back.
    assert client.get(path_of(confirm_url)).status_code == 404


def test_the_unsubscribe_button_works_without_a_csrf_token(ctx, client):
    subscriber = subscribe("ola@example.no")
    url = f"/nyhetsbrev/avmelding/{subscriber.unsubscribe_token}"
    response = client.post(url)
    assert response.status_code == 200
    assert "Du er meldt av" in text(response.text)
    db.session.refresh(subscriber)
    assert subscriber.unsubscribed_at is not None
    # Again: still a friendly answer.
    assert "Du er meldt av" in text(client.get(url).text)
    assert "Du er meldt av" in text(client.post(url).text)


def test_unknown_links_are_404_with_a_helpful_page(client):
    # (A POST to a confirmation link without a CSRF token is refused before it is looked up.)
    for method, url in [("GET", "/nyhetsbrev/bekreft/feil"), ("GET", "/nyhetsbrev/avmelding/feil"),
                        ("POST", "/nyhetsbrev/avmelding/feil")]:
        response = client.open(url, method=method)
        assert response.status_code == 404, (url, method)
        assert "Vi kjenner ikke igjen lenken" in response.text


def test_sign_up_and_confirm_still_need_csrf(ctx, client):
    assert client.post("/nyhetsbrev", data={"email": "x@example.no"}).status_code == 400
    subscriber = mailing_list.sign_up("ola@example.no", now=NOW)
    db.session.commit()
    response = client.post(f"/nyhetsbrev/bekreft/{subscriber.confirm_token}")
    assert response.status_code == 400
    db.session.refresh(subscriber)
    assert subscriber.confirmed_at is None


def test_known_and_unknown_addresses_get_the_same_answer(app):
    # Each client's requests get their own app context here (no `ctx`): a shared one would
    # share `g`, and with it one CSRF token between two browsers.
    with app.app_context():
        subscribe("kjent@example.no")
        before = len(outbox_rows())
    answers = []
    for email in ("kjent@example.no", "ukjent@example.no"):
        response = sign_up_page(app.test_client(), email)
        answers.append((response.status_code, response.headers["Location"]))
    assert answers[0] == answers[1] == (303, "/nyhetsbrev/sjekk-innboksen")
    with app.app_context():
        # Only the new address was sent anything.
        assert [m.recipient for m in outbox_rows()[before:]] == ["ukjent@example.no"]


def test_an_invalid_address_is_a_form_error(client):
    response = sign_up_page(client, "ikke en adresse")
    assert response.status_code == 422
    assert "Skriv inn en gyldig e-postadresse" in response.text
    assert 'aria-invalid="true"' in response.text


def test_sign_up_is_rate_limited_per_client(ctx, client):
    statuses = [sign_up_page(client, f"person{n}@example.no").status_code for n in range(6)]
    assert statuses == [303] * 5 + [429]
    db.session.commit()
    assert mailing_list.counts().pending == 5


def test_the_limit_is_per_client_address(app):
    first = app.test_client()
    for n in range(5):
        assert sign_up_page(first, f"person{n}@example.no").status_code == 303
    assert sign_up_page(first, "enda-en@example.no").status_code == 429
    other = app.test_client()
    page = other.get("/nyhetsbrev")
    response = other.post("/nyhetsbrev", data={"csrf_token": token(page.text),
                                               "email": "annen@example.no"},
                          environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 303


def test_footer_links_to_the_sign_up_page(client):
    assert 'href="/nyhetsbrev"' in client.get("/").text


# --- the organisers' list ----------------------------------------------------------------------


def test_subscribers_page_shows_counts_and_each_list(ctx, organiser_client):
    subscribe("pa-lista@example.no")
    mailing_list.sign_up("venter@example.no", now=NOW)
    mailing_list.unsubscribe(subscribe("borte@example.no"), now=NOW)
    db.session.commit()
    page = organiser_client.get("/arrangor/abonnenter")
    assert page.status_code == 200
    words = text(page.text)
    assert "På listen 1" in words and "Har ikke bekreftet 1" in words and "Meldt av 1" in words
    assert "pa-lista@example.no" in page.text and "venter@example.no" not in page.text
    pending = organiser_client.get("/arrangor/abonnenter?vis=pending").text
    assert "venter@example.no" in pending and "pa-lista@example.no" not in pending
    assert "borte@example.no" in organiser_client.get("/arrangor/abonnenter?vis=unsubscribed").text
    assert organiser_client.get("/arrangor/abonnenter?vis=tull").status_code == 404


def test_organiser_can_take_someone_off_the_list(ctx, organiser_client):
    subscriber = subscribe("vil-ut@example.no")
    page = organiser_client.get("/arrangor/abonnenter")
    response = organiser_client.post(f"/arrangor/abonnenter/{subscriber.id}/meld-av",
                                     data={"csrf_token": token(page.text)})
    assert response.status_code == 303
    db.session.commit()
    assert mailing_list.counts().unsubscribed == 1
    [entry] = db.session.scalars(sa.select(AuditEntry)).all()
    assert entry.action == "unsubscribe" and "vil-ut@example.no" in shown(entry, "summary")


def test_unconfirmed_sign_ups_are_forgotten_after_a_while(ctx):
    subscribe("bekreftet@example.no", now=NOW - timedelta(days=90))
    mailing_list.sign_up("gammel@example.no", now=NOW - timedelta(days=31))
    mailing_list.sign_up("ny@example.no", now=NOW - timedelta(days=29))
    # Left long ago and asked again yesterday: the new request counts.
    mailing_list.unsubscribe(subscribe("tilbake@example.no", now=NOW - timedelta(days=200)),
                             now=NOW - timedelta(days=100))
    mailing_list.sign_up("tilbake@example.no", now=NOW - timedelta(days=1))
    db.session.commit()
    assert mailing_list.forget_unconfirmed(now=NOW, days=30) == 1
    db.session.commit()
    assert sorted(s.email for s in db.session.scalars(sa.select(Subscriber))) == \
        ["bekreftet@example.no", "ny@example.no", "tilbake@example.no"]
