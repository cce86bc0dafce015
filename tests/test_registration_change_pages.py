"""The pages for changing a registration: the manage link's edit, cancel-confirm and
register-again, "Jeg kan ikke komme" from a mail, and the organisers' edit and address
correction (issue 15)."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest

from klynge_rsvp import history, reminders, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, OutboxStatus, RegistrationStatus
from tests.admin_helpers import audit_actions, outbox, post_page, register, registration, upcoming_gathering
from tests.pages import csrf_token, text

EDIT = {"name": "Deltaker 1", "job_title": "Rådgiver", "organisation": "Bergen kommune",
        "sector": "offentlig", "org_number": "", "needs": ""}


@pytest.fixture
def people(app, make_gathering):
    """Two seats: person 1 and 2 have them, person 3 waits."""
    gathering_id = upcoming_gathering(app, make_gathering, capacity=2)
    ids = register(app, gathering_id, 1, 2, 3)
    with app.app_context():
        return [(i, registration(i).token) for i in ids]


def kinds(app, registration_id) -> list[str]:
    with app.app_context():
        return [m.kind for m in outbox(registration_id)]


# --- the manage link ------------------------------------------------------------------------------


def test_the_edit_page_shows_the_registration_and_says_the_address_is_a_new_registration(client, people):
    _, token = people[0]
    page = client.get(f"/pamelding/{token}/endre")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'value="Deltaker 1"' in page.text and 'value="Rådgiver"' in page.text
    assert 'name="email"' not in page.text  # the address is not a field here
    assert "En ny adresse er en ny påmelding" in text(page.text)
    assert re.search(r'<a href="/samlinger/[^"]+">meld deg på med den nye adressen</a>', page.text)


def test_a_new_name_is_saved_recorded_and_resends_the_invitation(app, client, people):
    registration_id, token = people[0]
    response = post_page(client, f"/pamelding/{token}/endre", {**EDIT, "name": "Deltaker Én"})
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]).text)
    assert "Du får en oppdatert kalenderinvitasjon på e-post." in page and "Deltaker Én" in page
    assert kinds(app, registration_id)[-1] == "details_changed"
    with app.app_context():
        last = registration(registration_id).events[-1]
        assert (last.kind, history.changed_fields(last)) == ("details_changed", ["name"])


def test_needs_alone_send_nothing(app, client, people):
    registration_id, token = people[0]
    before = kinds(app, registration_id)
    response = post_page(client, f"/pamelding/{token}/endre", {**EDIT, "needs": "Vegetar"})
    assert response.status_code == 303
    assert "Endringene er lagret." in text(client.get(response.headers["Location"]).text)
    assert kinds(app, registration_id) == before
    with app.app_context():
        assert registration(registration_id).needs == "Vegetar"


def test_bad_input_is_shown_with_a_summary_and_keeps_what_was_typed(app, client, people):
    registration_id, token = people[0]
    response = post_page(client, f"/pamelding/{token}/endre",
                         {**EDIT, "name": "", "job_title": "Sjef\u202eredaktør",
                          "needs": "Nøtteallergi"})
    assert response.status_code == 422
    assert "<title>Feil:" in response.text
    assert 'href="#name">Navn: Skriv inn navnet ditt.' in response.text
    assert 'href="#job_title">Stilling: Teksten inneholder usynlige tegn' in response.text
    assert "Nøtteallergi" in response.text  # nothing typed is lost
    with app.app_context():
        assert (registration(registration_id).name, registration(registration_id).needs) == \
            ("Deltaker 1", "")


def test_the_cancel_link_asks_first_and_only_the_post_cancels(app, client, people):
    registration_id, token = people[0]
    page = client.get(f"/pamelding/{token}/avmelding")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Plassen din går til den første på ventelisten." in text(page.text)
    with app.app_context():
        assert registration(registration_id).status == RegistrationStatus.CONFIRMED
    response = client.post(f"/pamelding/{token}/avmelding", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    with app.app_context():
        assert registration(registration_id).status == RegistrationStatus.CANCELLED
        assert registration(people[2][0]).status == RegistrationStatus.CONFIRMED  # promoted


def test_the_manage_page_no_longer_cancels_in_one_click(client, people):
    page = client.get(f"/pamelding/{people[0][1]}")
    assert 'action="/pamelding/' + people[0][1] + '/avmelding"' not in page.text
    assert f'href="/pamelding/{people[0][1]}/avmelding"' in page.text


def test_a_cancelled_person_registers_again_from_the_manage_page(app, client, people):
    registration_id, token = people[2]  # waiting
    other_id, other_token = people[0]
    post_page(client, f"/pamelding/{token}/avmelding", {})
    post_page(client, f"/pamelding/{other_token}/avmelding", {})  # a seat frees, nobody waits
    page = client.get(f"/pamelding/{token}")
    assert "Det er fortsatt plass" in text(page.text)
    response = client.post(f"/pamelding/{token}/meld-pa-igjen",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert "Du er påmeldt igjen og har plass." in text(client.get(response.headers["Location"]).text)
    assert kinds(app, registration_id)[-1] == "confirmation"
    # Now full: the other one goes on the waiting list.
    page = client.get(f"/pamelding/{other_token}")
    assert "Sett meg på ventelisten" in page.text
    client.post(f"/pamelding/{other_token}/meld-pa-igjen", data={"csrf_token": csrf_token(page.text)})
    with app.app_context():
        assert registration(registration_id).status == RegistrationStatus.CONFIRMED
        assert registration(other_id).status == RegistrationStatus.WAITING


def test_register_again_without_a_token_changes_nothing(app, client, people):
    registration_id, token = people[0]
    post_page(client, f"/pamelding/{token}/avmelding", {})
    assert client.post(f"/pamelding/{token}/meld-pa-igjen", data={}).status_code == 400
    with app.app_context():
        assert registration(registration_id).status == RegistrationStatus.CANCELLED


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_reminder_and_confirmation_carry_jeg_kan_ikke_komme(app, client, make_gathering, language):
    """The link is in the text and the HTML part, in the person's language; opening it changes
    nothing (mail scanners open links); the page's button frees the seat for the waiting list."""
    gathering_id = upcoming_gathering(app, make_gathering, capacity=1, days=10, reminder_days_before=2)
    [first] = register(app, gathering_id, 1, language=language)
    [second] = register(app, gathering_id, 2)
    link_words = {"nb": "Jeg kan ikke komme", "nn": "Eg kan ikkje kome", "en": "I can't come"}[language]
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        assert reminders.send_reminders(gathering, now=gathering.starts_at - timedelta(days=1)) == 1
        db.session.commit()
        links = set()
        for mail in outbox(first):
            if mail.kind not in ("confirmation", "reminder"):
                continue
            message = message_from_bytes(mail.message, policy=policy.default)
            plain = message.get_body(("plain",)).get_content()
            html = message.get_body(("html",)).get_content()
            found = re.findall(r"https://\S+/avmelding", plain)
            assert len(found) == 1, plain
            assert f'href="{found[0]}"' in html and link_words in html.replace("&#39;", "'")
            links.add(found[0])
        assert len(links) == 1
    path = urlsplit(links.pop()).path
    page = client.get(path)
    assert page.status_code == 200
    with app.app_context():
        assert registration(first).status == RegistrationStatus.CONFIRMED
    assert client.post(path, data={"csrf_token": csrf_token(page.text)}).status_code == 303
    with app.app_context():
        assert registration(first).status == RegistrationStatus.CANCELLED
        assert registration(second).status == RegistrationStatus.CONFIRMED
        assert [m.kind for m in outbox(second)][-1] == "promotion"


# --- organisers ---------------------------------------------------------------------------------


def test_an_organiser_corrects_an_address(app, organiser_client, people):
    registration_id, old_token = people[0]
    url = f"/arrangor/pameldinger/{registration_id}/endre"
    page = organiser_client.get(url)
    assert page.status_code == 200 and 'value="deltaker1@example.no"' in page.text
    response = post_page(organiser_client, url, {**EDIT, "email": "riktig@example.no"})
    assert response.status_code == 303
    shown = text(organiser_client.get(response.headers["Location"]).text)
    assert "Adressen er rettet til riktig@example.no." in shown
    assert "E-postadressen rettet" in shown and "(e-post)" in shown  # the history line
    with app.app_context():
        assert registration(registration_id).email == "riktig@example.no"
        mails = outbox(registration_id)
        assert [(m.kind, m.recipient) for m in mails[-2:]] == [
            ("address_withdrawn", "deltaker1@example.no"), ("address_corrected", "riktig@example.no")]
        assert audit_actions()[-1] == "correct_address"
    assert organiser_client.get(f"/pamelding/{old_token}").status_code == 404


def test_an_organisers_refused_correction_says_why_and_keeps_the_input(app, organiser_client, people):
    registration_id, _ = people[0]
    url = f"/arrangor/pameldinger/{registration_id}/endre"
    response = post_page(organiser_client, url, {**EDIT, "email": "deltaker2@example.no",
                                                  "needs": "Tolk"})
    assert response.status_code == 422
    assert "deltaker2@example.no er allerede påmeldt denne samlingen." in text(response.text)
    assert "Tolk" in response.text
    with app.app_context():
        assert (registration(registration_id).email, registration(registration_id).needs) == \
            ("deltaker1@example.no", "")


def test_the_edit_screen_is_for_organisers_only(client, people):
    response = client.get(f"/arrangor/pameldinger/{people[0][0]}/endre")
    assert response.status_code in (302, 303) and "/arrangor/innlogging" in response.headers["Location"]


def test_the_mail_log_links_a_failed_mail_to_the_correction_screen(app, organiser_client, people):
    registration_id, _ = people[0]
    with app.app_context():
        failed = outbox(registration_id)[0]
        failed.status = OutboxStatus.FAILED
        db.session.commit()
    page = organiser_client.get("/arrangor/e-postlogg?status=failed")
    assert f'href="/arrangor/pameldinger/{registration_id}/endre"' in page.text
    registration_page = organiser_client.get(f"/arrangor/pameldinger/{registration_id}")
    assert f'href="/arrangor/pameldinger/{registration_id}/endre"' in registration_page.text


def test_history_lines_are_in_the_readers_language(app, organiser_client, people):
    registration_id, _token = people[0]
    with app.app_context():
        r = registration(registration_id)
        rsvp.change_details(r, rsvp.Details(name="Ny", job_title="Sjef", organisation_name="Bergen kommune",
                                            sector=r.organisation.sector), now=r.created_at)
        db.session.commit()
    organiser_client.get("/sprak/en")
    page = text(organiser_client.get(f"/arrangor/pameldinger/{registration_id}").text)
    assert "Details changed" in page and "(name, job title)" in page
