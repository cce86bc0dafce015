"""`flask klynge …`: the commands that run and look after the service."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from . import demo, organisers, sender
from .clock import utcnow
from .errors import DomainError
from .extensions import db
from .models import OrganiserRole

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


@klynge.command("purge-personal-data")
def purge_personal_data():
    """Forget personal data past its retention period: exactly what the worker does daily."""
    from .privacy import purge_personal_data as purge

    report = purge(now=utcnow())
    db.session.commit()
    click.echo(report.summary())


@klynge.command("create-organiser")
@click.argument("email")
@click.option("--name", default="", help="The organiser's full name.")
@click.option("--role", type=click.Choice([r.value for r in OrganiserRole]), default=None,
              help="Default: administrator for the first account, organiser after that.")
@click.password_option("--password", prompt="Passord", confirmation_prompt="Gjenta passordet",
                       help="Asked for twice, never echoed (do not pass it on the command line).")
def create_organiser(email, name, role, password):
    """Create an organiser account (the first one is an administrator)."""
    role = OrganiserRole(role) if role else (
        OrganiserRole.ORGANISER if organisers.any_exist() else OrganiserRole.ADMINISTRATOR)
    try:
        organiser = organisers.create(email, password, name=name, role=role, now=utcnow())
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {organiser.role.value} {organiser.email}.")


@klynge.command("fetch-replies")
def fetch_replies():
    """Read calendar replies (Accept/Decline) from the organiser mailbox once and apply them."""
    import imaplib

    from . import reply_fetcher

    try:
        report = reply_fetcher.fetch_replies()
    except (reply_fetcher.FetchError, imaplib.IMAP4.error, OSError) as error:
        raise click.ClickException(f"Could not read the reply mailbox: {error}") from error
    click.echo(report.summary())
