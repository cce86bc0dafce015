"""How instants and amounts read to a person: Norwegian dates in the configured zone."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_datetime, format_time
from flask import Flask, current_app

from .clock import local_zone, to_local

DEFAULT_LOCALE = "nb"


def _zone():
    return local_zone(current_app.config["KLYNGE_TIMEZONE"])


def local(instant: datetime) -> datetime:
    """The instant as wall-clock time in the configured zone."""
    return to_local(instant, _zone())


def long_date(instant: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """E.g. "fredag 23. februar 2018"."""
    return format_date(local(instant), "EEEE d. MMMM y", locale=locale)


def clock_time(instant: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """E.g. "08.00" (Norwegian writes a full stop between hours and minutes)."""
    return format_time(local(instant), "HH.mm", locale=locale)


def when(start: datetime, end: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """E.g. "fredag 23. februar 2018 kl. 08.00–10.00"."""
    same_day = local(start).date() == local(end).date()
    if same_day:
        return f"{long_date(start, locale)} kl. {clock_time(start, locale)}–{clock_time(end, locale)}"
    return (f"{long_date(start, locale)} kl. {clock_time(start, locale)} – "
            f"{long_date(end, locale)} kl. {clock_time(end, locale)}")


def short_datetime(instant: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """E.g. "23.02.2018 08.00"."""
    return format_datetime(local(instant), "dd.MM.y HH.mm", locale=locale)


def iso_local(instant: datetime) -> str:
    """ISO 8601 with the local offset, for <time datetime> and JSON-LD."""
    return local(instant).isoformat(timespec="minutes")


def init_app(app: Flask) -> None:
    """Register the formatters as Jinja filters."""
    app.add_template_filter(long_date)
    app.add_template_filter(clock_time)
    app.add_template_filter(short_datetime)
    app.add_template_filter(iso_local)
    app.add_template_global(when)
