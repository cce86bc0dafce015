"""Instants are UTC and timezone-aware everywhere; local wall time exists only at the edges.

A wall time typed in a form can fall where the zone has no such time (the hour skipped when
summer time begins) or twice (the hour repeated when it ends). `ambiguity` says which, and
what each reading means, so a form can ask instead of guessing. zoneinfo's `fold` (PEP 495)
chooses: fold=0 is the reading with the offset in force before the change, fold=1 after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def local_zone(name: str) -> tzinfo:
    """The configured display zone, e.g. Europe/Oslo."""
    return ZoneInfo(name)


def from_local(wall_time: datetime, zone: tzinfo, *, fold: int | None = None) -> datetime:
    """Interpret a naive wall-clock time (as typed in a form) in `zone` and return it in UTC.

    `fold` (default: the wall time's own, normally 0) picks the reading of a wall time the
    zone skips or repeats: 0 the offset before the change, 1 the one after. So with fold=0 a
    time in the spring gap moves forward (02.30 is read as 03.30) and a time in the autumn
    overlap is its first occurrence; with fold=1 it is the second. See `ambiguity`.
    """
    if wall_time.tzinfo is not None:
        raise ValueError("expected a naive wall-clock time")
    if fold is not None:
        wall_time = wall_time.replace(fold=fold)
    return wall_time.replace(tzinfo=zone).astimezone(UTC)


def to_local(instant: datetime, zone: tzinfo) -> datetime:
    """Show an aware instant as wall-clock time in `zone` (fold=1 for the second of two)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: instants must be timezone-aware")
    return instant.astimezone(zone)


@dataclass(frozen=True)
class Gap:
    """A wall time the zone skips: the clocks jump from `skipped_from` to `skipped_to`."""

    wall: datetime  # naive, as typed
    skipped_from: datetime  # naive wall time the clocks are put forward from, e.g. 02.00
    skipped_to: datetime  # … and to, e.g. 03.00
    becomes: datetime  # naive wall time the typed one is read as (fold=0), e.g. 03.30
    instant: datetime  # that reading, in UTC


@dataclass(frozen=True)
class Overlap:
    """A wall time the zone has twice: the clocks go back from `repeated_to` to `repeated_from`."""

    wall: datetime  # naive, as typed
    repeated_from: datetime  # naive start of the repeated stretch, e.g. 02.00
    repeated_to: datetime  # … and its end, e.g. 03.00
    first: datetime  # the first occurrence (fold=0), in UTC
    second: datetime  # the second (fold=1), in UTC
    first_offset: timedelta  # UTC offset of the first, e.g. +2 h (summer time)
    second_offset: timedelta
    first_is_dst: bool  # whether the first occurrence is in daylight saving (summer) time
    second_is_dst: bool


def ambiguity(wall_time: datetime, zone: tzinfo) -> Gap | Overlap | None:
    """Whether the naive `wall_time` is skipped (Gap) or repeated (Overlap) in `zone`, else None."""
    if wall_time.tzinfo is not None:
        raise ValueError("expected a naive wall-clock time")
    first = wall_time.replace(tzinfo=zone, fold=0)
    second = wall_time.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after:
        return None
    change = _change_between(first.astimezone(UTC), second.astimezone(UTC), zone)
    if after > before:  # the clocks go forward: the wall times in between never happen
        instant = first.astimezone(UTC)
        return Gap(wall=wall_time, skipped_from=_naive(change + before),
                   skipped_to=_naive(change + after),
                   becomes=_naive(instant + after), instant=instant)
    return Overlap(wall=wall_time, repeated_from=_naive(change + after),
                   repeated_to=_naive(change + before), first=first.astimezone(UTC),
                   second=second.astimezone(UTC), first_offset=before, second_offset=after,
                   first_is_dst=bool(first.dst()), second_is_dst=bool(second.dst()))


def utc_offset_text(offset: timedelta) -> str:
    """An offset as people write it: "UTC+2", "UTC+5:30", "UTC−3" (with a minus sign)."""
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "\N{MINUS SIGN}"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def _change_between(one: datetime, other: datetime, zone: tzinfo) -> datetime:
    """The first instant (UTC, to the second) with the later offset, between two instants."""
    low, high = sorted((int(one.timestamp()), int(other.timestamp())))
    start = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if datetime.fromtimestamp(middle, zone).utcoffset() == start \
            else (low, middle)
    return datetime.fromtimestamp(high, UTC)


def _naive(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None)
