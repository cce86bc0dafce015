"""Participation modes (issue 16): in person, online or hybrid; seats and waiting lists per
mode; the meeting link only for confirmed online participants, as they receive it."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from email import message_from_bytes, policy

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import gatherings, participation, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    AttendanceMode,
    Gathering,
    GatheringMode,
    OutboxMessage,
    Registration,
    RegistrationStatus,
)
from tests.conftest import NOW, person, registration_request
from tests.lifecycle_helpers import organiser, queued
from tests.mail_checks import check_raw
from tests.test_api import checked

LINK = "https://meet.example.no/j/4242?pwd=hemmelig"
NEW_LINK = "https://meet.example.no/j/9999?pwd=ny"
IN_PERSON, ONLINE = AttendanceMode.IN_PERSON, AttendanceMode.ONLINE


@pytest.fixture
def hybrid(ctx, make_gathering):
    """Two seats in the room, one online."""
    return make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=1,
                          meeting_url=LINK, meeting_details="Møte-ID: 4242\nPassord: hemmelig")


def register(gathering, n, mode=None, **overrides) -> Registration:
    [outcome] = rsvp.register(gathering, registration_request(n, person=person(n, mode=mode),
                                                             **overrides), now=NOW)
    return outcome.registration


def mail_to(registration, kind) -> bytes:
    [row] = [row for row in queued(kind=kind) if row.registration_id == registration.id]
    assert check_raw(row.message) == []
    return row.message


def bodies(raw: bytes) -> tuple[str, str]:
    message = message_from_bytes(raw, policy=policy.default)
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def calendar_of(raw: bytes):
    """The VEVENT as icalendar and vobject read it (asserted to agree on the meeting's parts)."""
    message = message_from_bytes(raw, policy=policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    [event] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    vevent = vobject.readOne(data.decode()).vevent
    assert str(event["LOCATION"]) == vevent.location.value
    assert str(event.get("URL")) == vevent.url.value
    assert int(event["SEQUENCE"]) == int(vevent.sequence.value)
    return event, data


# --- seats per mode ---------------------------------------------------------------------------


def test_each_mode_has_its_own_seats_and_waiting_list(hybrid):
    room = [register(hybrid, n, "in_person") for n in (1, 2, 3)]
    online = [register(hybrid, n, "online") for n in (4, 5)]
    assert [r.status for r in room] == [RegistrationStatus.CONFIRMED] * 2 + [RegistrationStatus.WAITING]
    assert [r.status for r in online] == [RegistrationStatus.CONFIRMED, RegistrationStatus.WAITING]
    assert [r.mode for r in online] == [ONLINE, ONLINE]
    # each list counts from 1
    assert rsvp.waiting_position(room[2]) == 1 and rsvp.waiting_position(online[1]) == 1
    assert participation.seats_left_by_mode(hybrid) == {IN_PERSON: 0, ONLINE: 0}
    assert rsvp.seats_left(hybrid) == 0


def test_a_freed_online_seat_goes_to_the_online_list_not_the_room(hybrid):
    register(hybrid, 1, "in_person")
    register(hybrid, 2, "in_person")
    waiting_room = register(hybrid, 3, "in_person")  # waiting first, but for the room
    online = register(hybrid, 4, "online")
    waiting_online = register(hybrid, 5, "online")
    promoted = rsvp.cancel(online, now=NOW)
    assert promoted == [waiting_online]
    assert waiting_online.status == RegistrationStatus.CONFIRMED
    assert waiting_room.status == RegistrationStatus.WAITING


def test_a_hybrid_gathering_without_online_capacity_has_unlimited_online_seats(ctx, make_gathering):
    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=1)
    people = [register(gathering, n, "online") for n in range(1, 5)]
    assert {r.status for r in people} == {RegistrationStatus.CONFIRMED}
    assert register(gathering, 9, "in_person").status == RegistrationStatus.CONFIRMED
    assert register(gathering, 10, "in_person").status == RegistrationStatus.WAITING
    assert rsvp.seats_left(gathering) is None


def test_a_hybrid_gathering_asks_each_person_and_changes_nothing_without_an_answer(hybrid):
    db.session.commit()
    with pytest.raises(DomainError, match="salen eller digitalt"):
        rsvp.register(hybrid, registration_request(1, colleagues=[person(2)]), now=NOW)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_a_colleague_may_attend_otherwise_than_the_person_who_registers(hybrid):
    outcomes = rsvp.register(hybrid, registration_request(
        1, person=person(1, mode="in_person"), colleagues=[person(2, mode="online")]), now=NOW)
    assert [o.registration.mode for o in outcomes] == [IN_PERSON, ONLINE]


def test_online_and_in_person_gatherings_set_the_mode_themselves(ctx, make_gathering):
    online = make_gathering(mode=GatheringMode.ONLINE, capacity=1)
    room = make_gathering()
    assert register(online, 1).mode == ONLINE
    assert register(online, 2, "in_person").status == RegistrationStatus.WAITING  # the one list
    assert register(room, 3, "online").mode == IN_PERSON  # a mode it does not have is ignored


def test_an_organiser_registers_someone_online(hybrid):
    by = organiser()
    registration = rsvp.register_on_behalf(
        hybrid, registration_request(7, person=person(7, mode="online")), now=NOW, by=by)
    assert (registration.mode, registration.status) == (ONLINE, RegistrationStatus.CONFIRMED)


def test_the_mode_may_only_go_from_in_person_to_hybrid_once_people_are_registered(ctx,
                                                                                make_gathering):
    by = organiser()
    room = make_gathering(capacity=5)
    register(room, 1)
    db.session.commit()
    with pytest.raises(DomainError, match="fysisk til hybrid"):
        gatherings.update(room, {"mode": GatheringMode.ONLINE}, now=NOW, by=by)
    db.session.rollback()
    gatherings.update(room, {"mode": GatheringMode.HYBRID, "online_capacity": 3}, now=NOW, by=by)
    assert room.mode == GatheringMode.HYBRID
    assert db.session.scalar(sa.select(Registration.mode)) == IN_PERSON


def test_a_copy_takes_the_mode_and_seats_but_not_the_link(hybrid):
    copy = gatherings.copy(hybrid, now=NOW, by=organiser())
    assert (copy.mode, copy.capacity, copy.online_capacity) == (GatheringMode.HYBRID, 2, 1)
    assert (copy.meeting_url, copy.meeting_details) == ("", "")


def test_a_meeting_link_must_be_https(hybrid):
    db.session.commit()
    with pytest.raises(DomainError, match="https://"):
        gatherings.update(hybrid, {"meeting_url": "http://meet.example.no/j/1"}, now=NOW,
                          by=organiser())
    db.session.rollback()
    assert db.session.get(Gathering, hybrid.id).meeting_url == LINK


# --- the link, as people receive it -------------------------------------------------------------


def test_the_link_goes_only_to_confirmed_online_participants(hybrid):
    online = register(hybrid, 1, "online")
    room = register(hybrid, 2, "in_person")
    waiting = register(hybrid, 3, "online")
    text, html = bodies(mail_to(online, "confirmation"))
    assert LINK in text and "Passord: hemmelig" in text
    assert f'href="{LINK}"' in html and "Passord: hemmelig" in html
    event, data = calendar_of(mail_to(online, "confirmation"))
    assert str(event["LOCATION"]) == LINK and str(event["URL"]) == LINK
    assert (b"CONFERENCE;FEATURE=VIDEO,AUDIO;LABEL=Bli med digitalt;VALUE=URI:"
            in data.replace(b"\r\n ", b""))
    assert str(event["CONFERENCE"]) == LINK
    for raw in (mail_to(room, "confirmation"), mail_to(waiting, "waiting_list")):
        assert b"meet.example.no" not in raw
        assert "meet.example.no" not in "".join(bodies(raw))
    room_event, room_data = calendar_of(mail_to(room, "confirmation"))
    assert str(room_event["LOCATION"]).startswith("Ole Bull Scene")
    assert b"CONFERENCE" not in room_data


def test_the_place_line_says_where_each_person_attends(hybrid):
    online = register(hybrid, 1, "online")
    room = register(hybrid, 2, "in_person")
    waiting = register(hybrid, 3, "online")
    for registration, kind in ((online, "confirmation"), (waiting, "waiting_list")):
        text, html = bodies(mail_to(registration, kind))
        assert "Sted: Digitalt (i salen: Ole Bull Scene" in text
        assert "<strong>Digitalt</strong><br>I salen: Ole Bull Scene" in html
    text, html = bodies(mail_to(room, "confirmation"))
    assert "Sted: Ole Bull Scene" in text and "Digitalt" not in text
    assert "Digitalt" not in html


def test_promotion_to_an_online_seat_brings_the_link(hybrid):
    first = register(hybrid, 1, "online")
    second = register(hybrid, 2, "online")
    rsvp.cancel(first, now=NOW)
    text, _html = bodies(mail_to(second, "promotion"))
    assert LINK in text
    event, _data = calendar_of(mail_to(second, "promotion"))
    assert str(event["CONFERENCE"]) == LINK


def test_a_new_link_is_sent_to_online_participants_once(hybrid):
    online = register(hybrid, 1, "online")
    room = register(hybrid, 2, "in_person")
    waiting = register(hybrid, 3, "online")
    before = online.ical_sequence
    by = organiser()
    later = NOW + timedelta(minutes=1)
    gatherings.update(hybrid, {"meeting_url": NEW_LINK}, now=later, by=by)
    gatherings.update(hybrid, {"meeting_url": NEW_LINK}, now=later, by=by)  # a double submit
    [row] = queued(kind="meeting_changed")
    assert row.registration_id == online.id
    text, html = bodies(row.message)
    assert NEW_LINK in text and NEW_LINK in html and LINK not in text
    event, _data = calendar_of(row.message)
    assert int(event["SEQUENCE"]) == before + 1 == online.ical_sequence
    assert str(event["CONFERENCE"]) == NEW_LINK and str(event["LOCATION"]) == NEW_LINK
    assert room.ical_sequence_bump == 0 and waiting.ical_sequence_bump == 0


# --- what the public sees -----------------------------------------------------------------------


def test_json_ld_says_the_mode_and_never_the_link(app, ctx, make_gathering, client):
    online = make_gathering(mode=GatheringMode.ONLINE, meeting_url=LINK, slug="digital")
    hybrid = make_gathering(mode=GatheringMode.HYBRID, meeting_url=LINK, slug="hybrid")
    room = make_gathering(slug="fysisk")
    db.session.commit()
    found = {}
    for gathering in (online, hybrid, room):
        page = client.get(f"/samlinger/{gathering.slug}")
        assert page.status_code == 200 and "meet.example.no" not in page.text
        [script] = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>',
                              page.text, re.S)
        found[gathering.slug] = json.loads(script)
        api = checked(client.get(f"/api/v1/gatherings/{gathering.slug}"))  # against OpenAPI
        assert api.status_code == 200 and "meet.example.no" not in api.text
        assert api.get_json()["eventAttendanceMode"] == found[gathering.slug]["eventAttendanceMode"]
        ics = client.get(f"/samlinger/{gathering.slug}.ics")
        assert b"meet.example.no" not in ics.data
    assert found["digital"]["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    assert found["digital"]["location"]["@type"] == "VirtualLocation"
    assert found["digital"]["location"]["url"] == found["digital"]["url"]  # the page
    assert found["hybrid"]["eventAttendanceMode"] == "https://schema.org/MixedEventAttendanceMode"
    assert [place["@type"] for place in found["hybrid"]["location"]] == ["Place", "VirtualLocation"]
    assert found["hybrid"]["location"][1]["url"].endswith("/samlinger/hybrid")
    assert found["fysisk"]["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    feed = client.get("/kalender.ics")
    assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.data
    assert b"meet.example.no" not in feed.data


def test_the_page_shows_the_mode_and_the_seats_of_each(app, ctx, make_gathering, client):
    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=3,
                               meeting_url=LINK, slug="hybrid", now=utcnow(),
                               starts_at=utcnow() + timedelta(days=5))
    rsvp.register(gathering, registration_request(1, person=person(1, mode="online")),
                  now=utcnow())
    db.session.commit()
    page = client.get("/samlinger/hybrid").text
    assert "Hybrid: i salen eller digitalt" in page
    assert "2 ledige av 2" in page and "2 ledige av 3" in page
    assert 'name="mode"' in page


def test_the_form_asks_the_mode_on_a_hybrid_gathering(app, ctx, make_gathering, client):
    from tests.conftest import csrf_token_of

    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=2, slug="hybrid",
                               now=utcnow(), starts_at=utcnow() + timedelta(days=5))
    db.session.commit()
    form = {"csrf_token": csrf_token_of(client.get("/samlinger/hybrid").text),
            "name": "Kari Nordmann", "email": "kari@example.no", "organisation": "Bergen kommune",
            "sector": "offentlig", "consent": "y", "submit": "Meld meg på"}
    refused = client.post("/samlinger/hybrid", data=form)
    assert refused.status_code == 422
    assert "Velg om du deltar i salen eller digitalt." in refused.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    colleague = {"colleagues-0-name": "Ola Nordmann", "colleagues-0-email": "ola@example.no"}
    refused = client.post("/samlinger/hybrid", data={**form, **colleague, "mode": "online"})
    assert refused.status_code == 422
    assert "Velg om kollegaen deltar i salen eller digitalt." in refused.text
    accepted = client.post("/samlinger/hybrid", data={**form, **colleague, "mode": "online",
                                                       "colleagues-0-mode": "in_person"})
    assert accepted.status_code == 303
    db.session.expire_all()
    assert dict(db.session.execute(sa.select(Registration.email, Registration.mode).where(
        Registration.gathering_id == gathering.id)).all()) == {
        "kari@example.no": ONLINE, "ola@example.no": IN_PERSON}


# --- at once ------------------------------------------------------------------------------------


def test_a_rush_for_two_room_and_two_online_seats_never_overbooks(app, make_gathering):
    with app.app_context():
        gathering_id = make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=2,
                                      meeting_url=LINK, now=utcnow(),
                                      starts_at=utcnow() + timedelta(days=5)).id
        db.session.commit()
    barrier = threading.Barrier(12)
    errors = []

    def job(n):
        with app.app_context():
            try:
                barrier.wait()
                gathering = db.session.get(Gathering, gathering_id)
                rsvp.register(gathering, registration_request(
                    n, person=person(n, mode="online" if n % 2 else "in_person")), now=utcnow())
                db.session.commit()
            except Exception as error:  # collected and asserted on below
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        people = db.session.scalars(sa.select(Registration)).all()
        for mode in (IN_PERSON, ONLINE):
            mine = [r for r in people if r.mode == mode]
            assert [r.status for r in mine].count(RegistrationStatus.CONFIRMED) == 2
            assert sorted(rsvp.waiting_position(r) for r in mine
                          if r.status == RegistrationStatus.WAITING) == [1, 2, 3, 4]
        links = [row for row in db.session.scalars(sa.select(OutboxMessage))
                 if LINK.encode() in row.message.replace(b"=\r\n", b"")
                 or b"meet.example.no" in row.message]
        online_confirmed = {r.id for r in people
                            if r.mode == ONLINE and r.status == RegistrationStatus.CONFIRMED}
        assert {row.registration_id for row in links} == online_confirmed
        assert participation.seats_left_by_mode(gathering) == {IN_PERSON: 0, ONLINE: 0}


# --- switching mode, and the organisers' pages ------------------------------------------------


def test_switching_to_a_free_online_seat_sends_the_link_and_frees_the_room_seat(hybrid):
    moving = register(hybrid, 1, "in_person")
    register(hybrid, 2, "in_person")
    waiting_room = register(hybrid, 3, "in_person")
    before = moving.ical_sequence
    rsvp.switch_mode(moving, ONLINE, now=NOW)
    assert (moving.mode, moving.status) == (ONLINE, RegistrationStatus.CONFIRMED)
    assert waiting_room.status == RegistrationStatus.CONFIRMED  # the room seat went on
    event, _data = calendar_of(mail_to(moving, "mode_changed"))
    assert int(event["SEQUENCE"]) == before + 1 and str(event["LOCATION"]) == LINK
    assert LINK in bodies(mail_to(moving, "mode_changed"))[0]
    rsvp.switch_mode(moving, ONLINE, now=NOW)  # a second click
    assert len(queued(kind="mode_changed")) == 1


def test_a_seat_is_never_given_up_for_a_full_mode(hybrid):
    register(hybrid, 1, "online")
    seated = register(hybrid, 2, "in_person")
    db.session.commit()
    with pytest.raises(DomainError, match="beholder plassen"):
        rsvp.switch_mode(seated, ONLINE, now=NOW)
    db.session.rollback()
    seated = db.session.get(Registration, seated.id)
    assert (seated.mode, seated.status) == (IN_PERSON, RegistrationStatus.CONFIRMED)


def test_someone_waiting_moves_to_the_other_list_or_its_free_seat(hybrid):
    register(hybrid, 1, "online")
    register(hybrid, 2, "in_person")
    register(hybrid, 3, "in_person")
    waiting = register(hybrid, 4, "online")
    rsvp.switch_mode(waiting, IN_PERSON, now=NOW)
    assert (waiting.mode, waiting.status) == (IN_PERSON, RegistrationStatus.WAITING)
    assert rsvp.waiting_position(waiting) == 1
    assert b"meet.example.no" not in queued(kind="waiting_list")[-1].message


def test_the_manage_page_switches_the_mode_with_its_form(app, ctx, make_gathering, client):
    from tests.conftest import csrf_token_of

    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=2,
                               meeting_url=LINK, now=utcnow(),
                               starts_at=utcnow() + timedelta(days=5))
    [outcome] = rsvp.register(gathering, registration_request(
        1, person=person(1, mode="in_person")), now=utcnow())
    token = outcome.registration.token
    db.session.commit()
    url = f"/pamelding/{token}"
    page = client.get(url)
    assert page.status_code == 200 and 'name="mode"' in page.text
    assert "meet.example.no" not in page.text  # in the room: no link
    answer = client.post(url + "/deltakelse", data={"csrf_token": csrf_token_of(page.text),
                                                    "mode": "online"})
    assert answer.status_code == 303
    page = client.get(url)
    assert f'href="{LINK}"' in page.text
    db.session.expire_all()
    assert db.session.get(Registration, outcome.registration.id).mode == ONLINE


def test_the_organisers_list_and_export_show_and_filter_the_mode(app, ctx, make_gathering,
                                                                organiser_client):
    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=5, meeting_url=LINK)
    register(gathering, 1, "online")
    register(gathering, 2, "in_person")
    db.session.commit()
    listed = organiser_client.get(f"/arrangor/samlinger/{gathering.id}/pameldinger?deltakelse=online")
    assert listed.status_code == 200
    assert "Deltaker 1" in listed.text and "Deltaker 2" not in listed.text
    shown = organiser_client.get(f"/arrangor/samlinger/{gathering.id}")
    assert shown.status_code == 200 and "I salen og digitalt" in shown.text
    csv = organiser_client.get(f"/arrangor/samlinger/{gathering.id}/pameldinger.csv").data
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(";Deltakelse")
    assert {line.split(";")[0]: line.split(";")[-1] for line in lines[1:]} == {
        "Deltaker 1": "Digitalt", "Deltaker 2": "I salen"}
    online = db.session.scalar(sa.select(Registration.id).where(Registration.mode == ONLINE))
    one = organiser_client.get(f"/arrangor/pameldinger/{online}").text
    assert re.search(r"<dt>Deltakelse</dt><dd>Digitalt</dd>", one)
    checkin = organiser_client.get(f"/arrangor/samlinger/{gathering.id}/innsjekk")
    assert checkin.status_code == 200
    assert checkin.text.count("Deltar digitalt, ikke i salen") == 1
    attendance = organiser_client.get(f"/arrangor/samlinger/{gathering.id}/deltakerliste")
    assert attendance.status_code == 200 and "(digitalt)" in attendance.text


def test_the_persons_export_says_how_they_attend(hybrid):
    from klynge_rsvp import privacy

    registration = register(hybrid, 1, "online")
    exported = privacy.export(registration)
    assert exported["deltakelse"] == "online"
    privacy.anonymise(registration, now=NOW)  # not personal on its own: kept for the counts
    assert registration.mode == ONLINE


def test_reminders_merged_for_many_give_the_link_to_the_online_ones_only(ctx, make_gathering):
    from klynge_rsvp import reminders

    gathering = make_gathering(mode=GatheringMode.HYBRID, meeting_url=LINK, reminder_days_before=2)
    online = [register(gathering, n, "online") for n in range(1, 5)]  # enough to merge
    room = [register(gathering, n, "in_person") for n in range(5, 9)]
    assert reminders.send_reminders(gathering, now=gathering.starts_at - timedelta(days=1)) == 8
    for registration in online:
        raw = mail_to(registration, "reminder")
        assert LINK in bodies(raw)[0]
        event, _data = calendar_of(raw)
        assert str(event["CONFERENCE"]) == LINK
        assert registration.email in bodies(raw)[0] or registration.name in bodies(raw)[0]
    for registration in room:
        raw = mail_to(registration, "reminder")
        assert b"meet.example.no" not in raw and "meet.example.no" not in "".join(bodies(raw))


def test_the_dashboard_and_the_cards_say_the_mode(app, ctx, make_gathering, organiser_client,
                                                  client):
    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=1, now=utcnow(),
                               starts_at=utcnow() + timedelta(days=5))
    for n, mode in ((1, "online"), (2, "in_person"), (3, "in_person")):
        rsvp.register(gathering, registration_request(n, person=person(n, mode=mode)),
                      now=utcnow())
    db.session.commit()
    overview = organiser_client.get("/arrangor/").text
    assert "Digitalt: 1 med plass, 0 på venteliste" in overview
    assert "I salen: 1 med plass, 1 på venteliste" in overview
    home = client.get("/").text
    assert "Hybrid: i salen eller digitalt" in home
    assert re.search(r"I salen: <span class=\"card__seats--full\">Fullt</span> · Digitalt: "
                     r"ingen grense", home)


@pytest.fixture
def http_config(smtp_config):
    """Served over plain http on 127.0.0.1, many forms from one address."""
    smtp_config.update({"SESSION_COOKIE_SECURE": False,
                        "REGISTRATION_RATE_LIMIT": "1000 per minute"})
    return smtp_config


def test_a_rush_over_http_gives_two_seats_each_way_and_the_link_to_the_online_two(
        http_config, app, smtp_server, make_gathering):
    import urllib.parse
    import urllib.request
    from http.cookiejar import CookieJar

    from klynge_rsvp.mail import delivery
    from tests.live_server import serving

    people = 16
    with app.app_context():
        slug = make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=2,
                              meeting_url=LINK, now=utcnow(),
                              starts_at=utcnow() + timedelta(days=5)).slug
        db.session.commit()
    barrier = threading.Barrier(people)
    statuses: list[int] = []

    def register_over_http(base_url: str, n: int) -> None:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        page = opener.open(f"{base_url}/samlinger/{slug}", timeout=30).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({
            "csrf_token": token, "name": f"Person {n}", "email": f"person{n}@example.no",
            "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y",
            "mode": "online" if n % 2 else "in_person"}).encode()
        barrier.wait()
        with opener.open(f"{base_url}/samlinger/{slug}", data=data, timeout=60) as response:
            statuses.append(response.status)

    with serving(app) as base_url:
        threads = [threading.Thread(target=register_over_http, args=(base_url, n))
                   for n in range(people)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == [200] * people
    with app.app_context():
        while delivery.deliver_due().claimed:
            pass
        found = db.session.scalars(sa.select(Registration)).all()
        for mode in (IN_PERSON, ONLINE):
            mine = [r for r in found if r.mode == mode]
            assert len(mine) == people // 2
            assert [r.status for r in mine].count(RegistrationStatus.CONFIRMED) == 2
        online_seats = {r.email for r in found
                        if r.mode == ONLINE and r.status == RegistrationStatus.CONFIRMED}
    received = smtp_server.handler.parsed()
    assert len(received) == people  # one mail each
    with_link = {m["To"].addresses[0].addr_spec for m in received
                 if LINK in m.get_body(("plain",)).get_content()}
    assert with_link == online_seats


def test_the_organisers_page_counts_seats_in_both_modes(app, ctx, make_gathering,
                                                        organiser_client):
    gathering = make_gathering(mode=GatheringMode.HYBRID, capacity=2, online_capacity=3)
    register(gathering, 1, "online")
    db.session.commit()
    page = organiser_client.get(f"/arrangor/samlinger/{gathering.id}").text
    assert "5 (4 ledige)" in page and "digitale plasser: 3" in page
