"""Klynge RSVP: registration and calendar invitations for a preparedness network's gatherings."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from . import config as settings

PACKAGE_DIR = Path(__file__).resolve().parent
# The repository keeps templates/, static/ and migrations/ beside the package; the wheel carries
# them inside it (pyproject.toml, force-include). RESOURCES is whichever holds them here.
PROJECT_ROOT = PACKAGE_DIR.parent
RESOURCES = PACKAGE_DIR if (PACKAGE_DIR / "templates").is_dir() else PROJECT_ROOT


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=settings.instance_path(),
        template_folder=str(RESOURCES / "templates"),
        static_folder=str(RESOURCES / "static"),
    )
    app.config.update(settings.DEFAULTS)
    app.config.update(settings.from_environment(app.instance_path))
    app.config.update(settings.tuning_from_environment())
    if test_config is not None:
        app.config.update(test_config)
    if "SESSION_COOKIE_SECURE" not in (test_config or {}):
        # Served over https: the session cookie never travels in clear text.
        app.config["SESSION_COOKIE_SECURE"] = app.config["KLYNGE_BASE_URL"].startswith("https://")
    _refuse_insecure_secret(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    _start_sender_thread(app)
    return app


class InsecureSecretError(RuntimeError):
    """No SECRET_KEY fit for production: the app refuses to start."""


def _refuse_insecure_secret(app: Flask) -> None:
    if app.debug or app.testing:
        return
    secret = app.config.get("SECRET_KEY")
    if not secret or secret == settings.INSECURE_DEFAULT_SECRET or len(secret) < 16:
        raise InsecureSecretError(
            "SECRET_KEY is missing or the development default. Set SECRET_KEY to a long random "
            'value, e.g. python -c "import secrets; print(secrets.token_hex(32))". In a '
            "checkout, for development: python3 dev.py klynge … (see the README)."
        )


def register_extensions(app: Flask) -> None:
    from . import auth, database, error_pages, form_errors, formatting, i18n, logs, programme, security
    from .extensions import csrf, db, mail, migrate
    from .participation import init_app as participation_filters

    logs.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(RESOURCES / "migrations"), render_as_batch=True,
                     compare_type=True)
    # Nothing is sent through Flask-Mail (mail/delivery.py talks SMTP), but its Message, which
    # notifications/message.py builds the MIME body in, reads the default sender from here.
    mail.init_app(app)
    csrf.init_app(app)
    database.init_app(app)
    i18n.init_app(app)
    formatting.init_app(app)
    app.add_template_global(programme.who, "programme_who")
    participation_filters(app)
    security.init_app(app)
    error_pages.init_app(app)
    auth.init_app(app)
    form_errors.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .feeds import bp as feeds_bp
    from .health import bp as health_bp
    from .mailbox import bp as mailbox_bp
    from .manage import bp as manage_bp
    from .manage.certificate import verify_bp as certificates_bp
    from .manage.feedback import bp as feedback_bp
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    if app.config["KLYNGE_MAILBOX"] and not app.config["MAIL_SERVER"]:
        app.register_blueprint(mailbox_bp)


def register_commands(app: Flask) -> None:
    from .cli import klynge

    app.cli.add_command(klynge)


def _start_sender_thread(app: Flask) -> None:
    # Under the reloader, only the child process that serves requests sends mail.
    if not app.config["KLYNGE_SENDER_THREAD"]:
        return
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return
    from . import worker

    app.extensions["klynge_sender_stop"] = worker.start_thread(app)


def main() -> None:
    """The `klynge` console command: `klynge init`, `klynge worker`, … for an installed app."""
    from .cli import console

    console(create_app, refusals=(InsecureSecretError, settings.SettingError)).main(prog_name="klynge")
