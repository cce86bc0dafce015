"""Instants are UTC and timezone-aware everywhere; local wall time exists only at the edges."""

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def local_zone(name: str) -> tzinfo:
    """The configured display zone, e.g. Europe/Oslo."""
    return ZoneInfo(name)


def from_local(wall_time: datetime, zone: tzinfo) -> datetime:
    """Interpret a naive wall-clock time (as typed in a form) in `zone` and return it in UTC.

    A wall time that falls in the spring-forward gap or the autumn overlap is resolved with
    fold=0, i.e. the earlier offset, as zoneinfo does.
    """
    if wall_time.tzinfo is not None:
        raise ValueError("expected a naive wall-clock time")
    return wall_time.replace(tzinfo=zone).astimezone(UTC)


def to_local(instant: datetime, zone: tzinfo) -> datetime:
    """Show an aware instant as wall-clock time in `zone`."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: instants must be timezone-aware")
    return instant.astimezone(zone)
