"""Wall time and instants: the times a zone skips or has twice (pure; no app)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from klynge_rsvp.clock import Gap, Overlap, ambiguity, from_local, to_local, utc_offset_text

OSLO = ZoneInfo("Europe/Oslo")


def test_the_spring_gap_says_what_a_skipped_time_becomes():
    found = ambiguity(datetime(2026, 3, 29, 2, 30), OSLO)
    assert found == Gap(wall=datetime(2026, 3, 29, 2, 30), skipped_from=datetime(2026, 3, 29, 2, 0),
                        skipped_to=datetime(2026, 3, 29, 3, 0), becomes=datetime(2026, 3, 29, 3, 30),
                        instant=datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    # What from_local stores without being told otherwise is what the gap says it becomes.
    assert from_local(datetime(2026, 3, 29, 2, 30), OSLO) == found.instant


def test_the_autumn_overlap_gives_both_instants():
    found = ambiguity(datetime(2026, 10, 25, 2, 30), OSLO)
    assert isinstance(found, Overlap)
    assert (found.repeated_from, found.repeated_to) == (datetime(2026, 10, 25, 2, 0),
                                                        datetime(2026, 10, 25, 3, 0))
    assert (found.first, found.second) == (datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                                           datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert (found.first_offset, found.second_offset) == (timedelta(hours=2), timedelta(hours=1))
    assert (found.first_is_dst, found.second_is_dst) == (True, False)
    wall = datetime(2026, 10, 25, 2, 30)
    assert from_local(wall, OSLO) == found.first
    assert from_local(wall, OSLO, fold=1) == found.second
    # And back: the second instant reads as the same wall time, marked as the second (fold=1).
    assert (to_local(found.second, OSLO).replace(tzinfo=None), to_local(found.second, OSLO).fold) \
        == (wall, 1)
    assert to_local(found.first, OSLO).fold == 0


@pytest.mark.parametrize(("wall", "kind"), [
    (datetime(2026, 3, 29, 1, 59), None),
    (datetime(2026, 3, 29, 2, 0), Gap),
    (datetime(2026, 3, 29, 2, 59), Gap),
    (datetime(2026, 3, 29, 3, 0), None),
    (datetime(2026, 10, 25, 1, 59), None),
    (datetime(2026, 10, 25, 2, 0), Overlap),
    (datetime(2026, 10, 25, 2, 59), Overlap),
    (datetime(2026, 10, 25, 3, 0), None),
    (datetime(2026, 6, 11, 2, 30), None),
    (datetime(2026, 1, 13, 2, 30), None),
])
def test_the_edges_of_the_changes(wall, kind):
    found = ambiguity(wall, OSLO)
    assert (type(found) if found else None) is kind


def test_other_zones_and_other_steps():
    new_york = ZoneInfo("America/New_York")  # 8 March 2026: 02.00 → 03.00
    assert ambiguity(datetime(2026, 3, 8, 2, 15), new_york).instant == datetime(
        2026, 3, 8, 7, 15, tzinfo=UTC)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # half an hour back on 5 April 2026 at 02.00
    found = ambiguity(datetime(2026, 4, 5, 1, 45), lord_howe)
    assert (found.repeated_from, found.repeated_to) == (datetime(2026, 4, 5, 1, 30),
                                                        datetime(2026, 4, 5, 2, 0))
    assert found.second - found.first == timedelta(minutes=30)
    assert ambiguity(datetime(2026, 3, 29, 2, 30), UTC) is None


def test_offsets_as_people_write_them():
    assert utc_offset_text(timedelta(hours=2)) == "UTC+2"
    assert utc_offset_text(timedelta(hours=10, minutes=30)) == "UTC+10:30"
    assert utc_offset_text(timedelta(hours=-3, minutes=-30)) == "UTC\N{MINUS SIGN}3:30"
    assert utc_offset_text(timedelta(0)) == "UTC+0"


def test_aware_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        ambiguity(datetime(2026, 3, 29, 2, 30, tzinfo=UTC), OSLO)
