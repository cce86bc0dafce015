"""Participants' pages through the test client, with CSRF protection on."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import GatheringStatus, OutboxMessage, Registration, RegistrationStatus
from tests.pages import csrf_token, form_data, post_form, text


@pytest.fixture
def upcoming(app, make_gathering):
    """A published gathering a month from the real now, with 2 seats."""
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + timedelta(days=30), now=utcnow(),
                                   capacity=2, slug="frokost")
        db.session.commit()
        return gathering.slug


def registrations():
    return db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()


def test_upcoming_and_archive(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(title="Kommer snart", starts_at=now + timedelta(days=3), now=now)
        make_gathering(title="Hemmelig utkast", starts_at=now + timedelta(days=3), now=now,
                       status=GatheringStatus.DRAFT)
        make_gathering(title="Det var en gang", starts_at=now - timedelta(days=300), now=now)
        db.session.commit()
    index, archive = text(client.get("/").text), text(client.get("/arkiv").text)
    assert "Kommer snart" in index and "Det var en gang" not in index
    assert "Det var en gang" in archive and "Kommer snart" not in archive
    assert "Hemmelig utkast" not in index + archive


def test_unknown_and_draft_gatherings_are_404(app, client, make_gathering):
    with app.app_context():
        make_gathering(slug="utkast", status=GatheringStatus.DRAFT, now=utcnow(),
                       starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    assert client.get("/samlinger/finnes-ikke").status_code == 404
    assert client.get("/samlinger/utkast").status_code == 404
    assert "Fant ikke siden" in client.get("/samlinger/finnes-ikke").text


def test_gathering_page_shows_what_a_participant_needs(client, upcoming):
    page = text(client.get(f"/samlinger/{upcoming}").text)
    for expected in ["Frokostmøte om beredskap", "Ole Bull Scene", "Øvre Ole Bulls plass 3",
                     "2 ledige av 2", "Slik behandler vi opplysningene", "12 måneder"]:
        assert expected in page
    assert 'value="Meld meg på"' in client.get(f"/samlinger/{upcoming}").text


def test_register_redirects_to_receipt_and_queues_mail(app, client, upcoming):
    response = post_form(client, f"/samlinger/{upcoming}",
                         **{"colleagues-0-name": "Ola Nordmann",
                            "colleagues-0-email": "ola@example.no"})
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "no-store"
    body = text(receipt.text)
    assert "Dette skjedde med påmeldingen: Kari Nordmann (kari@example.no): påmeldt, og har " \
           "plass. Ola Nordmann (ola@example.no): påmeldt, og har plass. Sjekk innboksen." in body
    with app.app_context():
        people = registrations()
        assert [(r.name, r.status) for r in people] == [
            ("Kari Nordmann", RegistrationStatus.CONFIRMED),
            ("Ola Nordmann", RegistrationStatus.CONFIRMED)]
        # The receipt never carries a manage link: that goes only to each inbox.
        assert all(r.token not in receipt.text for r in people)
        kinds = db.session.scalars(sa.select(OutboxMessage.kind)).all()
        assert kinds == ["confirmation", "confirmation"]


def test_full_gathering_puts_people_on_waiting_list(app, client, upcoming):
    post_form(client, f"/samlinger/{upcoming}", **{
        "colleagues-0-name": "B", "colleagues-0-email": "b@example.no"})
    page = client.get(f"/samlinger/{upcoming}").text
    assert "Samlingen er full" in text(page)
    post_form(client, f"/samlinger/{upcoming}", email="c@example.no", name="C")
    with app.app_context():
        assert [r.status for r in registrations()][-1] == RegistrationStatus.WAITING
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds[-1] == "waiting_list"


def test_registering_again_sends_the_link_again(app, client, upcoming):
    post_form(client, f"/samlinger/{upcoming}")
    response = post_form(client, f"/samlinger/{upcoming}", email="KARI@example.no")
    assert "Sjekk innboksen." in text(client.get(response.headers["Location"]).text)
    with app.app_context():
        assert len(registrations()) == 1
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds == ["confirmation", "already_registered"]


def test_receipt_needs_this_browsers_submission(client, upcoming):
    response = client.get(f"/samlinger/{upcoming}/kvittering")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/samlinger/{upcoming}")


INVALID = [
    ({"name": ""}, "name", "Skriv inn navnet ditt."),
    ({"name": "x" * 201}, "name", "Navnet kan være høyst 200 tegn."),
    ({"name": "Kari\r\nBcc: victim@example.org"}, "name", "linjeskift"),
    ({"email": ""}, "email", "Skriv inn e-postadressen."),
    ({"email": "kari@"}, "email", "Skriv inn en gyldig e-postadresse"),
    ({"email": "kari@example.no\r\nBcc: x@example.org"}, "email", "gyldig e-postadresse"),
    ({"organisation": ""}, "organisation", "Skriv inn hvilken virksomhet"),
    ({"sector": None}, "sector", "Velg hvilken sektor"),
    ({"sector": "kongelig"}, "sector", ""),
    ({"org_number": "974760674"}, "org_number", "Organisasjonsnummeret må ha 9 siffer"),
    ({"consent": None}, "consent", "Du må samtykke"),
    ({"needs": "x" * 1001}, "needs", "høyst 1000 tegn"),
    ({"comment": "nul\x00byte"}, "comment", "tegn som ikke kan lagres"),
    ({"colleagues-0-name": "Ola"}, "colleagues-0-email", "Skriv inn e-postadressen til kollegaen"),
    ({"colleagues-0-email": "ola@example.no"}, "colleagues-0-name", "Skriv inn navnet til kollegaen"),
]


@pytest.mark.parametrize(("fields", "field_id", "message"), INVALID)
def test_invalid_input_is_explained_beside_the_field_and_kept(app, client, upcoming, fields,
                                                               field_id, message):
    response = post_form(client, f"/samlinger/{upcoming}", **fields)
    assert response.status_code == 422
    html = response.text
    assert "Påmeldingen ble ikke sendt" in html
    assert f'id="{field_id}-error"' in html or f'id="{field_id.split("-")[0]}-error"' in html
    assert message in text(html)
    # What the person typed is still there.
    if fields.get("comment") is None:
        assert 'value="Beredskapsrådgiver"' in html
    with app.app_context():
        assert registrations() == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_error_is_tied_to_its_field_for_screen_readers(client, upcoming):
    html = post_form(client, f"/samlinger/{upcoming}", email="nope").text
    assert 'aria-describedby="email-hint email-error"' in html
    assert 'aria-invalid="true"' in html


def test_add_colleague_keeps_what_was_typed(client, upcoming):
    response = post_form(client, f"/samlinger/{upcoming}", name="Åse Ærlig-Østby",
                         add_colleague="Legg til en kollega")
    assert response.status_code == 200
    assert 'value="Åse Ærlig-Østby"' in response.text
    assert 'name="colleagues-0-name"' in response.text
    assert "Påmeldingen ble ikke sendt" not in response.text


def test_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(app, client, upcoming):
    client.get(f"/samlinger/{upcoming}")
    missing = client.post(f"/samlinger/{upcoming}", data=form_data())
    wrong = client.post(f"/samlinger/{upcoming}", data={**form_data(), "csrf_token": "forged"})
    assert missing.status_code == wrong.status_code == 400
    with app.app_context():
        assert registrations() == []
    # Nothing typed is lost: the form comes back filled in, with a fresh token that works.
    assert "Skjemaet var utløpt av sikkerhetsgrunner" in wrong.text
    assert 'value="Kari Nordmann"' in wrong.text and 'value="kari@example.no"' in wrong.text
    retry = client.post(f"/samlinger/{upcoming}",
                        data={**form_data(), "csrf_token": csrf_token(wrong.text)})
    assert retry.status_code == 303
    with app.app_context():
        assert [r.email for r in registrations()] == ["kari@example.no"]


def test_other_forms_with_a_bad_csrf_token_get_the_error_page(client):
    response = client.post("/pamelding/abc/avmelding", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert "Skjemaet kunne ikke sendes" in response.text


def test_closed_registration_says_so(app, client, make_gathering, upcoming):
    with app.app_context():
        now = utcnow()
        make_gathering(slug="stengt", now=now, starts_at=now + timedelta(days=5),
                       registration_deadline=now - timedelta(hours=1))
        db.session.commit()
    page = client.get("/samlinger/stengt")
    assert "Påmeldingen er stengt: fristen har gått ut" in text(page.text)
    assert 'name="csrf_token"' not in page.text
    # A form kept open from before the deadline is refused with a message, nothing stored.
    # (The CSRF token belongs to the session, so one from another form is valid here.)
    token = csrf_token(client.get(f"/samlinger/{upcoming}").text)
    response = client.post("/samlinger/stengt", data={**form_data(), "csrf_token": token})
    assert response.status_code == 422
    assert "Påmeldingen til denne samlingen er stengt." in text(response.text)
    with app.app_context():
        assert registrations() == []


def test_postponed_gathering_is_shown_as_postponed(app, client, make_gathering):
    with app.app_context():
        make_gathering(slug="utsatt", status=GatheringStatus.POSTPONED, now=utcnow(),
                       starts_at=datetime(2020, 5, 5, 9, 30, tzinfo=UTC),
                       status_message="Vi kommer tilbake med ny dato.")
        db.session.commit()
    assert "Utsatt på ubestemt tid" in text(client.get("/arkiv").text)
    page = text(client.get("/samlinger/utsatt").text)
    assert "Utsatt på ubestemt tid. Vi kommer tilbake med ny dato." in page
    assert "Påmeldingen er stengt" in page


def test_gathering_ics_is_publish_without_attendee(client, upcoming):
    response = client.get(f"/samlinger/{upcoming}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert "ATTENDEE" not in event
    assert str(event["SUMMARY"]) == "Frokostmøte om beredskap"


def test_security_headers(client):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_receipt_does_not_tell_whether_an_address_was_registered(app, client, upcoming):
    """A stranger typing a registered address sees what they typed and "check your inbox", the
    same page as for a new address: never the stored name, never whether it was known."""
    post_form(client, f"/samlinger/{upcoming}", name="Kari Nordmann", email="kari@example.no")

    def receipt_for(email):
        stranger = app.test_client()
        response = post_form(stranger, f"/samlinger/{upcoming}", name="Noen Andre", email=email)
        assert response.status_code == 303
        with stranger.session_transaction() as session:  # the cookie says no more than the page
            assert session["receipt"]["people"] == [["Noen Andre", email, "confirmed"]]
        return text(stranger.get(response.headers["Location"]).text)

    known, new = receipt_for("kari@example.no"), receipt_for("ny@example.no")
    assert "Kari Nordmann" not in known
    assert "Noen Andre (kari@example.no)" in known and "Sjekk innboksen." in known
    assert known.replace("kari@example.no", "@") == new.replace("ny@example.no", "@")


def test_a_long_receipt_is_cut_down_to_fit_the_cookie(app, client, make_gathering):
    with app.app_context():
        make_gathering(slug="stor", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    fields = {}
    for n in range(20):
        fields[f"colleagues-{n}-name"] = f"Kollega {n} " + "Langt-Etternavn " * 11
        fields[f"colleagues-{n}-email"] = f"kollega.med.en.lang.adresse.{n}@bergen.kommune.no"
    response = post_form(client, "/samlinger/stor", **fields)
    assert response.status_code == 303
    assert len(response.headers["Set-Cookie"]) < 2000
    receipt = text(client.get(response.headers["Location"]).text)
    assert ("Kari Nordmann (kari@example.no): påmeldt, og har plass. og 20 kolleger til "
            "Sjekk innboksen.") in receipt
