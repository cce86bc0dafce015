"""The manage page behind a participant's secret link."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import OutboxMessage, Registration, RegistrationStatus
from tests.conftest import registration_request
from tests.pages import csrf_token, text


@pytest.fixture
def tokens(app, make_gathering):
    """Two confirmed people and one on the waiting list, for a gathering with 2 seats."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=2, now=now, starts_at=now + timedelta(days=10))
        result = [rsvp.register(gathering, registration_request(n), now=now)[0].registration.token
                  for n in (1, 2, 3)]
        db.session.commit()
        return result


def registration(token):
    return db.session.scalar(sa.select(Registration).where(Registration.token == token))


def test_manage_page_shows_this_person_only(client, tokens):
    response = client.get(f"/pamelding/{tokens[0]}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response.text)
    assert "Du har plass på samlingen." in page
    assert "deltaker1@example.no" in page
    assert "deltaker2@example.no" not in page and "deltaker3@example.no" not in page


def test_waiting_person_sees_their_place(client, tokens):
    assert "Du står som nummer 1 på ventelisten." in text(client.get(f"/pamelding/{tokens[2]}").text)


@pytest.mark.parametrize("token", ["", "x", "a" * 43, "a" * 300, "../../etc/passwd"])
def test_unknown_or_tampered_link_is_404(client, tokens, token):
    response = client.get(f"/pamelding/{token}")
    assert response.status_code == 404


def test_tampered_link_shows_a_helpful_page(client, tokens):
    response = client.get(f"/pamelding/{tokens[0][:-2]}xx")
    assert response.status_code == 404
    assert "Vi finner ikke denne påmeldingen" in response.text


def test_cancel_frees_seat_for_waiting_list(app, client, tokens):
    page = client.get(f"/pamelding/{tokens[0]}/avmelding")  # the confirmation page
    response = client.post(f"/pamelding/{tokens[0]}/avmelding",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert "Du er meldt av." in text(client.get(response.headers["Location"]).text)
    with app.app_context():
        assert registration(tokens[0]).status == RegistrationStatus.CANCELLED
        assert registration(tokens[2]).status == RegistrationStatus.CONFIRMED
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds[-2:] == ["cancellation", "promotion"]


def test_cancel_without_csrf_token_changes_nothing(app, client, tokens):
    response = client.post(f"/pamelding/{tokens[0]}/avmelding", data={})
    assert response.status_code == 400
    with app.app_context():
        assert registration(tokens[0]).status == RegistrationStatus.CONFIRMED


def test_calendar_download_is_publish(client, tokens):
    response = client.get(f"/pamelding/{tokens[0]}/kalender.ics")
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "ATTENDEE" not in calendar.walk("VEVENT")[0]


def test_export_holds_this_persons_data(client, tokens):
    response = client.get(f"/pamelding/{tokens[0]}/mine-data.json")
    assert response.status_code == 200
    data = json.loads(response.data)
    assert data["e_post"] == "deltaker1@example.no"
    assert data["virksomhet"] == "Bergen kommune"
    assert "deltaker2" not in response.text


def test_erase_needs_confirmation_then_removes_personal_data(app, client, tokens):
    page = client.get(f"/pamelding/{tokens[0]}/slett")
    refused = client.post(f"/pamelding/{tokens[0]}/slett",
                          data={"csrf_token": csrf_token(page.text)})
    assert refused.status_code == 422
    assert "Kryss av for å bekrefte" in refused.text
    with app.app_context():
        assert registration(tokens[0]).name == "Deltaker 1"

    done = client.post(f"/pamelding/{tokens[0]}/slett",
                       data={"csrf_token": csrf_token(page.text), "confirm": "y"})
    assert done.status_code == 303
    assert client.get(f"/pamelding/{tokens[0]}").status_code == 404  # the link is dead
    with app.app_context():
        people = db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()
        erased = people[0]
        assert erased.name == "Slettet deltaker"
        assert "deltaker1" not in erased.email
        assert erased.status == RegistrationStatus.CANCELLED
        assert erased.organisation.name == "Bergen kommune"  # statistics survive
        assert people[2].status == RegistrationStatus.CONFIRMED  # the seat went on


def test_not_me_page_shows_the_button_and_changes_nothing(app, client, tokens):
    page = client.get(f"/pamelding/{tokens[0]}/ikke-meg")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    body = text(page.text)
    assert "deltaker1@example.no er meldt på Frokostmøte om beredskap" in body
    assert "plassen går videre til ventelisten" in body and 'value="Meld meg av og stopp e-posten"' \
        in page.text
    assert "Var det ikke deg som ble meldt på?" in text(client.get(f"/pamelding/{tokens[0]}").text)
    with app.app_context():  # a mail scanner opening the link does nothing
        assert registration(tokens[0]).status == RegistrationStatus.CONFIRMED


def test_not_me_cancels_erases_and_stops_the_forms_mail(app, client, tokens):
    from klynge_rsvp.models import FormMailSuppression

    page = client.get(f"/pamelding/{tokens[0]}/ikke-meg")
    response = client.post(f"/pamelding/{tokens[0]}/ikke-meg",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/pamelding/stoppet")
    done = client.get(response.headers["Location"])
    assert "Du er meldt av" in text(done.text) and done.headers["Cache-Control"] == "no-store"
    assert client.get(f"/pamelding/{tokens[0]}").status_code == 404  # the data and link are gone
    with app.app_context():
        assert db.session.scalar(sa.select(FormMailSuppression.email_key)) == "deltaker1@example.no"
        assert registration(tokens[2]).status == RegistrationStatus.CONFIRMED  # the seat went on
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds[-2:] == ["cancellation", "promotion"]


def test_not_me_without_csrf_token_changes_nothing(app, client, tokens):
    response = client.post(f"/pamelding/{tokens[0]}/ikke-meg", data={})
    assert response.status_code == 400
    with app.app_context():
        assert registration(tokens[0]).status == RegistrationStatus.CONFIRMED
