"""Invisible characters and direction controls are refused where a person or an organiser types a
name, a job title, an organisation or a gathering's one-line texts: with a clear message in the
page's language, everything typed kept in the form, and nothing stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from klynge_rsvp.extensions import db
from klynge_rsvp.fields import invisible_characters
from klynge_rsvp.models import Gathering, Organisation, Organiser, OutboxMessage, Registration, Subscriber
from tests.admin_helpers import post_page, upcoming_gathering
from tests.pages import form_data, post_form

# Each shows nothing, or turns the text around: "Kari\u202enosnah" reads "Karihanson" backwards.
REFUSED = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING", "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING", "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE", "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE", "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE", "\u200e": "LEFT-TO-RIGHT MARK", "\u200f": "RIGHT-TO-LEFT MARK",
    "\u061c": "ARABIC LETTER MARK", "\u200b": "ZERO WIDTH SPACE", "\ufeff": "BYTE ORDER MARK",
    "\u2060": "WORD JOINER", "\u00ad": "SOFT HYPHEN", "\u2062": "INVISIBLE TIMES",
    "\u180e": "MONGOLIAN VOWEL SEPARATOR", "\U000e0041": "TAG LATIN CAPITAL LETTER A",
    "\ue000": "PRIVATE USE", "\u3164": "HANGUL FILLER", "\u2800": "BRAILLE PATTERN BLANK",
}

SPOOF = "Kari \u202enosnaH"  # shows as "Kari Hanson"


@pytest.mark.parametrize("character", REFUSED, ids=REFUSED.values())
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_each_invisible_character_is_found_wherever_it_is(character, where):
    text = {"start": f"{character}Kari", "middle": f"Ka{character}ri", "end": f"Kari{character}"}[where]
    assert invisible_characters(text) == [f"U+{ord(character):04X}"]


@pytest.mark.parametrize("text", [
    "Kari Nordmann", "Øystein Ærø-Ås", "Ingrid O'Brien", "José Ñúñez", "Σωκράτης", "Дмитрий",
    "محمد رضا", "می\u200cخواهم",          # Persian writes with ZWNJ between letters
    "क्\u200dष", "ক্\u200dষ",                # Indic conjuncts with ZWJ
    "👩\u200d🚒 brannkonstabel",           # an emoji ZWJ sequence (woman firefighter)
    "👩🏽\u200d🚒", "❤\ufe0f\u200d🔥",        # with a skin tone, with a variation selector
    "Beredskap ☕ 2026", "Kari\u00a0Nordmann", "日本語",
])
def test_what_names_are_written_with_is_kept(text):
    assert invisible_characters(text) == []


@pytest.mark.parametrize("text", [
    "Ka\u200dri",               # a joiner between Latin letters only hides something
    "\u200dKari", "Kari\u200c",
    "👩\u200dKari",             # not an emoji on both sides
    "م\u200cK",                 # two scripts
])
def test_joiners_outside_the_writing_that_needs_them_are_refused(text):
    assert invisible_characters(text) != []


# --- the forms --------------------------------------------------------------------------------


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def slug(app, make_gathering):
    with app.app_context():
        gathering_id = upcoming_gathering(app, make_gathering, slug="frokost")
        return db.session.get(Gathering, gathering_id).slug


@pytest.mark.parametrize("field", ["name", "job_title", "organisation", "colleagues-0-name",
                                   "colleagues-0-job_title"])
@pytest.mark.parametrize("character", ["\u202e", "\u200b", "\u2066"])
def test_public_registration_refuses_them_and_stores_nothing(app, client, slug, field, character):
    value = f"Bergen{character} kommune"
    fields = {"colleagues-0-name": "Ola Nordmann", "colleagues-0-email": "ola@example.no",
              "colleagues-0-job_title": "Rådgiver", field: value}
    response = post_form(client, f"/samlinger/{slug}", **fields)
    assert response.status_code == 422
    assert "Teksten inneholder usynlige tegn eller tegn som snur skriveretningen" in response.text
    assert f"U+{ord(character):04X}" in response.text
    assert f'value="{value}"' in response.text  # what was typed is still there
    with app.app_context():
        assert _count(Registration) == _count(OutboxMessage) == _count(Organisation) == 0


@pytest.mark.parametrize(("language", "message"), [
    ("nb", "Teksten inneholder usynlige tegn eller tegn som snur skriveretningen (U+202E)"),
    ("nn", "Teksten inneheld usynlege teikn eller teikn som snur skriveretninga (U+202E)"),
    ("en", "The text contains invisible characters or characters that reverse the writing "
           "direction (U+202E)"),
])
def test_the_message_is_in_the_visitors_language(client, slug, language, message):
    client.set_cookie("sprak", language)
    response = post_form(client, f"/samlinger/{slug}", name=SPOOF)
    assert response.status_code == 422
    assert message in response.text


def test_a_plain_registration_still_goes_through(app, client, slug):
    response = post_form(client, f"/samlinger/{slug}", name="👩\u200d🚒 Kari Nordmann",
                         organisation="Bergen brannvesen")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(Registration.name)) == "👩\u200d🚒 Kari Nordmann"


def test_mailing_list_refuses_them_in_the_name(app, client):
    from tests.pages import csrf_token

    page = client.get("/nyhetsbrev")
    response = client.post("/nyhetsbrev", data={"csrf_token": csrf_token(page.text),
                                                "email": "kari@example.no", "name": SPOOF})
    assert response.status_code == 422
    assert "snur skriveretningen (U+202E)" in response.text
    with app.app_context():
        assert _count(Subscriber) == _count(OutboxMessage) == 0


@pytest.mark.parametrize("field", ["name", "organisation", "job_title"])
def test_organiser_registering_on_behalf_is_refused_them_too(app, organiser_client, make_gathering,
                                                             field):
    gathering_id = upcoming_gathering(app, make_gathering)
    response = post_page(organiser_client, f"/arrangor/samlinger/{gathering_id}/pameldinger/ny",
                         form_data(**{field: SPOOF}))
    assert response.status_code == 422
    assert "snur skriveretningen (U+202E)" in response.text
    with app.app_context():
        assert _count(Registration) == _count(OutboxMessage) == 0


def test_a_new_organiser_account_name_is_refused_them(app, admin_client):
    response = post_page(admin_client, "/arrangor/arrangorer/ny", {
        "email": "ny@bergen.kommune.no", "name": "Ny\u200b Person", "role": "organiser",
        "password": "et langt nok passord her", "password_again": "et langt nok passord her"})
    assert response.status_code == 422
    assert "(U+200B)" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(Organiser).where(Organiser.email == "ny@bergen.kommune.no")) \
            is None


@pytest.mark.parametrize("field", ["title", "host", "venue_name", "format"])
def test_a_gatherings_one_line_texts_are_refused_them(app, organiser_client, field):
    data = {"title": "Frokostmøte om strømbrudd", "format": "Frokostmøte", "theme": "",
            "description": "", "host": "Bergen kommune", "start_date": "2030-06-11",
            "start_time": "08:00", "end_time": "10:00", "end_date": "", "venue_name": "Ole Bull Scene",
            "venue_address": "Øvre Ole Bulls plass 3", "capacity": "40", "deadline_date": "",
            "deadline_time": "", "reminder_days_before": "2", field: "Bergen\u202e kommune"}
    response = post_page(organiser_client, "/arrangor/samlinger/ny", data)
    assert response.status_code == 422, response.status_code
    assert "(U+202E)" in response.text
    with app.app_context():
        assert _count(Gathering) == 0


@pytest.mark.parametrize("field", ["venue_name", "venue_address"])
def test_moving_a_gathering_refuses_them_in_the_new_place(app, organiser_client, make_gathering,
                                                          field):
    gathering_id = upcoming_gathering(app, make_gathering)
    with app.app_context():
        before = db.session.get(Gathering, gathering_id).venue_name
    data = {"start_date": "2030-06-11", "start_time": "08:00", "end_time": "10:00", "end_date": "",
            "venue_name": "Bergen rådhus", "venue_address": "Rådhusgaten 10", "message": "",
            field: "Bergen\u202e rådhus", "preview": "1"}
    response = post_page(organiser_client, f"/arrangor/samlinger/{gathering_id}/flytt", data)
    assert response.status_code == 422
    assert "(U+202E)" in response.text
    with app.app_context():
        assert db.session.get(Gathering, gathering_id).venue_name == before
        assert _count(OutboxMessage) == 0
