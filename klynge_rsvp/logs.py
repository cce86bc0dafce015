"""Structured logs: one JSON object a line, each with the request id of the request it belongs to.

A request keeps the X-Request-ID its load balancer gave it (when that is a sane token) or gets a
new one; the id goes back on the response and into every log line written while it is served,
so one request can be followed from the balancer through the app servers to the database.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
# Letters, digits and a few separators, as load balancers and tracing systems make them; anything
# else (spaces, line breaks, quotes, very long values) could forge or garble a log line.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}")
access_log = logging.getLogger("klynge_rsvp.access")


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    if has_request_context():
        return g.get("request_id")
    return None


def choose_request_id(incoming: str | None) -> str:
    """The incoming id if it is a sane token, else a new random one."""
    if incoming and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, request id, extras."""

    EXTRAS = ("method", "route", "endpoint", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id
        for name in self.EXTRAS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _install_record_factory() -> None:
    # Every record, from any logger and for any handler, carries the request id.
    factory = logging.getLogRecordFactory()
    if getattr(factory, "klynge_request_id", False):
        return

    def make_record(*args, **kwargs):
        record = factory(*args, **kwargs)
        record.request_id = request_id()
        return record

    make_record.klynge_request_id = True
    logging.setLogRecordFactory(make_record)


def _install_handler(json_lines: bool) -> None:
    root = logging.getLogger()
    if any(getattr(h, "klynge", False) for h in root.handlers):
        return
    handler = _StderrHandler()
    handler.klynge = True
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Request ids on every request and response; JSON log lines on stderr (LOG_FORMAT=text
    for plain lines; the test suite leaves logging to pytest)."""
    _install_record_factory()
    if not app.testing:
        _install_handler(app.config.get("LOG_FORMAT", "text" if app.debug else "json") == "json")

    @app.before_request
    def _assign_request_id():
        g.request_id = choose_request_id(request.headers.get(HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        rid = g.get("request_id")
        if rid is None:  # a response made before our before_request ran
            return response
        response.headers[HEADER] = rid
        # The route pattern, never the path: a manage link's path is its secret token.
        rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
        access_log.info(
            "%s %s %s", request.method, rule, response.status_code,
            extra={"method": request.method, "route": rule, "endpoint": request.endpoint,
                   "status": response.status_code,
                   "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1)},
        )
        return response
