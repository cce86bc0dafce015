"""Calendars for everyone: the subscribable feed, "add to Google/Outlook" links, the .ics
download, and the schema.org Event on each gathering page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import calendars, lifecycle
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, GatheringStatus
from tests.admin_helpers import button_token
from tests.lifecycle_helpers import register
from tests.pages import csrf_token, text

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
    # How often to fetch it again: RFC 7986 (with its required VALUE=DURATION) and the older
    # X-PUBLISHED-TTL that Apple Calendar and Outlook read.
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in data

    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "PUBLISH"
    assert cal["X-WR-CALNAME"] == "Beredskapsklyngen: samlinger"
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert story["draft"][0] not in events
    seen = {name: (events[uid].get("STATUS"), str(events[uid]["TRANSP"]), int(events[uid]["SEQUENCE"]),
                   str(events[uid]["SUMMARY"]))
            for name, (uid, _) in story.items() if name != "draft"}
    assert seen == {
        "planned": ("CONFIRMED", "OPAQUE", 0, f"{TITLE} planned"),
        "moved": ("CONFIRMED", "OPAQUE", 1, f"{TITLE} moved"),
        "postponed": (None, "TRANSPARENT", 1, f"Utsatt: {TITLE} postponed"),
        "rescheduled": ("CONFIRMED", "OPAQUE", 0, f"{TITLE} rescheduled"),
        "cancelled": ("CANCELLED", "OPAQUE", 1, f"Avlyst: {TITLE} cancelled"),
    }
    assert story["rescheduled"][0].endswith("-r2@rsvp.test")
    assert events[story["moved"][0]].decoded("DTSTART").astimezone(UTC) == soon(20)
    assert "Bergen rådhus" in str(events[story["moved"][0]]["LOCATION"])

    vcal = vobject.readOne(data.decode("utf-8"))
    assert vcal.contents["refresh-interval"][0].value == "PT1H"
    assert vcal.contents["refresh-interval"][0].params == {"VALUE": ["DURATION"]}
    by_uid = {e.uid.value: e for e in vcal.vevent_list}
    assert set(by_uid) == set(events)
    for uid, event in events.items():
        assert getattr(by_uid[uid], "status", None) is None if "STATUS" not in event else (
            by_uid[uid].status.value == event["STATUS"])
        assert by_uid[uid].transp.value == event["TRANSP"]
        assert by_uid[uid].dtstart.value.astimezone(UTC) == event.decoded("DTSTART").astimezone(UTC)


def test_each_dtstamp_is_the_gatherings_last_change(story, app, client):
    cal = icalendar.Calendar.from_ical(client.get("/kalender.ics").data)
    with app.app_context():
        changed = {g.ical_uid: g.updated_at.replace(microsecond=0)
                   for g in db.session.scalars(sa.select(Gathering))}
    for event in cal.walk("VEVENT"):
        uid = str(event["UID"])
        assert event.decoded("DTSTAMP") == changed[uid], uid
        assert event.decoded("LAST-MODIFIED") == changed[uid], uid


def test_the_front_page_offers_the_feed_as_webcal(story, client):
    page = client.get("/").text
    assert 'href="webcal://rsvp.test/kalender.ics"' in page
    assert "https://rsvp.test/kalender.ics" in page


def test_a_postponed_gathering_is_a_free_notice_on_the_date_it_would_have_been(story, client):
    """Neither cancelled (Apple would strike it through, Google ignore it) nor confirmed: no
    STATUS, the time left free, and words saying a new date will come, in the feed and in the
    gathering's own .ics download alike, read by icalendar and vobject."""
    uid, sequence = story["postponed"]
    downloaded = client.get("/samlinger/postponed.ics")
    assert downloaded.status_code == 200
    feed = client.get("/kalender.ics").data
    for data in (downloaded.data, feed):
        [event] = [e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")
                   if str(e["UID"]) == uid]
        assert "STATUS" not in event and "ATTENDEE" not in event
        assert str(event["TRANSP"]) == "TRANSPARENT"
        assert int(event["SEQUENCE"]) == sequence == 1
        assert str(event["SUMMARY"]) == f"Utsatt: {TITLE} postponed"
        assert event.decoded("DTSTART").astimezone(UTC) == soon(12)  # the date it would have been
        description = str(event["DESCRIPTION"])
        assert description.startswith("Samlingen er utsatt på ubestemt tid. Den blir ikke holdt "
                                      "denne dagen. Ny dato kommer og blir kunngjort på "
                                      "https://rsvp.test/samlinger/postponed")
        assert description.endswith("\n\nBeskjed fra arrangørene: Syk.")

        [vevent] = [e for e in vobject.readOne(data.decode()).vevent_list if e.uid.value == uid]
        assert "status" not in vevent.contents
        assert vevent.transp.value == "TRANSPARENT"
        assert vevent.summary.value == f"Utsatt: {TITLE} postponed"
        assert "https://rsvp.test/samlinger/postponed" in vevent.description.value

    # Once it has a new date, it is in the feed under its new UID only: the notice has gone.
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(feed).walk("VEVENT")}
    new_uid = story["rescheduled"][0]
    assert new_uid in uids and calendars.uid_base(new_uid) not in uids


# --- conditional requests ---------------------------------------------------------------------


def feed_etag(client, **headers):
    response = client.get("/kalender.ics", headers=headers)
    assert response.status_code == 200
    return response.headers["ETag"]


def test_an_unchanged_feed_has_the_same_validators_and_answers_304(story, client):
    first, second = client.get("/kalender.ics"), client.get("/kalender.ics")
    assert first.data == second.data  # DTSTAMP is no longer the time of the request
    assert first.headers["ETag"] == second.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{40}"', first.headers["ETag"])  # strong: the same bytes
    assert first.headers["Last-Modified"] == second.headers["Last-Modified"]
    assert {"Accept-Language", "Cookie"} <= set(first.vary)

    for headers in ({"If-None-Match": first.headers["ETag"]},
                    {"If-None-Match": f'"other", {first.headers["ETag"]}'},
                    {"If-Modified-Since": first.headers["Last-Modified"]}):
        again = client.get("/kalender.ics", headers=headers)
        assert again.status_code == 304, headers
        assert again.data == b""
        assert again.headers["ETag"] == first.headers["ETag"]
        assert {"Accept-Language", "Cookie"} <= set(again.vary)
        assert "max-age" in again.headers["Cache-Control"]
    assert client.get("/kalender.ics", headers={"If-None-Match": '"stale"'}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3).
    assert client.get("/kalender.ics", headers={
        "If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]}
    ).status_code == 200


def test_the_feeds_name_in_another_language_is_another_version(story, client):
    norwegian = client.get("/kalender.ics", headers={"Accept-Language": "nb"})
    english = client.get("/kalender.ics", headers={"Accept-Language": "en"})
    assert b"X-WR-CALNAME:Beredskapsklyngen: gatherings" in english.data
    assert norwegian.headers["ETag"] != english.headers["ETag"]
    assert client.get("/kalender.ics", headers={"Accept-Language": "en",
                                                "If-None-Match": norwegian.headers["ETag"]}
                      ).status_code == 200


def test_every_change_an_organiser_makes_gives_a_new_version(story, app, client, organiser_client,
                                                            make_gathering):
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Gathering.slug, Gathering.id)).all())
    admin = "/arrangor/samlinger"
    versions = [feed_etag(client)]

    def changed() -> str:
        """The feed has a new ETag: the old one gets 200 and the body; the new one 304."""
        response = client.get("/kalender.ics", headers={"If-None-Match": versions[-1]})
        assert response.status_code == 200 and response.data
        assert response.headers["ETag"] not in versions
        versions.append(response.headers["ETag"])
        assert client.get("/kalender.ics", headers={"If-None-Match": versions[-1]}
                          ).status_code == 304
        return response.data.decode()

    # Edit a published gathering's title.
    edit = f"{admin}/{ids['planned']}/endre"
    page = organiser_client.get(edit)
    form = {"csrf_token": csrf_token(page.text), "title": "Nytt navn på frokostmøtet",
            "format": "Frokostmøte", "description": "Om beredskap.", "host": "Bergen kommune"}
    assert organiser_client.post(edit, data=form).status_code == 303
    assert "SUMMARY:Nytt navn på frokostmøtet" in changed()

    # Publish the draft: it joins the feed.
    show = f"{admin}/{ids['draft']}"
    token = button_token(organiser_client.get(show).text)
    assert organiser_client.post(f"{show}/publiser", data={"csrf_token": token}).status_code == 303
    assert story["draft"][0] in changed()

    # Postpone one: it becomes the notice.
    postpone = f"{admin}/{ids['moved']}/utsett"
    token = csrf_token(organiser_client.get(postpone).text)
    assert organiser_client.post(postpone, data={"csrf_token": token, "message": "Syk.",
                                                 "confirm": "1"}).status_code == 303
    assert f"Utsatt: {TITLE} moved" in changed()

    # An edit that changes nothing keeps the version.
    page = organiser_client.get(edit)
    assert organiser_client.post(edit, data={**form, "csrf_token": csrf_token(page.text)}
                                 ).status_code == 303
    assert client.get("/kalender.ics", headers={"If-None-Match": versions[-1]}).status_code == 304


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
