"""The registration form after issue 15, through the test client (the browser journeys are in
tests/browser/test_registration_form_journey.py): the one error summary and the "Feil:" title,
Enter registering, colleague rows added and removed without JavaScript, needs per person, full
gatherings, the home page's cards, and a receipt that says what became of each person."""

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import OutboxMessage, Registration, RegistrationStatus
from tests.pages import csrf_token, post_form, text


@pytest.fixture
def open_gathering(app, make_gathering):
    """A published gathering a month ahead, 3 seats, a deadline a week before it starts."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(starts_at=now + timedelta(days=30), now=now, capacity=3,
                                   slug="frokost", registration_deadline=now + timedelta(days=23))
        db.session.commit()
        return gathering.slug


def registrations():
    return db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()


def title(html: str) -> str:
    return text(re.search(r"<title>(.*?)</title>", html, re.S).group(1))


def summary(html: str) -> str:
    """The error summary's HTML (there is at most one on a page)."""
    found = re.findall(r'<div class="error-summary".*?</div>', html, re.S)
    assert len(found) == 1, found
    return found[0]


def summary_links(html: str) -> list[tuple[str, str]]:
    return [(href, text(label)) for href, label in
            re.findall(r'<a href="(#[^"]*)">(.*?)</a>', summary(html), re.S)]


def submit_buttons(html: str) -> list[str]:
    """The form's submit buttons in document order, as (name, value) strings."""
    form = re.search(r"<form method=\"post\"[^>]*data-registration-form.*?</form>", html, re.S).group(0)
    found = []
    for tag in re.findall(r"<(?:button|input)\b[^>]*type=\"submit\"[^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        found.append(name.group(1) if name else "")
    return found


# --- the error pattern -----------------------------------------------------------------------


def test_a_failed_submit_titles_the_page_and_links_every_error_to_its_field(app, client,
                                                                             open_gathering):
    response = post_form(client, f"/samlinger/{open_gathering}", name="", sector=None,
                         **{"colleagues-0-email": "ola@example.no",
                            "colleagues-1-name": "Per", "colleagues-1-email": "per@"})
    assert response.status_code == 422
    assert title(response.text).startswith("Feil: Frokostmøte om beredskap")
    box = summary(response.text)
    assert "autofocus" in box and 'tabindex="-1"' in box and 'id="error-summary"' in box
    assert summary_links(response.text) == [
        ("#name", "Navn: Skriv inn navnet ditt."),
        ("#sector-0", "Sektor: Velg hvilken sektor virksomheten hører til."),
        ("#colleagues-0-name", "Kollega 1: Navn: Skriv inn navnet til kollegaen."),
        ("#colleagues-1-email",
         "Kollega 2: E-post: Skriv inn en gyldig e-postadresse, for eksempel navn@virksomhet.no."),
    ]
    consent = post_form(client, f"/samlinger/{open_gathering}", consent=None)
    assert summary_links(consent.text) == [("#consent", "Jeg samtykker til at opplysningene lagres "
                                             "slik det er beskrevet over: Du må samtykke for å "
                                             "melde deg på.")]
    # Each link leads to an element that is there.
    for href, _label in summary_links(response.text):
        assert f'id="{href[1:]}"' in response.text
    with app.app_context():
        assert registrations() == []


def test_the_title_says_error_in_each_language(client, open_gathering):
    for language, prefix in (("nn", "Feil:"), ("en", "Error:")):
        client.get(f"/sprak/{language}")
        response = post_form(client, f"/samlinger/{open_gathering}", email="nope")
        assert title(response.text).startswith(prefix + " "), language
    assert not title(client.get(f"/samlinger/{open_gathering}").text).startswith("Error")


def test_a_form_stopped_by_a_limit_links_the_field_the_limit_is_on(app, client, open_gathering):
    assert post_form(client, f"/samlinger/{open_gathering}",
                     **{"colleagues-0-name": "Ola", "colleagues-0-email": "ola@example.no"}
                     ).status_code == 303
    stranger = app.test_client()
    again = post_form(stranger, f"/samlinger/{open_gathering}", name="Per", email="per@example.no",
                      **{"colleagues-0-name": "Ola", "colleagues-0-email": "ola@example.no"})
    assert again.status_code == 429
    assert title(again.text).startswith("Feil:")
    [(href, label)] = summary_links(again.text)
    assert href == "#colleagues-0-email" and label.startswith("Kollega 1: E-post:")


@pytest.mark.parametrize(("path", "fields", "heading"), [
    ("/nyhetsbrev", {"email": "nope"}, "Påmeldingen ble ikke sendt"),
    ("/arrangor/innlogging", {"email": "", "password": ""}, "Du ble ikke logget inn"),
])
def test_other_forms_show_the_same_summary(client, path, fields, heading):
    page = client.get(path)
    response = client.post(path, data={"csrf_token": csrf_token(page.text), **fields})
    assert title(response.text).startswith("Feil:")
    box = summary(response.text)
    assert f'<h2 class="error-summary__title" id="error-summary-title">{heading}</h2>' in box
    assert summary_links(response.text)[0][0] == "#email"


def test_organiser_forms_show_the_same_summary(organiser_client):
    page = organiser_client.get("/arrangor/samlinger/ny")
    response = organiser_client.post("/arrangor/samlinger/ny",
                                     data={"csrf_token": csrf_token(page.text)})
    assert title(response.text).startswith("Feil:")
    assert "Samlingen ble ikke lagret" in summary(response.text)
    assert ("#title", "Tittel: " + summary_links(response.text)[0][1].split(": ", 1)[1]) \
        in summary_links(response.text)


def test_the_material_link_form_on_a_gathering_uses_the_summary_too(app, organiser_client,
                                                                   make_gathering):
    with app.app_context():
        gathering_id = make_gathering(now=utcnow(), starts_at=utcnow() - timedelta(days=3)).id
        db.session.commit()
    show = f"/arrangor/samlinger/{gathering_id}"
    assert not title(organiser_client.get(show).text).startswith("Feil")
    refused = organiser_client.post(f"{show}/materiale", data={
        "csrf_token": csrf_token(organiser_client.get(show).text), "label": "Lurt",
        "url": "javascript:alert(1)"})
    assert refused.status_code == 422
    assert title(refused.text).startswith("Feil:")
    assert "Lenken ble ikke lagret" in summary(refused.text)
    assert summary_links(refused.text)[0][0] == "#url"


# --- Enter, and colleague rows without JavaScript ---------------------------------------------


def test_enter_presses_the_register_button_not_add_colleague(client, open_gathering):
    html = client.get(f"/samlinger/{open_gathering}").text
    buttons = submit_buttons(html)
    # Enter in a text field presses the form's first submit button: a copy of the register
    # button that posts neither "add" nor "remove", so the form is registered.
    assert buttons[0] == "" and buttons.index("add_colleague") > 0
    first = re.search(r"<form method=\"post\"[^>]*data-registration-form.*?(<button[^>]*>)", html,
                      re.S).group(1)
    assert 'class="default-submit"' in first and 'aria-hidden="true"' in first


def test_adding_a_colleague_returns_to_the_new_row_with_its_first_field_focused(client,
                                                                                open_gathering):
    response = post_form(client, f"/samlinger/{open_gathering}", name="Åse",
                         add_colleague="Legg til en kollega")
    assert response.status_code == 200
    assert 'id="colleague-0"' in response.text
    assert re.search(r'<input[^>]* autofocus[^>]*id="colleagues-0-name"', response.text)
    assert 'value="Åse"' in response.text
    assert "error-summary" not in response.text and not title(response.text).startswith("Feil")


def test_removing_a_colleague_keeps_the_others_and_what_was_typed(app, client, open_gathering):
    rows = {f"colleagues-{n}-{key}": f"{key} {n}" for n in range(3) for key in ("name", "needs")}
    response = post_form(client, f"/samlinger/{open_gathering}", name="Åse",
                         remove_colleague="1", **rows)
    assert response.status_code == 200
    html = response.text
    assert 'value="name 0"' in html and 'value="name 2"' in html and 'value="name 1"' not in html
    assert "needs 2</textarea>" in html and "needs 1" not in html
    assert 'value="Åse"' in html
    assert "Kollega 2" in text(html) and 'id="colleague-1"' not in html
    # The focus is where the row was: the row now in its place.
    assert re.search(r'<input[^>]* autofocus[^>]*id="colleagues-2-name"', html)
    assert "Kollegaen er fjernet." in text(html)
    with app.app_context():
        assert registrations() == []


def test_removing_the_last_colleague_focuses_add_colleague(client, open_gathering):
    html = post_form(client, f"/samlinger/{open_gathering}", remove_colleague="0",
                     **{"colleagues-0-name": "Ola"}).text
    assert 'name="colleagues-0-name"' not in html.split("<template")[0]
    assert re.search(r'<input[^>]* autofocus[^>]*name="add_colleague"', html)


# --- needs per person --------------------------------------------------------------------------


def test_each_colleague_has_their_own_needs_and_organisers_see_them(app, client, organiser_client,
                                                                     open_gathering):
    response = post_form(client, f"/samlinger/{open_gathering}", needs="Vegetar",
                         **{"colleagues-0-name": "Ola Nordmann", "colleagues-0-email": "ola@example.no",
                            "colleagues-0-needs": "Nøtteallergi",
                            "colleagues-1-name": "Per Hansen", "colleagues-1-email": "per@example.no"})
    assert response.status_code == 303
    with app.app_context():
        assert [(r.name, r.needs) for r in registrations()] == [
            ("Kari Nordmann", "Vegetar"), ("Ola Nordmann", "Nøtteallergi"), ("Per Hansen", "")]
        gathering_id = registrations()[0].gathering_id
    base = f"/arrangor/samlinger/{gathering_id}"
    for page in ("pameldinger", "innsjekk", "deltakerliste"):
        shown = text(organiser_client.get(f"{base}/{page}").text)
        assert "Behov: Vegetar" in shown and "Behov: Nøtteallergi" in shown, page
        assert shown.count("Behov:") == 2, page
    # The download has one row a person, each with their own needs.
    export = organiser_client.get(f"{base}/pameldinger.csv").data.decode("utf-8-sig")
    rows = {row[0]: row for row in csv.reader(io.StringIO(export), delimiter=";")}
    assert "Nøtteallergi" in rows["Ola Nordmann"] and "Vegetar" not in rows["Ola Nordmann"]
    assert "Vegetar" in rows["Kari Nordmann"]
    assert not {"Vegetar", "Nøtteallergi"} & set(rows["Per Hansen"])


# --- full gatherings, the cards, the statement ---------------------------------------------------


def test_a_full_gathering_says_waiting_list_on_its_button_and_explains_it(app, client,
                                                                           make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(slug="full", capacity=1, now=now, starts_at=now + timedelta(days=9))
        db.session.commit()
    assert 'value="Meld meg på"' in client.get("/samlinger/full").text
    post_form(client, "/samlinger/full")
    html = client.get("/samlinger/full").text
    assert 'value="Sett meg på ventelisten"' in html and 'value="Meld meg på"' not in html
    assert submit_buttons(html)[0] == ""
    assert '<button type="submit" class="default-submit" tabindex="-1" aria-hidden="true">' \
        'Sett meg på ventelisten</button>' in html
    assert "Ventelisten går i den rekkefølgen folk meldte seg på." in text(html)
    assert '<a href="#register-heading">Meld deg på ventelisten</a>' in html


def test_the_home_page_cards_show_seats_fullt_and_the_deadline(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(title="Ledig", slug="ledig", capacity=5, now=now,
                       starts_at=now + timedelta(days=9), registration_deadline=now + timedelta(days=8))
        make_gathering(title="Full", slug="full", capacity=1, now=now,
                       starts_at=now + timedelta(days=10))
        make_gathering(title="Uten tak", slug="uten", now=now, starts_at=now + timedelta(days=11))
        db.session.commit()
    post_form(client, "/samlinger/full")
    cards = re.findall(r'<li class="card">.*?</li>', client.get("/").text, re.S)
    ledig, full, open_ended = (text(card) for card in cards)
    assert "Sted Ole Bull Scene" in ledig and "Plasser 5 ledige" in ledig
    assert "Påmeldingsfrist " in ledig and "Når " in ledig
    assert "Plasser Fullt (venteliste)" in full
    assert "Plasser" not in open_ended


def test_the_accessibility_statement_has_a_date(client):
    html = client.get("/tilgjengelighet").text
    assert re.search(r'Sist gjennomgått <time datetime="\d{4}-\d\d-\d\d">', html)


# --- the receipt ---------------------------------------------------------------------------------


def test_the_receipt_says_what_became_of_each_person(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(slug="liten", capacity=1, now=now, starts_at=now + timedelta(days=9))
        db.session.commit()
    first = post_form(client, "/samlinger/liten",
                      **{"colleagues-0-name": "Ola Nordmann", "colleagues-0-email": "ola@example.no"})
    receipt = text(client.get(first.headers["Location"]).text)
    assert "Takk for påmeldingen" in receipt
    assert "Kari Nordmann (kari@example.no): påmeldt, og har plass." in receipt
    assert "Ola Nordmann (ola@example.no): på ventelisten." in receipt

    # The same browser again: it registered the address, so it is told so.
    again = post_form(client, "/samlinger/liten")
    receipt = text(client.get(again.headers["Location"]).text)
    assert receipt.startswith("Du var allerede påmeldt")
    assert "Kari Nordmann (kari@example.no): var allerede påmeldt. Ingenting er endret." in receipt
    assert "Takk for påmeldingen" not in receipt
    with app.app_context():
        assert len(registrations()) == 2
        assert db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all() \
            == ["confirmation", "waiting_list", "already_registered"]


def test_another_browser_is_not_told_an_address_was_registered(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(slug="liten", capacity=1, now=now, starts_at=now + timedelta(days=9))
        db.session.commit()
    post_form(client, "/samlinger/liten")  # Kari takes the only seat
    for address in ("kari@example.no", "ny@example.no"):
        stranger = app.test_client()
        response = post_form(stranger, "/samlinger/liten", name="Noen", email=address)
        receipt = text(stranger.get(response.headers["Location"]).text)
        # Either way: what a newcomer gets now (the list), never "already registered".
        assert f"Noen ({address}): på ventelisten." in receipt
        assert "allerede påmeldt." not in receipt
    with app.app_context():
        assert [r.status for r in registrations()] == [RegistrationStatus.CONFIRMED,
                                                       RegistrationStatus.WAITING]



def test_a_page_whose_form_is_not_a_form_is_not_an_error(app):
    """base.html asks every page's `form` whether it failed: anything else is simply no."""
    from klynge_rsvp.form_errors import error_links, has_errors

    with app.test_request_context():
        for other in (None, {"name": "x"}, ["a"], "form"):
            assert error_links(other) == [] and has_errors(other) is False
