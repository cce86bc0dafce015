"""The feed's builder (pure: events in, bytes out): refresh hints, stable DTSTAMPs, and an
event that is a notice rather than a confirmed or cancelled appointment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from klynge_rsvp.ics import PRODID, CalendarEvent, build_calendar, build_feed

OSLO = ZoneInfo("Europe/Oslo")
CHANGED = datetime(2026, 2, 1, 10, 11, 12, 345678, tzinfo=UTC)


def event(uid: str = "g1@klynge.example", **changes) -> CalendarEvent:
    start = datetime(2026, 3, 12, 8, 0, tzinfo=OSLO)
    made = CalendarEvent(
        uid=uid, summary="Frokostmøte", description="Om beredskap.", location="Ole Bull Scene",
        start=start, end=start + timedelta(hours=2), status="CONFIRMED", sequence=2,
        organizer_email="klynge@klynge.example", organizer_name="Klynge Vest",
        url="https://klynge.example/g/1", last_modified=CHANGED)
    return replace(made, **changes)


def test_the_feed_asks_to_be_fetched_again_hourly():
    data = build_feed([event()], name="Samlinger", refresh_interval=timedelta(hours=1))
    lines = data.split(b"\r\n")
    assert lines[:2] == [b"BEGIN:VCALENDAR", b"VERSION:2.0"] and PRODID.encode() in data
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert b"X-PUBLISHED-TTL:PT1H" in lines
    # Calendar properties, before the first component.
    assert lines.index(b"REFRESH-INTERVAL;VALUE=DURATION:PT1H") < lines.index(b"BEGIN:VTIMEZONE")
    cal = icalendar.Calendar.from_ical(data)
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert vobject.readOne(data.decode()).contents["x-published-ttl"][0].value == "PT1H"
    assert b"REFRESH-INTERVAL" not in build_feed([event()], name="Samlinger")
    with pytest.raises(ValueError, match="positive"):
        build_feed([event()], name="Samlinger", refresh_interval=timedelta(0))


def test_each_dtstamp_is_when_the_event_last_changed_so_the_bytes_are_stable():
    events = [event(), event("g2@klynge.example", last_modified=CHANGED + timedelta(days=3))]
    data = build_feed(events, name="Samlinger", dtstamp=datetime(2030, 1, 1, tzinfo=UTC))
    assert data == build_feed(events, name="Samlinger")  # no clock inside: same data, same bytes
    read = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}
    assert read["g1@klynge.example"].decoded("DTSTAMP") == CHANGED.replace(microsecond=0)
    assert read["g2@klynge.example"].decoded("DTSTAMP") == datetime(2026, 2, 4, 10, 11, 12,
                                                                    tzinfo=UTC)
    assert read["g1@klynge.example"].decoded("LAST-MODIFIED") == CHANGED.replace(microsecond=0)
    assert b"DTSTAMP:20260201T101112Z" in data and b"LAST-MODIFIED:20260201T101112Z" in data
    # Without a last change, the caller's dtstamp; with neither, no feed.
    assert b"DTSTAMP:20300101T000000Z" in build_feed(
        [event(last_modified=None)], name="x", dtstamp=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="last_modified"):
        build_feed([event(last_modified=None)], name="x")


def test_a_notice_has_no_status_and_leaves_the_time_free():
    notice = event(status=None, transparent=True, summary="Utsatt: Frokostmøte")
    for data in (build_feed([notice, event("g2@klynge.example")], name="x"),
                 build_calendar(notice, method="PUBLISH", dtstamp=CHANGED)):
        read = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}
        assert "STATUS" not in read["g1@klynge.example"]
        assert read["g1@klynge.example"]["TRANSP"] == "TRANSPARENT"
        by_uid = {e.uid.value: e for e in vobject.readOne(data.decode()).vevent_list}
        assert "status" not in by_uid["g1@klynge.example"].contents
        assert by_uid["g1@klynge.example"].transp.value == "TRANSPARENT"
        if "g2@klynge.example" in read:  # an ordinary event next to it is untouched
            assert (read["g2@klynge.example"]["STATUS"], read["g2@klynge.example"]["TRANSP"]) \
                == ("CONFIRMED", "OPAQUE")
    with pytest.raises(ValueError, match="STATUS CANCELLED"):
        build_calendar(notice, method="CANCEL", dtstamp=CHANGED)
