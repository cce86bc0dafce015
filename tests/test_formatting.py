"""Dates and times as people read them, in each language, across daylight-saving changes."""

from datetime import UTC, date, datetime, time

import pytest
from flask_babel import force_locale

from klynge_rsvp.formatting import clock_time, long_date, short_datetime, wall_clock, wall_date, when


@pytest.mark.parametrize(("language", "expected"), [
    ("nb", "fredag 23. februar 2018 kl. 08.00–10.00"),
    ("nn", "fredag 23. februar 2018 kl. 08.00–10.00"),
    ("en", "Friday 23 February 2018, 08:00–10:00"),
])
def test_when_in_each_language(ctx, language, expected):
    start = datetime(2018, 2, 23, 7, 0, tzinfo=UTC)  # 08.00 in Oslo, winter
    end = datetime(2018, 2, 23, 9, 0, tzinfo=UTC)
    with force_locale(language):
        assert when(start, end) == expected


def test_summer_time_and_the_changes(ctx):
    with force_locale("nb"):
        assert clock_time(datetime(2019, 6, 13, 6, 0, tzinfo=UTC)) == "08.00"  # CEST
        # 29 March 2026: 01:59 UTC is 03.59 after the spring change.
        assert clock_time(datetime(2026, 3, 29, 1, 59, tzinfo=UTC)) == "03.59"
        assert clock_time(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == "01.59"
        # 25 October 2026: 00:30 and 01:30 UTC are both 02.30 local, an hour apart.
        assert clock_time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "02.30"
        assert clock_time(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "02.30"
        assert long_date(datetime(2019, 12, 5, 10, 30, tzinfo=UTC)) == "torsdag 5. desember 2019"
        assert short_datetime(datetime(2019, 12, 5, 10, 30, tzinfo=UTC)) == "05.12.2019 11.30"


def test_over_midnight(ctx):
    start = datetime(2026, 5, 5, 20, 0, tzinfo=UTC)
    end = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    with force_locale("nb"):
        assert when(start, end) == ("tirsdag 5. mai 2026 kl. 22.00 – "
                                    "onsdag 6. mai 2026 kl. 10.00")


def test_naive_datetimes_are_refused(ctx):
    with pytest.raises(ValueError, match="naive"):
        long_date(datetime(2026, 1, 1, 8, 0))


@pytest.mark.parametrize(("language", "day", "clock"), [
    ("nb", "søndag 29. mars 2026", "02.30"),
    ("nn", "søndag 29. mars 2026", "02.30"),
    ("en", "Sunday 29 March 2026", "02:30"),
])
def test_a_typed_wall_time_that_no_instant_has(ctx, language, day, clock):
    # 02.30 on 29 March 2026 never happens in Oslo, yet the form must be able to name it.
    with force_locale(language):
        assert wall_date(date(2026, 3, 29)) == day
        assert wall_clock(time(2, 30)) == clock
        assert wall_clock(datetime(2026, 3, 29, 2, 30)) == clock
