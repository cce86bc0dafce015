"""`flask klynge …`: the commands that run and look after the service."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from . import demo, sender
from .clock import utcnow
from .extensions import db

klynge = AppGroup("klynge", help="Klynge RSVP: set-up and background work.")


@klynge.command("init")
@click.option("--demo/--no-demo", "with_demo", default=False, help="Load the demo data too.")
def init(with_demo):
    """Bring the database schema up to date (and load demo data into an empty one)."""
    upgrade()
    if with_demo:
        loaded = demo.load(now=utcnow())
        db.session.commit()
        click.echo("Demo data loaded." if loaded else "The database has data: demo not loaded.")


@klynge.command("worker")
def worker():
    """Deliver queued mail until stopped (SIGTERM or Ctrl-C finishes the current message)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    app = current_app._get_current_object()
    click.echo("Worker started: delivering the outbox.")
    sender.run(app, stop)
    click.echo("Worker stopped.")
