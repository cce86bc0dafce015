"""A gathering's programme: the organiser's pages, the public page and its JSON-LD, the mail
and the calendar invitation's DESCRIPTION (read back by icalendar and vobject)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from klynge_rsvp import programme, reminders
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Gathering, ProgrammeItem
from klynge_rsvp.stored_text import shown
from tests.admin_helpers import audit_actions, button_token, post_page
from tests.conftest import NOW
from tests.mail_checks import check_raw
from tests.pages import text
from tests.test_mail import body, calendar_bytes, deliver, read_icalendar, read_vobject, register

START = datetime(2026, 2, 12, 7, 0, tzinfo=UTC)  # 08.00 in Oslo, two hours
BREAKFAST = programme.ItemDetails(starts_at=START, ends_at=START + timedelta(minutes=15),
                                  title="Frokost")
OPENING = programme.ItemDetails(starts_at=START + timedelta(minutes=15), ends_at=None,
                                title="Innledning fra kommunen",
                                speakers="Kari Nordmann og Ola Nordmann",
                                organisation="Bergen kommune")


def with_programme(make_gathering, **overrides) -> Gathering:
    gathering = make_gathering(starts_at=START, **overrides)
    # Added out of order: the programme is read in order of start time.
    programme.add_item(gathering, OPENING, now=NOW, by=None)
    programme.add_item(gathering, BREAKFAST, now=NOW, by=None)
    db.session.commit()
    return gathering


# --- the services ------------------------------------------------------------------------------


def test_items_are_kept_in_order_of_start_and_audited(app, make_gathering):
    with app.app_context():
        gathering = with_programme(make_gathering)
        assert [item.title for item in gathering.programme] == ["Frokost", "Innledning fra kommunen"]
        entries = (db.session.query(AuditEntry).filter_by(gathering_id=gathering.id)
                   .order_by(AuditEntry.id).all())
        assert [shown(e, "summary") for e in entries if e.action == "add_programme_item"] == [
            "La til «Innledning fra kommunen» i programmet.", "La til «Frokost» i programmet."]


@pytest.mark.parametrize(("starts", "ends"), [
    (timedelta(minutes=-15), None),                      # before the gathering starts
    (timedelta(hours=2), None),                          # when it has ended
    (timedelta(hours=1, minutes=45), timedelta(hours=2, minutes=15)),  # ends after it
    (timedelta(minutes=30), timedelta(minutes=30)),      # ends as it starts
])
def test_an_item_outside_the_gathering_is_refused(app, make_gathering, starts, ends):
    with app.app_context():
        gathering = make_gathering(starts_at=START)
        details = programme.ItemDetails(starts_at=START + starts,
                                        ends_at=START + ends if ends else None, title="Utenfor")
        with pytest.raises(DomainError):
            programme.add_item(gathering, details, now=NOW, by=None)
        db.session.rollback()
        assert db.session.query(ProgrammeItem).count() == 0


def test_text_lines_and_sub_events_are_built_from_the_items(app, make_gathering):
    with app.app_context(), app.test_request_context():
        gathering = with_programme(make_gathering)
        from klynge_rsvp.formatting import clock_time, iso_local
        assert programme.text_lines(gathering.programme, clock_time) == [
            "08.00–08.15 Frokost",
            "08.15 Innledning fra kommunen – Kari Nordmann og Ola Nordmann (Bergen kommune)"]
        [breakfast, opening] = programme.sub_events(gathering.programme, iso_local)
        assert breakfast == {"@type": "Event", "name": "Frokost", "startDate": "2026-02-12T08:00+01:00",
                             "endDate": "2026-02-12T08:15+01:00"}
        assert [p["name"] for p in opening["performer"]] == ["Kari Nordmann", "Ola Nordmann"]
        assert opening["performer"][0]["affiliation"] == {"@type": "Organization",
                                                          "name": "Bergen kommune"}


# --- the public page and its JSON-LD ----------------------------------------------------------


def json_ld(html: str) -> dict:
    [script] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(script)


def test_the_public_page_shows_the_programme_with_times(app, client, make_gathering):
    with app.app_context():
        slug = with_programme(make_gathering, slug="med-program").slug
    page = client.get(f"/samlinger/{slug}").text
    assert '<h2 id="programme-heading">Program</h2>' in page
    assert '<time datetime="2026-02-12T08:15+01:00">08.15</time>' in page
    shown_text = text(page)
    assert shown_text.index("Frokost") < shown_text.index("Innledning fra kommunen")
    assert "Kari Nordmann og Ola Nordmann (Bergen kommune)" in shown_text
    [_breakfast, opening] = json_ld(page)["subEvent"]
    assert opening["name"] == "Innledning fra kommunen"
    assert opening["startDate"] == "2026-02-12T08:15:00+01:00"
    assert opening["performer"][1] == {"@type": "Person", "name": "Ola Nordmann", "affiliation": {
        "@type": "Organization", "name": "Bergen kommune"}}


def test_a_page_without_a_programme_has_no_programme(app, client, make_gathering):
    with app.app_context():
        slug = make_gathering(starts_at=START).slug
        db.session.commit()
    page = client.get(f"/samlinger/{slug}").text
    assert "programme-heading" not in page
    assert "subEvent" not in json_ld(page)


def test_the_ics_download_describes_the_programme(app, client, make_gathering):
    with app.app_context():
        slug = with_programme(make_gathering).slug
    data = client.get(f"/samlinger/{slug}.ics").data
    from tests.test_mail import read_icalendar as read
    _calendar, event = read(data)
    assert "Program:\n08.00–08.15 Frokost\n08.15 Innledning fra kommunen" in str(event["DESCRIPTION"])


# --- the mail ----------------------------------------------------------------------------------


def test_confirmation_carries_the_programme_in_text_html_and_calendar(smtp, make_gathering):
    gathering = with_programme(make_gathering)
    register(gathering, 1)

    [message] = deliver(smtp)

    raw = smtp.handler.messages[-1].original_content
    assert check_raw(raw) == []
    plain = body(message, "plain").replace("\r\n", "\n")
    assert ("Program:\n08.00–08.15 Frokost\n08.15 Innledning fra kommunen – Kari Nordmann og "
            "Ola Nordmann (Bergen kommune)\n") in plain
    html = body(message, "html")
    assert '<th scope="row"' in html and "08.00–08.15</th>" in html
    assert "Kari Nordmann og Ola Nordmann (Bergen kommune)" in html
    expected = ("Program:\n08.00–08.15 Frokost\n08.15 Innledning fra kommunen – Kari Nordmann "
                "og Ola Nordmann (Bergen kommune)")
    _calendar, event = read_icalendar(calendar_bytes(message))
    assert expected in str(event["DESCRIPTION"])
    _calendar, vevent = read_vobject(calendar_bytes(message))
    assert expected in vevent.description.value


def test_the_reminder_carries_the_programme(smtp, make_gathering):
    gathering = with_programme(make_gathering)
    register(gathering, 1)
    deliver(smtp)
    reminders.send_reminders(gathering, now=gathering.starts_at - timedelta(days=2))
    db.session.commit()

    [message] = deliver(smtp)

    assert check_raw(smtp.handler.messages[-1].original_content) == []
    assert "Program:\n08.00–08.15 Frokost\n" in body(message, "plain").replace("\r\n", "\n")
    assert "Innledning fra kommunen" in body(message, "html")
    _calendar, vevent = read_vobject(calendar_bytes(message))
    assert "08.15 Innledning fra kommunen" in vevent.description.value


@pytest.fixture
def smtp(smtp_config, app, smtp_server):
    with app.app_context():
        yield smtp_server
        db.session.rollback()


# --- the organiser's pages ---------------------------------------------------------------------


def item_form(**fields) -> dict:
    data = {"day": "", "starts": "08.15", "ends": "", "title": "Innledning",
            "speakers": "Kari Nordmann", "organisation": "Bergen kommune"}
    data.update(fields)
    return data


@pytest.fixture
def gathering_id(app, make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=START, slug="frokost")
        db.session.commit()
        return gathering.id


def test_an_organiser_adds_changes_and_removes_items(app, organiser_client, client, gathering_id):
    page = f"/arrangor/samlinger/{gathering_id}/program"
    assert f'href="{page}"' in organiser_client.get(f"/arrangor/samlinger/{gathering_id}").text

    added = post_page(organiser_client, page, item_form())
    assert added.status_code == 303 and added.headers["Location"] == page
    assert "«Innledning» er lagt til i programmet." in organiser_client.get(page).text
    with app.app_context():
        [item] = db.session.get(Gathering, gathering_id).programme
        item_id = item.id
        assert item.starts_at == START + timedelta(minutes=15)
        assert (item.speakers, item.organisation, item.ends_at) == (
            "Kari Nordmann", "Bergen kommune", None)

    edit = f"{page}/{item_id}/endre"
    assert 'value="08:15"' in organiser_client.get(edit).text
    changed = post_page(organiser_client, edit, item_form(ends="08.45", title="Velkommen"))
    assert changed.status_code == 303
    assert "08.15 – 08.45 Velkommen" in text(client.get("/samlinger/frokost").text)

    removed = organiser_client.post(f"{page}/{item_id}/fjern",
                                    data={"csrf_token": button_token(organiser_client.get(page).text)})
    assert removed.status_code == 303
    assert "programme-heading" not in client.get("/samlinger/frokost").text
    with app.app_context():
        assert audit_actions(gathering_id)[-3:] == [
            "add_programme_item", "change_programme_item", "remove_programme_item"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"title": ""}, "Skriv en tittel, for eksempel «Innledning»."),
    ({"starts": ""}, "Skriv når punktet starter."),
    ({"starts": "kvart over"}, "Skriv klokkeslettet som tt.mm, for eksempel 08.30."),
    ({"ends": "08.00"}, "Sluttiden må være etter starttiden."),
    ({"starts": "07.45"}, "Punktet må ligge innenfor samlingens tid."),
    ({"title": "x" * 201}, "Teksten kan være høyst 200 tegn."),
    ({"speakers": "Kari\u200b Nordmann"}, None),
])
def test_a_refused_item_says_why_keeps_what_was_typed_and_stores_nothing(
        app, organiser_client, gathering_id, fields, message):
    page = f"/arrangor/samlinger/{gathering_id}/program"
    refused = post_page(organiser_client, page, item_form(organisation="Bergen & Omegn", **fields))
    assert refused.status_code == 422
    assert refused.text.count('id="error-summary"') == 1
    assert "<title>Feil:" in refused.text
    if message:
        assert message in text(refused.text)
    assert 'value="Bergen &amp; Omegn"' in refused.text  # nothing typed is lost
    with app.app_context():
        assert db.session.query(ProgrammeItem).count() == 0


def test_an_item_of_another_gathering_is_not_found(app, organiser_client, make_gathering,
                                                   gathering_id):
    with app.app_context():
        other = with_programme(make_gathering)
        item_id = other.programme[0].id
    page = f"/arrangor/samlinger/{gathering_id}/program"
    assert organiser_client.get(f"{page}/{item_id}/endre").status_code == 404
    token = button_token(organiser_client.get(page).text)
    assert organiser_client.post(f"{page}/{item_id}/fjern",
                                 data={"csrf_token": token}).status_code == 404


def test_the_programme_pages_need_a_logged_in_organiser(client, gathering_id):
    response = client.get(f"/arrangor/samlinger/{gathering_id}/program")
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]


# --- a moved gathering takes its programme along ----------------------------------------------


def test_a_move_keeps_the_items_in_their_place_by_the_wall_clock(app, make_gathering):
    from klynge_rsvp import lifecycle
    with app.app_context(), app.test_request_context():
        gathering = with_programme(make_gathering)
        # From 08.00 in winter time to 09.00 a day in summer time, four months later.
        new_start = datetime(2026, 6, 11, 7, 0, tzinfo=UTC)  # 09.00 in Oslo (CEST)
        lifecycle.move(gathering, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                       venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                       message="", now=NOW, by=None)
        db.session.commit()
        from klynge_rsvp.formatting import clock_time, long_date
        assert programme.text_lines(gathering.programme, clock_time) == [
            "09.00–09.15 Frokost",
            "09.15 Innledning fra kommunen – Kari Nordmann og Ola Nordmann (Bergen kommune)"]
        assert {long_date(item.starts_at) for item in gathering.programme} == {
            "torsdag 11. juni 2026"}


# --- the feed reads every programme at once ---------------------------------------------------


def feed_statements(app, client) -> int:
    from tests.test_query_counts import counting
    with app.app_context(), counting() as statements:
        assert client.get("/kalender.ics").status_code == 200
    return len(statements)


def test_the_feed_reads_the_programmes_in_one_statement(app, client, make_gathering):
    with app.app_context():
        with_programme(make_gathering)
    few = feed_statements(app, client)
    with app.app_context():
        for _ in range(3):
            with_programme(make_gathering)
    assert feed_statements(app, client) == few
    assert client.get("/kalender.ics").data.count(b"Program:") == 4


# --- several days, the clock change, markup ----------------------------------------------------


def test_over_several_days_the_day_is_asked_and_a_skipped_time_refused(app, organiser_client,
                                                                        make_gathering):
    with app.app_context():
        # Saturday 28 March 2026 18.00 to Sunday 12.00 in Oslo: the clocks skip 02.00–03.00.
        starts_at = datetime(2026, 3, 28, 17, 0, tzinfo=UTC)
        gathering_id = make_gathering(starts_at=starts_at, ends_at=starts_at + timedelta(hours=18)).id
        db.session.commit()
    page = f"/arrangor/samlinger/{gathering_id}/program"
    assert 'name="day"' in organiser_client.get(page).text

    skipped = post_page(organiser_client, page, item_form(day="29.03.2026", starts="02.30"))
    assert skipped.status_code == 422
    assert "så 02.30 finnes ikke eller finnes to ganger" in text(skipped.text)

    added = post_page(organiser_client, page, item_form(day="29.03.2026", starts="09.00"))
    assert added.status_code == 303
    with app.app_context():
        [item] = db.session.get(Gathering, gathering_id).programme
        assert item.starts_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09.00 in summer time


def test_markup_in_an_item_is_shown_as_text(app, client, make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=START)
        programme.add_item(gathering, programme.ItemDetails(
            starts_at=START, ends_at=None, title="</script><b>Fet</b>", speakers="A & B"),
            now=NOW, by=None)
        db.session.commit()
        slug = gathering.slug
    page = client.get(f"/samlinger/{slug}").text
    assert "<b>Fet</b>" not in page.split("</head>")[1]
    assert "&lt;/script&gt;&lt;b&gt;Fet&lt;/b&gt;" in page
    assert json_ld(page)["subEvent"][0]["name"] == "</script><b>Fet</b>"
    assert [p["name"] for p in json_ld(page)["subEvent"][0]["performer"]] == ["A", "B"]
