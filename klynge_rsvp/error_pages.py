"""Error pages a person can act on, in Norwegian."""

import logging

from flask import Flask, render_template
from sqlalchemy.exc import OperationalError

from .extensions import db

log = logging.getLogger(__name__)


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

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        # The transaction is gone with the connection: nothing half-written stays behind.
        log.error("database unavailable: %s", error)
        db.session.rollback()
        response = app.make_response((render_template("errors/503.html"), 503))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(500)
    def server_error(error):
        return render_template("errors/500.html"), 500
