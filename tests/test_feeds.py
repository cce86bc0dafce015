"""Calendars for everyone: the subscribable feed, "add to Google/Outlook" links, the .ics
download, and the schema.org Event on each gathering page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import vobject

from klynge_rsvp import calendars, lifecycle
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import GatheringStatus
from tests.lifecycle_helpers import register
from tests.pages import text

TITLE = "Frokostmøte om beredskap"


def soon(days: int, hour: int = 7) -> datetime:
    """A whole hour `days` from the real now (UTC)."""
    return (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def story(app, make_gathering):
    """One gathering in each state, made through the real services; returns their slugs."""
    with app.app_context():
        now = utcnow()
        made = {name: make_gathering(now=now, starts_at=soon(days), title=f"{TITLE} {name}",
                                     slug=name)
                for name, days in [("planned", 10), ("moved", 11), ("postponed", 12),
                                   ("rescheduled", 13), ("cancelled", 14)]}
        made["draft"] = make_gathering(now=now, starts_at=soon(15), status=GatheringStatus.DRAFT,
                                       slug="draft")
        lifecycle.move(made["moved"], starts_at=soon(20), ends_at=soon(20, hour=9),
                       venue_name="Bergen rådhus", venue_address="Rådhusgaten 10, 5014 Bergen",
                       message="", now=now, by=None)
        lifecycle.postpone(made["postponed"], message="Syk.", now=now, by=None)
        lifecycle.postpone(made["rescheduled"], message="Syk.", now=now, by=None)
        lifecycle.reschedule(made["rescheduled"], starts_at=soon(30), ends_at=soon(30, hour=9),
                             venue_name="Bergen rådhus", venue_address="", reconfirm_deadline=None,
                             message="", now=now, by=None)
        lifecycle.cancel(made["cancelled"], message="Avlyst.", now=now, by=None)
        db.session.commit()
        return {name: (g.ical_uid, g.ical_sequence) for name, g in made.items()}


# --- the feed ---------------------------------------------------------------------------------


def test_the_feed_shows_every_public_gathering_as_it_now_stands(story, client):
    response = client.get("/kalender.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "max-age" in response.headers["Cache-Control"]
    data = response.data
    assert b"ATTENDEE" not in data and b"RDATE" not in data

    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "PUBLISH"
    assert cal["X-WR-CALNAME"] == "Beredskapsklyngen: samlinger"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert story["draft"][0] not in events
    seen = {name: (events[uid]["STATUS"], int(events[uid]["SEQUENCE"]), str(events[uid]["SUMMARY"]))
            for name, (uid, _) in story.items() if name != "draft"}
    assert seen == {
        "planned": ("CONFIRMED", 0, f"{TITLE} planned"),
        "moved": ("CONFIRMED", 1, f"{TITLE} moved"),
        "postponed": ("CANCELLED", 1, f"Utsatt: {TITLE} postponed"),
        "rescheduled": ("CONFIRMED", 0, f"{TITLE} rescheduled"),
        "cancelled": ("CANCELLED", 1, f"Avlyst: {TITLE} cancelled"),
    }
    assert story["rescheduled"][0].endswith("-r2@rsvp.test")
    assert events[story["moved"][0]].decoded("DTSTART").astimezone(UTC) == soon(20)
    assert "Bergen rådhus" in str(events[story["moved"][0]]["LOCATION"])

    vcal = vobject.readOne(data.decode("utf-8"))
    by_uid = {e.uid.value: e for e in vcal.vevent_list}
    assert set(by_uid) == set(events)
    for uid, event in events.items():
        assert by_uid[uid].status.value == event["STATUS"]
        assert by_uid[uid].dtstart.value.astimezone(UTC) == event.decoded("DTSTART").astimezone(UTC)


def test_the_front_page_offers_the_feed_as_webcal(story, client):
    page = client.get("/").text
    assert 'href="webcal://rsvp.test/kalender.ics"' in page
    assert "https://rsvp.test/kalender.ics" in page


def test_the_ics_download_of_a_postponed_gathering_says_so(story, client):
    data = client.get("/samlinger/postponed.ics").data
    [event] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert (event["STATUS"], str(event["SUMMARY"])) == ("CANCELLED", f"Utsatt: {TITLE} postponed")
    assert "ATTENDEE" not in event


# --- Google and Outlook links -------------------------------------------------------------------


def query(url: str) -> dict[str, str]:
    return {key: value for key, [value] in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(("start", "utc_text", "iso"), [
    (datetime(2026, 2, 12, 7, 0, tzinfo=UTC), "20260212T070000Z/20260212T090000Z",
     ("2026-02-12T07:00:00Z", "2026-02-12T09:00:00Z")),
    (datetime(2026, 6, 11, 6, 30, tzinfo=UTC), "20260611T063000Z/20260611T083000Z",
     ("2026-06-11T06:30:00Z", "2026-06-11T08:30:00Z")),
], ids=["winter", "summer"])
def test_google_and_outlook_links_carry_utc_times_and_the_details(ctx, make_gathering, start,
                                                                  utc_text, iso):
    gathering = make_gathering(starts_at=start, title="Beredskap & samvirke: «øvelse»")
    event = calendars.public_event(gathering)

    google = calendars.google_calendar_url(event)
    assert google.startswith("https://calendar.google.com/calendar/render?")
    params = query(google)
    assert params["action"] == "TEMPLATE"
    assert params["text"] == "Beredskap & samvirke: «øvelse»"
    assert params["dates"] == utc_text
    assert params["location"] == "Ole Bull Scene, Øvre Ole Bulls plass 3, 5012 Bergen"
    assert params["ctz"] == "Europe/Oslo"
    assert f"https://rsvp.test/samlinger/{gathering.slug}" in params["details"]

    outlook = calendars.outlook_calendar_url(event)
    assert outlook.startswith("https://outlook.office.com/calendar/0/deeplink/compose?")
    params = query(outlook)
    assert (params["startdt"], params["enddt"]) == iso
    assert params["subject"] == "Beredskap & samvirke: «øvelse»"
    assert params["path"] == "/calendar/action/compose" and params["rru"] == "addevent"
    assert params["location"] == "Ole Bull Scene, Øvre Ole Bulls plass 3, 5012 Bergen"
    for url in (google, outlook):
        assert "+" not in urlsplit(url).query  # spaces as %20: Outlook shows a + literally
        assert " " not in url


def test_the_links_are_on_the_gathering_and_manage_pages_only_while_it_will_happen(
        story, app, client, make_gathering):
    page = client.get("/samlinger/planned").text
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "https://outlook.office.com/calendar/0/deeplink/compose?" in page
    for name in ("postponed", "cancelled"):
        assert "calendar.google.com" not in client.get(f"/samlinger/{name}").text
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=soon(5))
        [registration] = register(gathering, 1, now=utcnow())
        db.session.commit()
        token = registration.token
    manage = client.get(f"/pamelding/{token}").text
    assert "Legg til i Google Kalender" in manage and "Legg til i Outlook" in manage
    assert "oppdateres kalenderen din av seg selv" in text(manage)


# --- schema.org Event -------------------------------------------------------------------------


def json_ld(html: str) -> dict:
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(block)


def test_each_gathering_page_describes_its_event_and_status(story, client):
    expected = {
        "planned": "https://schema.org/EventScheduled",
        "moved": "https://schema.org/EventRescheduled",
        "postponed": "https://schema.org/EventPostponed",
        "rescheduled": "https://schema.org/EventRescheduled",
        "cancelled": "https://schema.org/EventCancelled",
    }
    found = {}
    for name in expected:
        data = json_ld(client.get(f"/samlinger/{name}").text)
        found[name] = data["eventStatus"]
        assert data["@context"] == "https://schema.org" and data["@type"] == "Event"
        assert data["name"] == f"{TITLE} {name}"
        assert data["url"] == f"https://rsvp.test/samlinger/{name}"
        assert data["organizer"] == {"@type": "Organization", "name": "Bergen kommune",
                                     "url": "https://rsvp.test/"}
        assert data["location"]["@type"] == "Place"
        assert data["location"]["address"]["@type"] == "PostalAddress"
        assert ("previousStartDate" in data) == (name in {"moved", "postponed", "rescheduled"})
    assert found == expected

    moved = json_ld(client.get("/samlinger/moved").text)
    assert datetime.fromisoformat(moved["startDate"]) == soon(20)
    assert datetime.fromisoformat(moved["previousStartDate"]) == soon(11)
    assert moved["location"] == {"@type": "Place", "name": "Bergen rådhus", "address": {
        "@type": "PostalAddress", "addressCountry": "NO", "streetAddress": "Rådhusgaten 10",
        "postalCode": "5014", "addressLocality": "Bergen"}}
    postponed = json_ld(client.get("/samlinger/postponed").text)
    assert postponed["previousStartDate"] == postponed["startDate"]
    assert datetime.fromisoformat(postponed["startDate"]).utcoffset() in (
        timedelta(hours=1), timedelta(hours=2))  # Oslo wall time with its offset


def test_json_ld_is_safe_against_markup_in_the_title(app, client, make_gathering):
    title = '</script><script>alert("x")</script><!-- & \u2028'
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=soon(5), title=title)
        db.session.commit()
        slug = gathering.slug
    page = client.get(f"/samlinger/{slug}").text
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert json.loads(block)["name"] == title
    assert "<" not in block and ">" not in block and "&" not in block
    assert "<script>alert" not in page
