"""Organisers' gathering pages: list, create, edit, preview, publish, capacity, material."""

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import checkin, gatherings
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Gathering, GatheringStatus, RegistrationStatus
from klynge_rsvp.stored_text import shown
from tests.admin_helpers import (
    audit_actions,
    button_token,
    outbox,
    post_page,
    register,
    registration,
    upcoming_gathering,
)
from tests.conftest import NOW
from tests.pages import text


def gathering_form(**fields) -> dict:
    """A valid new-gathering form (Oslo wall time), `fields` overriding."""
    data = {
        "title": "Frokostmøte om strømbrudd",
        "format": "Frokostmøte",
        "theme": "Når strømmen går",
        "description": "Første avsnitt.\r\n\r\nAndre avsnitt.",
        "host": "Bergen kommune",
        "start_date": "2030-06-11",
        "start_time": "08:00",
        "end_time": "10:00",
        "end_date": "",
        "venue_name": "Ole Bull Scene",
        "venue_address": "Øvre Ole Bulls plass 3",
        "capacity": "40",
        "deadline_date": "2030-06-09",
        "deadline_time": "",
        "reminder_days_before": "2",
    }
    data.update(fields)
    return data


def the_gathering(gathering_id) -> Gathering:
    return db.session.get(Gathering, gathering_id)


# --- the list ----------------------------------------------------------------------------------


def test_list_shows_drafts_status_and_counts(app, organiser_client, make_gathering):
    published = upcoming_gathering(app, make_gathering, title="Seminar om flom", capacity=1)
    upcoming_gathering(app, make_gathering, title="Hemmelig utkast", status=GatheringStatus.DRAFT)
    upcoming_gathering(app, make_gathering, title="Gammel samling", days=-100)
    first, _, third = register(app, published, 1, 2, 3)
    with app.app_context():
        checkin.check_in(registration(first), now=utcnow(), by=None)
        from klynge_rsvp import rsvp
        rsvp.cancel(registration(third), now=utcnow())
        db.session.commit()

    response = organiser_client.get("/arrangor/samlinger")
    assert response.status_code == 200
    page = text(response.text)
    assert "Hemmelig utkast Frokostmøte · Ole Bull Scene" in page and "Utkast" in page
    # confirmed of capacity, waiting, cancelled, attended
    assert "Seminar om flom Frokostmøte · Ole Bull Scene" in page
    row = page.split("Seminar om flom")[1].split("Hemmelig")[0]
    assert "Publisert 1 av 1 1 1 1" in row
    assert page.index("Tidligere samlinger") < page.index("Gammel samling")
    assert 'href="/arrangor/samlinger/ny"' in response.text
    assert organiser_client.get("/arrangor/samlinger/999").status_code == 404
    assert organiser_client.get("/arrangor/samlinger/999/endre").status_code == 404


# --- create, validate, preview, publish ------------------------------------------------------------


def test_create_a_draft_in_oslo_time(app, organiser_client):
    response = post_page(organiser_client, "/arrangor/samlinger/ny", gathering_form())
    assert response.status_code == 303
    with app.app_context():
        [gathering] = db.session.scalars(sa.select(Gathering)).all()
        assert response.headers["Location"] == f"/arrangor/samlinger/{gathering.id}"
        assert gathering.status == GatheringStatus.DRAFT
        assert gathering.slug == "2030-06-11-frokostmote-om-strombrudd"
        # 08:00 in Oslo in summer is 06:00 UTC; the deadline day ends 23:59 Oslo time.
        assert gathering.starts_at == datetime(2030, 6, 11, 6, 0, tzinfo=UTC)
        assert gathering.ends_at == datetime(2030, 6, 11, 8, 0, tzinfo=UTC)
        assert gathering.registration_deadline == datetime(2030, 6, 9, 21, 59, tzinfo=UTC)
        assert gathering.capacity == 40 and gathering.reminder_days_before == 2
        assert gathering.description == "Første avsnitt.\n\nAndre avsnitt."
        assert audit_actions(gathering.id) == ["create"]
    html = organiser_client.get(response.headers["Location"]).text
    assert "Dette er et utkast." in text(html) and "Publiser samlingen" in text(html)
    for path in ["endre", "forhandsvisning", "pameldinger", "pameldinger/ny", "innsjekk",
                 "deltakerliste", "navneskilt", "pameldinger.csv", "pameldinger.xlsx"]:
        assert f'href="/arrangor/samlinger/{gathering.id}/{path}"' in html, path

    # Winter time, a date typed the Norwegian way, no capacity and no deadline.
    winter = post_page(organiser_client, "/arrangor/samlinger/ny", gathering_form(
        start_date="20.01.2031", start_time="08.30", end_time="10.00", deadline_date="", capacity=""))
    assert winter.status_code == 303
    with app.app_context():
        gathering = db.session.scalars(sa.select(Gathering).order_by(Gathering.id.desc())).first()
        assert gathering.starts_at == datetime(2031, 1, 20, 7, 30, tzinfo=UTC)
        assert gathering.capacity is None and gathering.registration_deadline is None



def test_form_errors_are_norwegian_and_beside_their_fields(app, organiser_client):
    response = post_page(organiser_client, "/arrangor/samlinger/ny", gathering_form(
        title="", start_time="10:00", end_time="09:00", capacity="-1", deadline_date="2030-06-12",
        reminder_days_before="mange", start_date="2030-06-11"))
    assert response.status_code == 422
    html = response.text
    for message in ["Skriv inn en tittel.", "Samlingen må slutte etter at den starter.",
                    "Antall plasser må være 0 eller mer.", "Påmeldingsfristen må være før samlingen starter",
                    "Skriv et helt tall, for eksempel 40."]:
        assert message in html, message
    assert 'id="end_time-error"' in html and 'aria-describedby="end_time-hint end_time-error"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="Ole Bull Scene"' in html  # what was typed is kept
    bad_date = post_page(organiser_client, "/arrangor/samlinger/ny", gathering_form(start_date="11/6"))
    assert bad_date.status_code == 422
    assert "Skriv datoen som dd.mm.åååå" in bad_date.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)) == 0



def test_preview_shows_the_public_page_of_a_draft(app, organiser_client, client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, title="Utkast til øvelse",
                                      status=GatheringStatus.DRAFT, slug="utkast-ovelse")
    response = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/forhandsvisning")
    assert response.status_code == 200
    page = text(response.text)
    assert "Forhåndsvisning." in page and "Utkast til øvelse" in page and "Ole Bull Scene" in page
    assert "Meld meg på" in response.text  # the form as participants will see it
    assert client.get("/samlinger/utkast-ovelse").status_code == 404  # still not public


def test_publish_makes_it_public_once_and_offers_an_announcement(app, organiser_client, client,
                                                                  make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, status=GatheringStatus.DRAFT,
                                      slug="snart-offentlig")
    show = f"/arrangor/samlinger/{gathering_id}"
    assert organiser_client.post(f"{show}/publiser").status_code == 400  # no CSRF token
    token = button_token(organiser_client.get(show).text)
    response = organiser_client.post(f"{show}/publiser", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{show}?publisert=1"
    landed = organiser_client.get(response.headers["Location"]).text
    assert "Samlingen er publisert og åpen for påmelding." in landed
    assert "Dette er et utkast." not in landed
    with app.app_context():
        gathering = the_gathering(gathering_id)
        assert gathering.status == GatheringStatus.PUBLISHED
        published_at = gathering.published_at
        assert published_at is not None
    assert client.get("/samlinger/snart-offentlig").status_code == 200

    again = organiser_client.post(f"{show}/publiser", data={"csrf_token": token})
    assert again.headers["Location"] == show
    assert "Samlingen var allerede publisert." in organiser_client.get(show).text
    with app.app_context():
        assert the_gathering(gathering_id).published_at == published_at
        assert audit_actions(gathering_id) == ["publish"]




# --- edit ------------------------------------------------------------------------------------------


def test_edit_a_draft_changes_time_place_and_slug(app, organiser_client):
    post_page(organiser_client, "/arrangor/samlinger/ny", gathering_form())
    with app.app_context():
        gathering_id = db.session.scalar(sa.select(Gathering.id))
    edit = f"/arrangor/samlinger/{gathering_id}/endre"
    form_page = organiser_client.get(edit).text
    assert 'value="2030-06-11"' in form_page and 'value="08:00"' in form_page
    response = post_page(organiser_client, edit, gathering_form(
        title="Frokostmøte om vann", start_date="2030-06-12", venue_name="Bergen rådhus"))
    assert response.status_code == 303
    with app.app_context():
        gathering = the_gathering(gathering_id)
        assert gathering.venue_name == "Bergen rådhus"
        assert gathering.starts_at == datetime(2030, 6, 12, 6, 0, tzinfo=UTC)
        assert gathering.slug == "2030-06-12-frokostmote-om-vann"
        assert audit_actions(gathering_id) == ["create", "edit"]


def test_published_gathering_keeps_time_and_place_read_only(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=10)
    edit = f"/arrangor/samlinger/{gathering_id}/endre"
    page = organiser_client.get(edit)
    assert "Endre tid eller sted med «Flytt samlingen»" in text(page.text)
    assert 'name="start_date"' not in page.text and 'name="venue_name"' not in page.text
    with app.app_context():
        before = the_gathering(gathering_id)
        starts_at, venue = before.starts_at, before.venue_name
    # Even a crafted post cannot move it: those fields are not part of the form.
    response = post_page(organiser_client, edit, gathering_form(
        title="Nytt navn", theme="", description="Om beredskap.", venue_name="Et annet sted",
        start_date="2030-01-01", capacity="12", deadline_date=""))
    assert response.status_code == 303, text(response.text)
    with app.app_context():
        gathering = the_gathering(gathering_id)
        assert (gathering.title, gathering.capacity) == ("Nytt navn", 12)
        assert (gathering.starts_at, gathering.venue_name) == (starts_at, venue)
        [entry] = db.session.scalars(sa.select(AuditEntry)).all()
        assert shown(entry, "summary") == "Endret tittel, antall plasser (10 → 12)."


def test_the_service_refuses_to_move_a_published_gathering(ctx, make_gathering):
    gathering = make_gathering()
    with pytest.raises(DomainError, match="Flytt samlingen"):
        gatherings.update(gathering, {"starts_at": gathering.starts_at + timedelta(days=1)},
                          now=NOW, by=None)
    with pytest.raises(DomainError, match="før samlingen starter"):
        gatherings.update(gathering, {"registration_deadline": gathering.starts_at}, now=NOW, by=None)
    assert gatherings.update(gathering, {"title": gathering.title}, now=NOW, by=None) == []


def test_lowering_capacity_below_confirmed_asks_first_and_drops_nobody(app, organiser_client,
                                                                       make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=3)
    people = register(app, gathering_id, 1, 2, 3)
    edit = f"/arrangor/samlinger/{gathering_id}/endre"

    asked = post_page(organiser_client, edit, gathering_form(capacity="2", deadline_date=""))
    assert asked.status_code == 409
    page = text(asked.text)
    assert "3 personer har allerede plass, og du setter antall plasser til 2." in page
    assert "Ingen mister plassen sin" in page
    assert 'name="confirm_capacity"' in asked.text
    with app.app_context():
        assert the_gathering(gathering_id).capacity == 3

    confirmed = post_page(organiser_client, edit, gathering_form(capacity="2", deadline_date="",
                                                                 confirm_capacity="y"))
    assert confirmed.status_code == 303
    with app.app_context():
        assert the_gathering(gathering_id).capacity == 2
        assert [registration(i).status for i in people] == [RegistrationStatus.CONFIRMED] * 3
    [late] = register(app, gathering_id, 4)
    with app.app_context():
        assert registration(late).status == RegistrationStatus.WAITING


def test_raising_capacity_gives_seats_to_the_waiting_list_with_mail(app, organiser_client,
                                                                    make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=1)
    _, second, third = register(app, gathering_id, 1, 2, 3)
    response = post_page(organiser_client, f"/arrangor/samlinger/{gathering_id}/endre",
                         gathering_form(capacity="2", deadline_date=""))
    assert response.status_code == 303
    landed = text(organiser_client.get(response.headers["Location"]).text)
    assert "1 fikk plass fra ventelisten og har fått e-post om det: Deltaker 2." in landed
    with app.app_context():
        assert registration(second).status == RegistrationStatus.CONFIRMED
        assert registration(third).status == RegistrationStatus.WAITING
        assert [m.kind for m in outbox(second)] == ["waiting_list", "promotion"]


# --- material --------------------------------------------------------------------------------------


def test_material_links_show_on_the_public_page(app, organiser_client, client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, days=-10, slug="holdt")
    show = f"/arrangor/samlinger/{gathering_id}"
    response = post_page(organiser_client, show, {"label": "Opptak av samlingen",
                                                  "url": "https://video.example.no/opptak?id=1&t=2"},
                         action=f"{show}/materiale")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{show}#materiale"
    public = client.get("/samlinger/holdt").text
    assert "Opptak og materiale" in public
    assert '<a href="https://video.example.no/opptak?id=1&amp;t=2">Opptak av samlingen</a>' in public

    refused = post_page(organiser_client, show, {"label": "Lurt", "url": "javascript:alert(1)"},
                        action=f"{show}/materiale")
    assert refused.status_code == 422
    assert "Adressen må begynne med https://" in refused.text

    with app.app_context():
        [link] = the_gathering(gathering_id).links
        link_id = link.id
    removed = organiser_client.post(f"{show}/materiale/{link_id}/fjern",
                                    data={"csrf_token": button_token(organiser_client.get(show).text)})
    assert removed.status_code == 303
    assert "Opptak og materiale" not in client.get("/samlinger/holdt").text
    with app.app_context():
        assert audit_actions(gathering_id) == ["add_material", "remove_material"]


# --- times the clocks skip or repeat (Europe/Oslo, 2030: 31 March and 27 October) -----------------


def gathering_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Gathering))


def test_a_time_the_clocks_skip_is_stored_only_once_confirmed(app, organiser_client):
    new = "/arrangor/samlinger/ny"
    spring = gathering_form(start_date="2030-03-31", start_time="02:30", end_time="04:00",
                            deadline_date="2030-03-29")
    asked = post_page(organiser_client, new, spring)
    assert asked.status_code == 422
    warning = ("Kl. 02.30 finnes ikke søndag 31. mars 2030: da stilles klokka fram fra 02.00 til "
               "03.00. Bekrefter du, blir tidspunktet lagret som kl. 03.30.")
    assert f"Starter kl.: {warning}" in text(asked.text)  # in the error summary, and beside it
    assert '<a href="#start_time_gap">' in asked.text
    assert re.search(r'<input type="checkbox" id="start_time_gap" name="start_time_gap" '
                     r'value="2030-03-31T02:30" aria-describedby="start_time_gap-message" '
                     r'aria-invalid="true">', asked.text)
    assert '<label for="start_time_gap">Ja, lagre kl. 03.30</label>' in asked.text
    for typed in ('value="02:30"', 'value="04:00"', 'value="2030-03-31"', 'value="Ole Bull Scene"',
                  'value="Frokostmøte om strømbrudd"'):
        assert typed in asked.text, typed  # nothing typed is lost
    with app.app_context():
        assert gathering_count() == 0

    # A confirmation counts for the time it was given for only.
    other = post_page(organiser_client, new, {**spring, "start_time": "02:45",
                                              "start_time_gap": "2030-03-31T02:30"})
    assert other.status_code == 422 and "lagret som kl. 03.45" in text(other.text)
    with app.app_context():
        assert gathering_count() == 0

    confirmed = post_page(organiser_client, new, {**spring, "start_time_gap": "2030-03-31T02:30"})
    assert confirmed.status_code == 303
    with app.app_context():
        [gathering] = db.session.scalars(sa.select(Gathering)).all()
        assert gathering.starts_at == datetime(2030, 3, 31, 1, 30, tzinfo=UTC)  # 03.30 summer time
        assert gathering.ends_at == datetime(2030, 3, 31, 2, 0, tzinfo=UTC)


def test_a_time_the_clocks_repeat_is_asked_and_stored_as_chosen(app, organiser_client, client):
    new = "/arrangor/samlinger/ny"
    autumn = gathering_form(start_date="2030-10-27", start_time="02:30", end_time="04:00",
                            deadline_date="2030-10-20")
    asked = post_page(organiser_client, new, autumn)
    assert asked.status_code == 422
    page = text(asked.text)
    assert ("Starter kl.: Kl. 02.30 finnes to ganger søndag 27. oktober 2030. "
            "Velg sommertid eller normaltid.") in page  # the summary entry …
    assert '<a href="#start_time_occurrence-0">' in asked.text  # … leads to the first choice
    [fieldset] = re.findall(r"<fieldset class=\"radios[^>]*>.*?</fieldset>", asked.text, re.S)
    assert re.search(r"<legend>Starter kl.: Kl. 02.30 finnes to ganger søndag 27. oktober 2030. "
                     r"Hvilken mener du\?</legend>", fieldset)
    assert ("Da stilles klokka tilbake fra 03.00 til 02.00, så tiden fra 02.00 til 03.00 kommer to "
            "ganger.") in text(fieldset)
    assert re.findall(r'<input id="(start_time_occurrence-\d)" name="start_time_occurrence" '
                      r'type="radio" value="(\w+)">', fieldset) == [
        ("start_time_occurrence-0", "first"), ("start_time_occurrence-1", "second")]
    assert "02.30 sommertid (UTC+2), den første" in text(fieldset)
    assert "02.30 normaltid (UTC+1), den andre, én time senere" in text(fieldset)
    assert 'value="02:30"' in asked.text and 'value="2030-10-27"' in asked.text
    with app.app_context():
        assert gathering_count() == 0

    first = post_page(organiser_client, new, {**autumn, "title": "Den første",
                                              "start_time_occurrence": "first"})
    second = post_page(organiser_client, new, {**autumn, "title": "Den andre",
                                               "start_time_occurrence": "second"})
    assert (first.status_code, second.status_code) == (303, 303)
    with app.app_context():
        starts = dict(db.session.execute(sa.select(Gathering.title, Gathering.starts_at)).all())
        assert starts == {"Den første": datetime(2030, 10, 27, 0, 30, tzinfo=UTC),
                          "Den andre": datetime(2030, 10, 27, 1, 30, tzinfo=UTC)}
        second_id = db.session.scalar(sa.select(Gathering.id).where(Gathering.title == "Den andre"))

    # Editing it shows the choice made; saving again keeps the instant.
    edit = f"/arrangor/samlinger/{second_id}/endre"
    shown = organiser_client.get(edit)
    assert shown.status_code == 200
    assert '<input checked id="start_time_occurrence-1" name="start_time_occurrence" type="radio" ' \
           'value="second">' in shown.text
    assert 'class="error-summary"' not in shown.text
    assert 'value="02:30"' in shown.text
    saved = post_page(organiser_client, edit, {**autumn, "title": "Den andre",
                                               "start_time_occurrence": "second"})
    assert saved.status_code == 303
    with app.app_context():
        gathering = the_gathering(second_id)
        assert gathering.starts_at == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
        gathering.status = GatheringStatus.PUBLISHED
        slug = gathering.slug
        db.session.commit()

    # Its calendar file carries the second 02.30 (01.30 UTC), read by two parsers.
    data = client.get(f"/samlinger/{slug}.ics").data
    [event] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
    vevent = vobject.readOne(data.decode()).vevent
    assert vevent.dtstart.value.astimezone(UTC) == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)


def test_the_end_and_the_deadline_are_asked_about_too(app, organiser_client):
    new = "/arrangor/samlinger/ny"
    form = gathering_form(start_date="2030-10-27", start_time="01:00", end_time="02:30",
                          deadline_date="2030-03-31", deadline_time="02:15")
    asked = post_page(organiser_client, new, form)
    assert asked.status_code == 422
    assert '<a href="#end_time_occurrence-0">' in asked.text
    assert '<a href="#deadline_time_gap">' in asked.text
    assert "start_time_occurrence" not in asked.text and "start_time_gap" not in asked.text
    assert "Påmeldingsfrist, klokkeslett (valgfritt): Kl. 02.15 finnes ikke søndag 31. mars 2030" \
           in text(asked.text)
    with app.app_context():
        assert gathering_count() == 0
    answered = post_page(organiser_client, new, {**form, "end_time_occurrence": "second",
                                                 "deadline_time_gap": "2030-03-31T02:15"})
    assert answered.status_code == 303
    with app.app_context():
        [gathering] = db.session.scalars(sa.select(Gathering)).all()
        assert gathering.starts_at == datetime(2030, 10, 26, 23, 0, tzinfo=UTC)
        assert gathering.ends_at == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
        assert gathering.registration_deadline == datetime(2030, 3, 31, 1, 15, tzinfo=UTC)


def test_a_published_gathering_is_asked_about_its_deadline_only(app, organiser_client,
                                                               make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, days=2000)  # after October 2030
    edit = f"/arrangor/samlinger/{gathering_id}/endre"
    form = gathering_form(deadline_date="2030-10-27", deadline_time="02:30")
    asked = post_page(organiser_client, edit, form)
    assert asked.status_code == 422 and '<a href="#deadline_time_occurrence-0">' in asked.text
    assert post_page(organiser_client, edit, {**form, "deadline_time_occurrence": "second"}
                     ).status_code == 303
    with app.app_context():
        assert the_gathering(gathering_id).registration_deadline == datetime(
            2030, 10, 27, 1, 30, tzinfo=UTC)
