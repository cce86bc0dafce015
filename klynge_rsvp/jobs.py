"""Periodic work the worker does besides sending mail: reminders, reading calendar replies,
forgetting old personal data, scrubbing the last mail to people who erased their data. Each
job runs at most once per its interval per process; the jobs themselves are idempotent, so
several workers running them is harmless."""

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
    from .privacy import purge_personal_data

    report = purge_personal_data(now=utcnow())
    db.session.commit()
    if report:
        log.info("retention: %s", report.summary())


def _scrub_erased_mail() -> None:
    from .clock import utcnow
    from .extensions import db
    from .privacy import RECENT_MAIL, scrub_delivered_mail

    scrubbed = scrub_delivered_mail(now=utcnow(), within=RECENT_MAIL)
    db.session.commit()
    if scrubbed:
        log.info("erasure: %d messages to erased people scrubbed once sent", scrubbed)


def registered_jobs() -> list[Job]:
    """The periodic jobs, in the order they run."""
    from . import reminders, reply_fetcher  # reply_fetcher imports Job from here

    return [
        Job("reminders", 300, reminders.run_reminders),
        Job("reconfirm-reminders", 300, reminders.run_reconfirm_reminders),
        Job("purge-personal-data", 24 * 3600, _purge_personal_data),
        # The last mail to a person who erased their registration, scrubbed soon after it went.
        Job("erased-mail", 60, _scrub_erased_mail),
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
