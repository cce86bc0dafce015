"""The worker: delivers the outbox and, between passes, runs the periodic jobs.

`flask klynge worker` runs it in a process of its own; with KLYNGE_SENDER_THREAD the app
factory runs it on a thread of the web process (the embedded default). Only those two import
this module. The jobs (reminders, calendar replies, the retention purge, scrubbing the last mail
to erased people) are plain functions of their own modules, which know nothing of the worker:
the job list is made here, so no import cycle can form through it.

Each job runs at most once per its interval per process; the jobs themselves are idempotent,
so several workers running them is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app

from . import (
    feedback,
    figures,
    privacy,
    reminders,
    reply_fetcher,
    seat_rule_changes,
    statistics,
    webhooks,
)
from .clock import local_zone, utcnow
from .extensions import db
from .mail import delivery, wakeup
from .webhooks import delivery as webhook_delivery

log = logging.getLogger(__name__)


def run(app: Flask, stop: threading.Event) -> None:
    """Deliver the outbox until `stop` is set; wakes at once when new mail is committed.

    Between passes it runs the periodic jobs (reminders, calendar replies, data retention); the
    webhooks and the stored figures run on threads of their own.
    """
    poll, gather = app.config["OUTBOX_POLL_SECONDS"], app.config["OUTBOX_GATHER_SECONDS"]
    scheduler = Scheduler(app)
    listener = wakeup.Listener(app)
    webhook_delivery.start_thread(app, stop)  # webhooks on a thread of their own (slow endpoints)
    start_figures_thread(app, stop)  # the stored figures too: they take seconds with a long history
    try:
        while not stop.is_set():
            listener.mark()
            scheduler.run_due()
            try:
                with app.app_context():
                    report = delivery.deliver_due()
                    if report.claimed:
                        log.info("outbox: %d sent, %d retrying, %d failed", len(report.sent),
                                 len(report.retrying), len(report.failed))
            except Exception:
                log.exception("outbox delivery pass failed; trying again shortly")
                report = delivery.DeliveryReport()
            if report.claimed:  # more may be due at once: the rest of a large queue, or a
                continue        # person's next message, held back until this pass sent theirs
            if listener.wait(poll, stop):  # new mail: let what commits next share the pass
                stop.wait(gather)
    finally:
        listener.close()


def start_thread(app: Flask) -> threading.Event:
    """Run the worker in a daemon thread of this process (the embedded default); set the
    event returned to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop), name="outbox-sender", daemon=True)
    thread.start()
    return stop


# --- the periodic jobs -------------------------------------------------------------------------


@dataclass
class Job:
    """A periodic job. `run` is called inside an app context and commits its own work.

    `interval` is in seconds, or the name of the setting that holds them: the job list is made
    before any app exists, so a setting is read from the app the scheduler runs for.
    """

    name: str
    interval: float | str
    run: Callable[[], object]
    enabled: Callable[[Flask], bool] = lambda app: True
    last_run: float = field(default=float("-inf"))

    def seconds(self, app: Flask) -> float:
        return app.config[self.interval] if isinstance(self.interval, str) else self.interval


def registered_jobs() -> list[Job]:
    """The periodic jobs, in the order they run."""
    return [
        Job("reminders", 300, reminders.run_reminders),
        Job("reconfirm-reminders", 300, reminders.run_reconfirm_reminders),
        Job("purge-personal-data", 24 * 3600, purge_personal_data),
        # The survey after a gathering, to those checked in (once each: feedback.py).
        Job("feedback-surveys", 3600, feedback.run_send_surveys),
        # The last mail to a person who erased their registration, scrubbed soon after it went.
        Job("erased-mail", 60, _scrub_erased_mail),
        # Seats a sector hold kept, to the waiting list once the hold ends (issue 16).
        Job("seat-holds", 300, seat_rule_changes.run_open_expired_holds),
        Job("calendar-replies", "REPLY_FETCH_SECONDS", _fetch_replies,
            enabled=reply_fetcher.is_configured),
    ]


def figure_jobs() -> list[Job]:
    """The figures that read the whole history, stored for the pages to read (decision 0038).
    They run on a thread of their own (start_figures_thread): with 100,000 registrations the
    figures of every period take seconds, and mail must not wait for them."""
    return [
        # The overview's reach: distinct people and organisations by sector.
        Job("reach", statistics.REACH_REFRESH_SECONDS, _store_reach),
        # The figures across gatherings (/arrangor/tall), every period.
        Job("figures", figures.REFRESH_SECONDS, _store_figures),
    ]


# How often the figures thread looks for a due job.
FIGURES_TICK_SECONDS = 5


def start_figures_thread(app: Flask, stop: threading.Event) -> threading.Thread:
    """Run figure_jobs() on a daemon thread of this process until `stop` is set."""
    scheduler = Scheduler(app, figure_jobs())

    def loop() -> None:
        while not stop.is_set():
            scheduler.run_due()
            stop.wait(FIGURES_TICK_SECONDS)

    thread = threading.Thread(target=loop, name="figures", daemon=True)
    thread.start()
    return thread


class Scheduler:
    """Runs each due job; one failing job never stops the others or the sender."""

    def __init__(self, app: Flask, jobs: list[Job] | None = None):
        self.app = app
        self.jobs = registered_jobs() if jobs is None else jobs

    def run_due(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if now - job.last_run < job.seconds(self.app) or not job.enabled(self.app):
                continue
            job.last_run = now
            try:
                with self.app.app_context():
                    job.run()
            except Exception:
                log.exception("periodic job %s failed; it runs again at its next interval",
                              job.name)


def purge_personal_data() -> privacy.PurgeReport:
    """Forget personal data past its retention period, and commit: the daily job, and exactly
    what `flask klynge purge-personal-data` runs."""
    report = privacy.purge_personal_data(now=utcnow())
    webhook_deliveries = webhooks.purge_deliveries(now=utcnow())
    db.session.commit()
    if webhook_deliveries:
        log.info("retention: deleted %d old webhook deliveries", webhook_deliveries)
    if report:
        log.info("retention: %s", report.summary())
    return report


def _scrub_erased_mail() -> None:
    scrubbed = privacy.scrub_delivered_mail(now=utcnow(), within=privacy.RECENT_MAIL)
    db.session.commit()
    if scrubbed:
        log.info("erasure: %d messages to erased people scrubbed once sent", scrubbed)


def _store_reach() -> None:
    statistics.store_reach(now=utcnow())
    db.session.commit()


def _store_figures() -> None:
    try:
        figures.store(now=utcnow(), zone=local_zone(current_app.config["KLYNGE_TIMEZONE"]))
        db.session.commit()
    except sa.exc.IntegrityError:  # another worker stored them at the same moment: as fresh
        db.session.rollback()


def _fetch_replies() -> None:
    """One pass over the calendar replies' mailbox (reply_fetcher commits each reply), logged
    when it did anything."""
    report = reply_fetcher.fetch_replies()
    if report.handled or report.failed or report.not_moved:
        log.info("%s", report.summary())
