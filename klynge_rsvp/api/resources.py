"""What the public API says about a gathering (pure: data in, JSON-ready dict out).

A gathering is its schema.org Event, exactly as the page's JSON-LD gives it (feeds.event_data,
calendars.event_json_ld), with what a program needs beside it: its address in the API, the
status as a word, the seats (schema.org's maximum/remainingAttendeeCapacity), the
registration deadline and whether registration is open, and links to the page and its .ics
file. Never anything about the people registered.
"""

from __future__ import annotations

from datetime import UTC, datetime


def _utc(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat(timespec="seconds")


def gathering_resource(event: dict, *, slug: str, status: str, capacity: int | None,
                       seats_left: int | None, deadline: datetime | None, open_now: bool,
                       links: dict[str, str]) -> dict:
    """`event` (the schema.org Event of the page) with the API's own fields added.

    `seats_left` None: no limit on seats. `open_now`: registration is accepted now (on the
    waiting list when full). `links`: "self", "page" and "ics" as absolute URLs.
    """
    resource = dict(event)
    resource["identifier"] = slug
    if capacity is not None:
        resource["maximumAttendeeCapacity"] = capacity
        resource["remainingAttendeeCapacity"] = seats_left
    resource["status"] = status
    resource["registration"] = {
        "open": open_now,
        "deadline": _utc(deadline),
        "full": seats_left == 0,
    }
    resource["links"] = dict(links)
    return resource
