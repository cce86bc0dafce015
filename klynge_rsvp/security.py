"""Security headers on every response, and requests no part of the service can take."""

from flask import Flask, Response, abort, request
from werkzeug.routing import IntegerConverter

from .config import embed_origins

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])


# A mail's HTML shown in a sandboxed frame of one of our pages: its own inline styles and data:
# images, no scripts, forms or requests, and only inside our own pages.
SANDBOXED_MAIL_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
                         "frame-ancestors 'self'")


def sandboxed_html(html: str) -> Response:
    """A mail's HTML part as its own response, for a sandboxed <iframe> (previews, the mailbox)."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = SANDBOXED_MAIL_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def frameable_by(response: Response, origins) -> Response:
    """Let the sites at `origins` (and only those) show this response in a frame: the policy's
    frame-ancestors names them, and no X-Frame-Options is sent (DENY would win in browsers
    that read it first). For the embeddable registration form only (public/embed.py)."""
    listed = " ".join(origins) or "'none'"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {listed}")
    response.klynge_frameable = bool(origins)
    return response


class RowIdIntegerConverter(IntegerConverter):
    """`<int:…>` in our addresses is a row's id: a number the database's integer cannot hold
    is no page here (404), instead of an error from the database (SQLite) or a refused value
    (PostgreSQL)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def refuse_nul_characters() -> None:
    """A NUL character is in no address, token or parameter of ours, and PostgreSQL cannot even
    compare with it (the query fails): an address with one is not here (404), a query with one
    is refused (400), before anything looks it up. (In a form's values it is left to the form,
    which says what is wrong beside the field and keeps what was typed.)"""
    if "\x00" in request.path:
        abort(404)
    if any("\x00" in key or any("\x00" in value for value in request.args.getlist(key))
           for key in request.args) or any("\x00" in key for key in request.form):
        abort(400)


def init_app(app: Flask) -> None:
    """Refuse what no route can take before each request; add the headers after it."""
    # Checked here, at start-up: a site written wrong is a clear refusal, not a form that
    # silently cannot be framed (config.embed_origins).
    app.config["KLYNGE_EMBED_ORIGINS"] = embed_origins(app.config.get("KLYNGE_EMBED_ORIGINS", ""))
    app.url_map.converters["int"] = RowIdIntegerConverter  # before the blueprints add their routes
    # First of all: the CSRF check (registered before us) would otherwise show the expired-form
    # page, which looks the gathering up by the address.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_characters)

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if not getattr(response, "klynge_frameable", False):
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
