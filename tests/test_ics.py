"""The calendar builder, read back by two independent engines: icalendar and vobject."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from klynge_rsvp import ics
from klynge_rsvp.ics import (
    Attendee,
    CalendarEvent,
    build_calendar,
    build_feed,
    clean_text,
    vtimezone,
)

OSLO = ZoneInfo("Europe/Oslo")
DTSTAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TRICKY_TEXT = (
    'Møte, "vann"; strøm\\radio\nlinje 2 <b>HTML</b> & 🔦 Привет æøå ÆØÅ\ttab'
)
LONG_NORWEGIAN = (
    "Vi møtes på brannstasjonen i Årstad for å øve på beredskap 🚒🔦: ta med vann, "
    "lommelykt, førstehjelpsskrin og ullundertøy. Kjøkkenet serverer rømmegrøt og "
    "spekemat; allergier meldes til Åse Ødegård før fredag. Øvelsen går i all slags vær 🌧️❄️, "
    "så kle deg etter forholdene. Hjertelig velkommen – også nye i nabolaget! 😊 " * 4
)


def gathering(start: datetime, **changes) -> CalendarEvent:
    event = CalendarEvent(
        uid="gathering-17@klynge.example",
        summary="Beredskapsmøte",
        description="Ta med lommelykt.",
        location="Brannstasjonen, Storgata 1",
        start=start,
        end=start + timedelta(hours=2),
        status="CONFIRMED",
        sequence=3,
        organizer_email="klynge@klynge.example",
        organizer_name="Klynge Vest",
        url="https://klynge.example/g/17",
    )
    return replace(event, **changes)


KARI = Attendee(email="kari@example.no", name="Kari Nordmann")


def read_vobject(data: bytes):
    return vobject.readOne(data.decode("utf-8"))


def only_vevent(cal: icalendar.Calendar) -> icalendar.Event:
    [vevent] = cal.walk("VEVENT")
    return vevent


@pytest.mark.parametrize(
    ("local_start", "utc_start"),
    [
        (datetime(2018, 2, 23, 8, 0), datetime(2018, 2, 23, 7, 0, tzinfo=UTC)),  # winter
        (datetime(2019, 6, 13, 8, 0), datetime(2019, 6, 13, 6, 0, tzinfo=UTC)),  # summer
        (datetime(2026, 3, 29, 10, 0), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # spring forward
        (datetime(2026, 10, 25, 10, 0), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),  # fall back
    ],
)
@pytest.mark.parametrize("start_zone", [OSLO, UTC, ZoneInfo("America/New_York")])
def test_request_reads_back_the_same_in_both_engines(local_start, utc_start, start_zone):
    # The caller's datetime may be in any zone; it is written as Oslo wall time.
    event = gathering(local_start.replace(tzinfo=OSLO).astimezone(start_zone))
    data = build_calendar(event, method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)

    assert f"DTSTART;TZID=Europe/Oslo:{local_start:%Y%m%dT%H%M%S}\r\n".encode() in data
    cal = icalendar.Calendar.from_ical(data)
    vevent = only_vevent(cal)
    assert cal["METHOD"] == "REQUEST"
    assert vevent["UID"] == event.uid
    assert vevent["SEQUENCE"] == 3
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SUMMARY"] == "Beredskapsmøte"
    assert vevent.decoded("DTSTART").astimezone(UTC) == utc_start
    assert vevent.decoded("DTEND").astimezone(UTC) == utc_start + timedelta(hours=2)
    assert vevent.decoded("DTSTAMP") == DTSTAMP

    vcal = read_vobject(data)
    assert vcal.method.value == "REQUEST"
    assert vcal.vevent.uid.value == event.uid
    assert int(vcal.vevent.sequence.value) == 3
    assert vcal.vevent.status.value == "CONFIRMED"
    assert vcal.vevent.summary.value == "Beredskapsmøte"
    assert vcal.vevent.dtstart.value.astimezone(UTC) == utc_start
    assert vcal.vevent.dtend.value.astimezone(UTC) == utc_start + timedelta(hours=2)


def test_request_carries_organizer_attendee_and_fixed_properties():
    data = build_calendar(gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)),
                          method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)
    cal = icalendar.Calendar.from_ical(data)
    vevent = only_vevent(cal)
    assert cal["PRODID"] == "-//Klynge RSVP//NONSGML v1//NB"
    assert cal["VERSION"] == "2.0"
    assert cal["CALSCALE"] == "GREGORIAN"
    assert len(cal.walk("VTIMEZONE")) == 1
    assert vevent["TRANSP"] == "OPAQUE"
    assert vevent["URL"] == "https://klynge.example/g/17"
    assert vevent["LOCATION"] == "Brannstasjonen, Storgata 1"
    assert vevent["ORGANIZER"] == "mailto:klynge@klynge.example"
    assert vevent["ORGANIZER"].params["CN"] == "Klynge Vest"
    attendee = vevent["ATTENDEE"]
    assert attendee == "mailto:kari@example.no"
    assert dict(attendee.params) == {"CN": "Kari Nordmann", "ROLE": "REQ-PARTICIPANT",
                                     "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    assert b"DTSTAMP:20260102T030405Z\r\n" in data


def test_dtstamp_in_another_zone_is_written_in_utc_without_microseconds():
    stamp = datetime(2026, 1, 2, 4, 4, 5, 999, tzinfo=OSLO)
    data = build_calendar(gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)),
                          method="REQUEST", dtstamp=stamp, attendee=KARI)
    assert b"DTSTAMP:20260102T030405Z\r\n" in data


def test_second_occurrence_of_the_repeated_autumn_hour_is_written_in_utc():
    # 02:30 happens twice in Oslo on 2026-10-25; a TZID wall time would mean the first one.
    second_0230 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    data = build_calendar(gathering(second_0230), method="REQUEST", dtstamp=DTSTAMP,
                          attendee=KARI)
    assert b"DTSTART:20261025T013000Z\r\n" in data
    assert only_vevent(icalendar.Calendar.from_ical(data)).decoded("DTSTART") == second_0230
    assert read_vobject(data).vevent.dtstart.value == second_0230


def test_cancel_reads_back_in_both_engines():
    event = gathering(datetime(2019, 6, 13, 8, tzinfo=OSLO), status="CANCELLED", sequence=4,
                      summary="Utsatt: Beredskapsmøte")
    data = build_calendar(event, method="CANCEL", dtstamp=DTSTAMP, attendee=KARI)
    vevent = only_vevent(icalendar.Calendar.from_ical(data))
    assert (vevent["STATUS"], vevent["SEQUENCE"]) == ("CANCELLED", 4)
    vcal = read_vobject(data)
    assert (vcal.method.value, vcal.vevent.status.value) == ("CANCEL", "CANCELLED")
    assert vcal.vevent.summary.value == "Utsatt: Beredskapsmøte"


def oslo_observances(timezone: icalendar.Timezone) -> dict[str, dict]:
    return {
        sub.name: {
            "DTSTART": sub.decoded("DTSTART"),
            "RRULE": {key: list(value) for key, value in sub["RRULE"].items()},
            "TZOFFSETFROM": sub.decoded("TZOFFSETFROM"),
            "TZOFFSETTO": sub.decoded("TZOFFSETTO"),
            "TZNAME": sub["TZNAME"],
        }
        for sub in timezone.subcomponents
    }


def test_oslo_vtimezone_is_the_yearly_eu_rule():
    data = build_calendar(gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)),
                          method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)
    assert b"RRULE:" in data
    assert b"RDATE" not in data
    [timezone] = icalendar.Calendar.from_ical(data).walk("VTIMEZONE")
    assert timezone["TZID"] == "Europe/Oslo"
    assert oslo_observances(timezone) == {
        "DAYLIGHT": {
            "DTSTART": datetime(1970, 3, 29, 2, 0),
            "RRULE": {"FREQ": ["YEARLY"], "BYMONTH": [3], "BYDAY": ["-1SU"]},
            "TZOFFSETFROM": timedelta(hours=1),
            "TZOFFSETTO": timedelta(hours=2),
            "TZNAME": "CEST",
        },
        "STANDARD": {
            "DTSTART": datetime(1970, 10, 25, 3, 0),
            "RRULE": {"FREQ": ["YEARLY"], "BYMONTH": [10], "BYDAY": ["-1SU"]},
            "TZOFFSETFROM": timedelta(hours=2),
            "TZOFFSETTO": timedelta(hours=1),
            "TZNAME": "CET",
        },
    }


@pytest.mark.parametrize("tzid", ["Europe/Oslo", "America/New_York", "Australia/Sydney"])
def test_vtimezone_as_read_by_both_engines_agrees_with_zoneinfo(tzid):
    timezone = vtimezone(tzid, range(2018, 2031))
    from_icalendar = timezone.to_tz()
    wrapper = icalendar.Calendar()
    wrapper.add("version", "2.0")
    wrapper.add_component(timezone)
    from_vobject = read_vobject(wrapper.to_ical()).vtimezone.gettzinfo()
    zone = ZoneInfo(tzid)
    # Every hour of 2026 catches a transition at the wrong hour; every few days up to 2030
    # catches a season read wrongly in other years.
    hourly = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n) for n in range(365 * 24)]
    every_few_days = [datetime(2018, 1, 1, 12, tzinfo=UTC) + timedelta(days=n)
                      for n in range(0, 13 * 365, 3)]
    for instant in hourly + every_few_days:
        expected = instant.astimezone(zone).utcoffset()
        assert instant.astimezone(from_icalendar).utcoffset() == expected, instant
        assert instant.astimezone(from_vobject).utcoffset() == expected, instant


@pytest.mark.parametrize(("tzid", "offset", "tzname"),
                         [("UTC", timedelta(0), "UTC"), ("Asia/Tokyo", timedelta(hours=9), "JST")])
def test_zone_without_daylight_saving_is_one_standard_without_rrule(tzid, offset, tzname):
    timezone = vtimezone(tzid, range(2026, 2027))
    [standard] = timezone.subcomponents
    assert standard.name == "STANDARD"
    assert "RRULE" not in standard
    assert standard.decoded("TZOFFSETFROM") == standard.decoded("TZOFFSETTO") == offset
    assert standard["TZNAME"] == tzname


def test_utc_event_is_written_in_utc_without_vtimezone():
    data = build_calendar(gathering(datetime(2026, 5, 1, 12, tzinfo=UTC), timezone="UTC"),
                          method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)
    assert b"DTSTART:20260501T120000Z\r\n" in data
    assert b"VTIMEZONE" not in data
    assert read_vobject(data).vevent.dtstart.value.astimezone(UTC) == datetime(
        2026, 5, 1, 12, tzinfo=UTC)


def test_vtimezone_refuses_a_rule_that_does_not_hold_for_every_year():
    # Israel changes on the Friday before the last Sunday: 4th Friday in 2018, 5th in 2019.
    vtimezone("Asia/Jerusalem", range(2019, 2020))
    with pytest.raises(ValueError, match="2019"):
        vtimezone("Asia/Jerusalem", range(2018, 2020))


def test_lines_are_crlf_folded_at_75_octets_without_splitting_characters():
    event = gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), description=LONG_NORWEGIAN,
                      summary="Øvelse 🚒 " * 12, location="Ærlige Åse Øvrebøs gate 17, 5003 Bergen")
    data = build_calendar(event, method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)
    assert data.endswith(b"\r\n")
    assert b"\r\n" not in data.replace(b"\r\n", b"")
    physical_lines = data.split(b"\r\n")[:-1]
    assert any(line.startswith(b" ") for line in physical_lines)  # folding happened
    for line in physical_lines:
        assert b"\r" not in line and b"\n" not in line
        assert len(line) <= 75, line
        line.decode("utf-8")  # a split multi-byte character raises UnicodeDecodeError
    vevent = only_vevent(icalendar.Calendar.from_ical(data))
    assert vevent["DESCRIPTION"] == LONG_NORWEGIAN
    assert read_vobject(data).vevent.description.value == LONG_NORWEGIAN


def test_tricky_text_round_trips_in_both_engines():
    event = gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), summary=TRICKY_TEXT,
                      description=TRICKY_TEXT, location=TRICKY_TEXT)
    data = build_calendar(event, method="REQUEST", dtstamp=DTSTAMP, attendee=KARI)
    vevent = only_vevent(icalendar.Calendar.from_ical(data))
    vcal = read_vobject(data)
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        assert vevent[name] == TRICKY_TEXT
        assert vcal.vevent.contents[name.lower()][0].value == TRICKY_TEXT


@pytest.mark.parametrize(
    ("name", "common_name"),
    [
        ("Nordmann, Kari", "Nordmann, Kari"),
        ("Kari; Nordmann: leder", "Kari; Nordmann: leder"),
        ('Kari "Kari-Mor" Nordmann', "Kari 'Kari-Mor' Nordmann"),
        ("Ærlig Øystein\r\nÅsen", "Ærlig Øystein Åsen"),
        ("Kari\\Nordmann ^_^", "Kari/Nordmann _"),
    ],
)
def test_common_names_are_quoted_and_double_quotes_replaced(name, common_name):
    event = gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), organizer_name=name)
    data = build_calendar(event, method="REQUEST", dtstamp=DTSTAMP,
                          attendee=Attendee(email="kari@example.no", name=name))
    vevent = only_vevent(icalendar.Calendar.from_ical(data))
    assert vevent["ATTENDEE"].params["CN"] == common_name
    assert vevent["ORGANIZER"].params["CN"] == common_name
    vcal = read_vobject(data)
    assert vcal.vevent.attendee.params["CN"] == [common_name]
    assert vcal.vevent.organizer.params["CN"] == [common_name]
    assert vcal.vevent.attendee.value == "mailto:kari@example.no"


def test_clean_text_normalises_line_breaks_and_strips_controls():
    assert clean_text("a\r\nb\rc\x00d\x1b[0m\x7f\te\nf") == "a\nb\ncd[0m\te\nf"


@pytest.mark.parametrize(
    ("event", "method", "attendee", "stamp"),
    [
        (gathering(datetime(2018, 2, 23, 8)), "REQUEST", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), end=datetime(2018, 2, 23, 10)),
         "REQUEST", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REQUEST", KARI,
         datetime(2026, 1, 2, 3, 4, 5)),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REQUEST", None, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), status="CANCELLED"), "CANCEL", None,
         DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "PUBLISH", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "CANCEL", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), status="TENTATIVE"), "CANCEL", KARI,
         DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REPLY", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), status="DONE"), "REQUEST", KARI,
         DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), sequence=-1), "REQUEST", KARI,
         DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO),
                   end=datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REQUEST", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), timezone="Europe/Atlantis"),
         "REQUEST", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), uid="a\r\nATTENDEE:mailto:x@y"),
         "REQUEST", KARI, DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REQUEST",
         Attendee(email="kari@example.no\r\nX-EVIL:1", name="Kari"), DTSTAMP),
        (gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO)), "REQUEST",
         Attendee(email="kari@example.no", name="Kari", partstat="MAYBE"), DTSTAMP),
    ],
    ids=["naive-start", "naive-end", "naive-dtstamp", "request-without-attendee",
         "cancel-without-attendee", "publish-with-attendee", "cancel-with-confirmed",
         "cancel-with-tentative", "unknown-method", "unknown-status", "negative-sequence",
         "end-not-after-start", "unknown-zone", "control-chars-in-uid",
         "control-chars-in-email", "unknown-partstat"],
)
def test_invalid_input_raises_value_error(event, method, attendee, stamp):
    with pytest.raises(ValueError):
        build_calendar(event, method=method, dtstamp=stamp, attendee=attendee)


def expected_common_name(name: str) -> str:
    # A backslash becomes a slash before anything else, so "\\N" never reads as a line break.
    return clean_text(name.replace("\\", "/")).translate(
        str.maketrans({'"': "'", "^": None, "\n": " ", "\t": " "}))


@settings(max_examples=200, deadline=None)
@given(summary=st.text(), description=st.text(), location=st.text(), name=st.text())
def test_any_text_round_trips_in_both_engines_after_normalisation(summary, description,
                                                                  location, name):
    event = gathering(datetime(2019, 6, 13, 8, tzinfo=OSLO), summary=summary,
                      description=description, location=location)
    data = build_calendar(event, method="REQUEST", dtstamp=DTSTAMP,
                          attendee=Attendee(email="kari@example.no", name=name))
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    vevent = only_vevent(icalendar.Calendar.from_ical(data))
    vcal = read_vobject(data)
    for prop, text in (("SUMMARY", summary), ("DESCRIPTION", description),
                       ("LOCATION", location)):
        # Empty text is left out: libical rejects a property with no value.
        assert vevent.get(prop, "") == clean_text(text)
        read_by_vobject = vcal.vevent.contents.get(prop.lower())
        assert (read_by_vobject[0].value if read_by_vobject else "") == clean_text(text)
    assert vevent["ATTENDEE"].params.get("CN", "") == expected_common_name(name)
    assert vcal.vevent.attendee.params.get("CN", [""]) == [expected_common_name(name)]
    assert vcal.vevent.attendee.value == "mailto:kari@example.no"


def test_feed_holds_every_event_without_attendees():
    events = [
        gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), uid="g1@klynge.example"),
        gathering(datetime(2019, 6, 13, 8, tzinfo=OSLO), uid="g2@klynge.example",
                  status="TENTATIVE", url=None),
        gathering(datetime(2026, 3, 29, 10, tzinfo=OSLO), uid="g3@klynge.example",
                  status="CANCELLED", sequence=5),
        gathering(datetime(2026, 7, 1, 18, tzinfo=UTC), uid="g4@klynge.example",
                  timezone="America/New_York"),
    ]
    data = build_feed(events, dtstamp=DTSTAMP, name="Klynge Vest, samlinger")
    assert b"ATTENDEE" not in data
    assert b"RDATE" not in data
    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "PUBLISH"
    assert cal["X-WR-CALNAME"] == "Klynge Vest, samlinger"
    assert sorted(tz["TZID"] for tz in cal.walk("VTIMEZONE")) == ["America/New_York",
                                                                  "Europe/Oslo"]
    read = {vevent["UID"]: vevent for vevent in cal.walk("VEVENT")}
    assert {uid: vevent["STATUS"] for uid, vevent in read.items()} == {
        "g1@klynge.example": "CONFIRMED", "g2@klynge.example": "TENTATIVE",
        "g3@klynge.example": "CANCELLED", "g4@klynge.example": "CONFIRMED"}
    assert "URL" not in read["g2@klynge.example"]

    vcal = read_vobject(data)
    assert vcal.method.value == "PUBLISH"
    by_uid = {vevent.uid.value: vevent for vevent in vcal.vevent_list}
    for event in events:
        assert by_uid[event.uid].status.value == event.status
        assert by_uid[event.uid].dtstart.value.astimezone(UTC) == event.start.astimezone(UTC)
        assert "attendee" not in by_uid[event.uid].contents


def test_feed_refuses_duplicate_uids():
    event = gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO))
    with pytest.raises(ValueError, match="duplicate UID"):
        build_feed([event, event], dtstamp=DTSTAMP, name="Klynge")


def test_a_typed_backslash_n_is_not_turned_into_a_line_break():
    # icalendar reads the two characters "\\N" as an escaped line break; clean_text keeps them
    # as text (found by the property test above).
    event = gathering(datetime(2026, 2, 12, 8, 0, tzinfo=OSLO), summary="C:\\Nye filer")
    parsed = icalendar.Calendar.from_ical(build_calendar(event, method="PUBLISH",
                                                         dtstamp=DTSTAMP))
    assert str(only_vevent(parsed)["SUMMARY"]) == "C:\\nye filer"



def written_with_components(method: str, events: list[CalendarEvent],
                            attendee: Attendee | None = None, name: str | None = None) -> bytes:
    """The calendar as icalendar writes it with its VTIMEZONEs added as components (how
    build_calendar and build_feed wrote it before they kept each zone's bytes)."""
    vevents = [ics._vevent(event, event.last_modified or DTSTAMP) for event in events]
    if attendee is not None:
        vevents[0].add("attendee", ics._attendee(attendee))
    cal, zones = ics._calendar(method, events, vevents)
    if name is not None:
        cal.add("x-wr-calname", name)
    cal.subcomponents[:0] = [vtimezone(tzid, range(first, last + 1)) for tzid, first, last in zones]
    return cal.to_ical()


FEED = [gathering(datetime(2018, 2, 23, 8, tzinfo=OSLO), uid="a@k"),
        gathering(datetime(2026, 7, 1, 18, tzinfo=UTC), uid="b@k", timezone="America/New_York"),
        gathering(datetime(2027, 3, 1, 18, tzinfo=OSLO), uid="c@k")]


@pytest.mark.parametrize(("written", "expected"), [
    (lambda: build_calendar(gathering(datetime(2026, 10, 25, 10, tzinfo=OSLO)), method="REQUEST",
                            dtstamp=DTSTAMP, attendee=KARI),
     lambda: written_with_components("REQUEST", [gathering(datetime(2026, 10, 25, 10, tzinfo=OSLO))],
                                     KARI)),
    (lambda: build_calendar(gathering(datetime(2026, 12, 31, 23, tzinfo=OSLO),  # two years
                                      summary=LONG_NORWEGIAN), method="REQUEST", dtstamp=DTSTAMP,
                            attendee=KARI),
     lambda: written_with_components("REQUEST", [gathering(datetime(2026, 12, 31, 23, tzinfo=OSLO),
                                                           summary=LONG_NORWEGIAN)], KARI)),
    (lambda: build_calendar(gathering(datetime(2026, 7, 1, 8, tzinfo=UTC), timezone="UTC"),
                            method="REQUEST", dtstamp=DTSTAMP, attendee=KARI),  # no VTIMEZONE
     lambda: written_with_components("REQUEST", [gathering(datetime(2026, 7, 1, 8, tzinfo=UTC),
                                                           timezone="UTC")], KARI)),
    (lambda: build_feed(FEED, dtstamp=DTSTAMP, name="Klynge"),
     lambda: written_with_components("PUBLISH", FEED, name="Klynge")),
])
def test_zones_written_once_give_the_bytes_add_component_gives(written, expected):
    """Each VTIMEZONE is written once per process and put where icalendar writes
    subcomponents (a third of writing an invitation); the calendar must be the one icalendar
    writes with the zones added as components, byte for byte."""
    first, again = written(), written()  # the second from the kept bytes
    assert first == again == expected()
