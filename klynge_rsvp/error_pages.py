"""Error pages a person can act on, in Norwegian."""

import logging

from flask import Flask, render_template
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .extensions import db

log = logging.getLogger(__name__)

# The database could not be reached or gave up on us: the connection was refused or cut (a
# failover, an administrator ending sessions, a restarted PgBouncer), a lock or statement timed
# out, SQLite stayed locked, or no pooled connection came free in time.
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)

# Plain text for when even the page cannot be made: the person still learns what happened.
_PLAIN_503 = ("Tjenesten er midlertidig utilgjengelig. Prøv igjen om et halvt minutt.\n"
              "The service is temporarily unavailable. Please try again in half a minute.\n")


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database is away (not a mistake in our code or in the data)."""
    if isinstance(error, UNAVAILABLE):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(400)
    def bad_request(error):
        return render_template("errors/400.html"), 400

    @app.errorhandler(404)
    def not_found(error):
        if getattr(error, "description", "") == "unknown_link":
            return render_template("manage/unknown_link.html"), 404
        return render_template("errors/404.html"), 404

    @app.errorhandler(413)
    def too_large(error):
        return render_template("errors/400.html"), 413

    def database_error(error):
        if isinstance(error, DataError) and not error.connection_invalidated:
            return value_refused(error)
        if not is_database_unavailable(error):
            raise error  # a mistake of ours: Flask logs it and shows the 500 page
        return database_unavailable(error)

    @app.errorhandler(OverflowError)
    def value_refused(error):
        # The database refused a value no form check stopped (a number out of its range, a
        # character PostgreSQL cannot store; SQLite's driver raises OverflowError for a number
        # beyond its integer, e.g. ?side=99999999999999999999): the request was bad, nothing
        # was changed. Logged as an error all the same: a form may be missing a check.
        log.error("the database refused a value from the request: %r", error, exc_info=error)
        _roll_back()
        return render_template("errors/400.html"), 400

    def _roll_back():
        try:
            db.session.rollback()
        except SQLAlchemyError as rollback_error:  # the connection died under the rollback too
            log.warning("rollback after the database error failed too: %s", rollback_error)

    for kind in (DBAPIError, DisconnectionError, PoolTimeoutError):
        app.register_error_handler(kind, database_error)

    def database_unavailable(error):
        # The transaction is gone with the connection: nothing half-written stays behind.
        log.error("database unavailable: %s", error)
        _roll_back()
        try:
            body = render_template("errors/503.html")
        except Exception:  # the page itself needed something that is not there
            log.exception("the 503 page could not be made; answering in plain text")
            response = app.make_response((_PLAIN_503, 503, {"Content-Type": "text/plain; charset=utf-8"}))
        else:
            response = app.make_response((body, 503))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(500)
    def server_error(error):
        # An error handler (e.g. the expired-form page, which looks up the gathering) met the
        # database away: Flask hands that here as a 500; it is a 503 all the same.
        if is_database_unavailable(getattr(error, "original_exception", None)):
            return database_unavailable(error.original_exception)
        return render_template("errors/500.html"), 500
