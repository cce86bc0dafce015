"""Periodic work the worker does besides sending mail: reminders, reading calendar replies,
anonymising old personal data. Each job runs at most once per its interval per process; the
jobs themselves are idempotent, so several workers running them is harmless."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    interval_seconds: float
    run: Callable[[], object]  # called inside an app context; commits its own work
    enabled: Callable[[Flask], bool] = lambda app: True
    last_run: float = field(default=float("-inf"))


def _purge_personal_data() -> None:
    from .clock import utcnow
    from .extensions import db
    from .mailing_list import forget_unconfirmed
    from .privacy import purge_personal_data

    report = purge_personal_data(now=utcnow())
    forgotten = forget_unconfirmed(now=utcnow())
    db.session.commit()
    if report.registrations or report.messages or forgotten:
        log.info("retention: %d registrations anonymised, %d messages deleted, %d unconfirmed "
                 "sign-ups forgotten", report.registrations, report.messages, forgotten)


def registered_jobs() -> list[Job]:
    """The periodic jobs, in the order they run."""
    from . import reminders, reply_fetcher  # reply_fetcher imports Job from here

    return [
        Job("reminders", 300, reminders.run_reminders),
        Job("reconfirm-reminders", 300, reminders.run_reconfirm_reminders),
        Job("purge-personal-data", 24 * 3600, _purge_personal_data),
        reply_fetcher.job(),  # calendar replies, every REPLY_FETCH_SECONDS when configured
    ]


class Scheduler:
    """Runs each due job; one failing job never stops the others or the sender."""

    def __init__(self, app: Flask, jobs: list[Job] | None = None):
        self.app = app
        self.jobs = registered_jobs() if jobs is None else jobs

    def run_due(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if now - job.last_run < job.interval_seconds or not job.enabled(self.app):
                continue
            job.last_run = now
            try:
                with self.app.app_context():
                    job.run()
            except Exception:
                log.exception("periodic job %s failed; it runs again at its next interval",
                              job.name)
