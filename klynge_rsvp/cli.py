"""`flask klynge …` (or `klynge …` when installed): the commands that run and look after the
service."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo
from flask_migrate import upgrade

from . import demo, feedback, organisers, worker
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
    click.echo("The database schema is up to date.")
    if with_demo:
        loaded = demo.load(now=utcnow())
        db.session.commit()
        click.echo("Demo data loaded." if loaded else "The database has data: demo not loaded.")


@klynge.command("worker")
def run_worker():
    """Deliver queued mail until stopped (SIGTERM or Ctrl-C finishes the current message)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    app = current_app._get_current_object()
    click.echo("Worker started: delivering the outbox.")
    worker.run(app, stop)
    click.echo("Worker stopped.")


@klynge.command("purge-personal-data")
def purge_personal_data():
    """Forget personal data past its retention period: exactly what the worker does daily."""
    click.echo(worker.purge_personal_data().summary())


@klynge.command("send-feedback-surveys")
def send_feedback_surveys():
    """Queue the survey for everyone checked in at a gathering that has ended: what the worker
    does every hour. Nobody gets it twice, however often this runs."""
    click.echo(f"Feedback surveys queued: {feedback.send_surveys(utcnow())}.")


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
    if organisers.needs_second_factor(organiser, current_app.config["KLYNGE_REQUIRE_TOTP"]):
        click.echo("At the first login (/arrangor/innlogging) the account sets up its second "
                   "factor: an authenticator app on a phone, and ten recovery codes.")


@klynge.command("reset-totp")
@click.argument("email")
def reset_totp(email):
    """Remove an organiser's second factor (a lost phone and recovery codes) and lift any lock
    on their login; they set up a new one at the next login. For when no other administrator
    can do it on the Arrangører page."""
    from . import history, login_throttle, two_factor

    organiser = organisers.find_by_email(email)
    if organiser is None:
        raise click.ClickException(f"No organiser account has the address {email}.")
    had = two_factor.reset(organiser)
    login_throttle.forget(login_throttle.key(organiser.email), now=utcnow())
    history.audit("organiser_totp_reset", by=None, now=utcnow(),
                  summary=f"{organiser.email} (flask klynge reset-totp)")
    db.session.commit()
    click.echo(f"Second factor of {organiser.email} reset; they set up a new one at the next "
               "login." if had else f"{organiser.email} had no second factor; any lock lifted.")


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


def console(create_app, refusals: tuple[type[Exception], ...] = ()) -> click.Group:
    """The `klynge` command: the commands above, with the app built by `create_app` from the
    environment (no --app, no FLASK_APP), and Flask-Migrate's `db` for looking at the schema.
    When the app refuses to start (one of `refusals`), the command says why, without a
    traceback."""
    from flask_migrate.cli import db as migrations

    def build_app():
        try:
            return create_app()
        except refusals as error:
            raise click.ClickException(str(error)) from error

    return click.Group("klynge", help=klynge.help, commands={**klynge.commands, "db": migrations},
                       context_settings={"obj": ScriptInfo(create_app=build_app,
                                                           set_debug_flag=False,
                                                           load_dotenv_defaults=False)})
