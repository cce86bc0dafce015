"""How instants read to a person: dates and times in the configured zone, in their language."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from flask import Flask, current_app

from .clock import local_zone, to_local
from .i18n import current_language

# Per language: the long date, the clock, and the word before a clock time.
# Norwegian writes "fredag 23. februar 2018 kl. 08.00"; English "Friday 23 February 2018, 08:00".
_STYLES = {
    "nb": ("EEEE d. MMMM y", "HH.mm", " kl. ", "dd.MM.y HH.mm"),
    "nn": ("EEEE d. MMMM y", "HH.mm", " kl. ", "dd.MM.y HH.mm"),
    "en": ("EEEE d MMMM y", "HH:mm", ", ", "d MMM y HH:mm"),
}


def _style(locale: str | None):
    language = locale or current_language()
    return language, _STYLES.get(language, _STYLES["nb"])


@lru_cache(maxsize=16)
def _babel_locale(language: str) -> Locale:
    # Parsed once: given a string, Babel looks its locale data up again on every call (a
    # 500-row list of registrations spent a quarter of its time there).
    return Locale.parse(language)


def _zone():
    return local_zone(current_app.config["KLYNGE_TIMEZONE"])


def local(instant: datetime) -> datetime:
    """The instant as wall-clock time in the configured zone."""
    return to_local(instant, _zone())


def long_date(instant: datetime, locale: str | None = None) -> str:
    """E.g. "fredag 23. februar 2018"."""
    language, (date_pattern, *_rest) = _style(locale)
    return format_date(local(instant), date_pattern, locale=_babel_locale(language))


def clock_time(instant: datetime, locale: str | None = None) -> str:
    """E.g. "08.00" (Norwegian writes a full stop between hours and minutes)."""
    language, (_date, time_pattern, *_rest) = _style(locale)
    return format_time(local(instant), time_pattern, locale=_babel_locale(language))


def wall_date(day: date, locale: str | None = None) -> str:
    """A calendar date as typed, not an instant: e.g. "søndag 29. mars 2026"."""
    language, (date_pattern, *_rest) = _style(locale)
    return format_date(day, date_pattern, locale=_babel_locale(language))


def wall_clock(clock: time | datetime, locale: str | None = None) -> str:
    """A wall-clock time as typed, not an instant (it may not exist): e.g. "02.30"."""
    language, (_date, time_pattern, *_rest) = _style(locale)
    if isinstance(clock, datetime):
        clock = clock.time()
    return format_time(clock, time_pattern, locale=_babel_locale(language))


def when(start: datetime, end: datetime, locale: str | None = None) -> str:
    """E.g. "fredag 23. februar 2018 kl. 08.00–10.00"."""
    language, (_date, _time, before_clock, _short) = _style(locale)
    if local(start).date() == local(end).date():
        return (f"{long_date(start, language)}{before_clock}{clock_time(start, language)}"
                f"–{clock_time(end, language)}")
    return (f"{long_date(start, language)}{before_clock}{clock_time(start, language)} – "
            f"{long_date(end, language)}{before_clock}{clock_time(end, language)}")


def short_datetime(instant: datetime, locale: str | None = None) -> str:
    """E.g. "23.02.2018 08.00"."""
    language, (*_rest, short_pattern) = _style(locale)
    return format_datetime(local(instant), short_pattern, locale=_babel_locale(language))


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
