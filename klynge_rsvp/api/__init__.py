"""The public JSON API, read-only (/api/v1/…): the gatherings anyone may see, for other sites
and programs. Open to every origin (CORS), cacheable (ETag, max-age), counted per client
address, and never a cookie. The OpenAPI description is served at /api/v1/openapi.json
(openapi.py); docs/decisions/0023-public-api.md says why it looks the way it does."""

import os

from flask import Blueprint, current_app, request
from flask.sessions import SessionInterface

from ..extensions import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_RATE_LIMIT = "120 per minute"
ORGANISER_PREFIX = "/api/v1/organiser"  # organiser.py's routes (keys, no cookies, no CORS)


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


# Every request to the API (preflights included) counts against the client address's budget.
limiter.limit(_rate_limit, scope="public-api", per_method=False)(bp)

# A response a program may read from any origin: the API serves no one's own data and takes no
# credentials, so "*" is the whole answer and nothing varies by Origin.
EXPOSED_HEADERS = ("ETag, Link, Retry-After, RateLimit-Limit, RateLimit-Remaining, "
                   "RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")
PREFLIGHT_SECONDS = 86400


@bp.after_request
def _open_to_every_origin(response):
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS":
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "Accept, Accept-Language, If-None-Match"
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_SECONDS)
    return response


class _NoSessionCookieHere(SessionInterface):
    """The app's session, never saved for an API request. No cookie, ever: a shared cache must
    be able to keep a public answer, and nothing here is anyone's. An organiser's session, when
    they call the API from the same browser, is neither refreshed nor sent back (nor does it add
    Vary: Cookie); the CSRF token is never made here (no form, and GET needs none)."""

    def __init__(self, inner: SessionInterface):
        self.inner = inner

    def open_session(self, app, request):
        if request.path.startswith(ORGANISER_PREFIX + "/"):
            # The organiser API takes a key and nothing else: a browser's session cookie is not
            # even read there (docs/decisions/0027).
            return self.inner.make_null_session(app)
        return self.inner.open_session(app, request)

    def make_null_session(self, app):
        return self.inner.make_null_session(app)

    def is_null_session(self, obj) -> bool:
        return self.inner.is_null_session(obj)

    def save_session(self, app, session, response) -> None:
        if request.blueprint == bp.name or request.path.startswith(bp.url_prefix + "/"):
            return
        self.inner.save_session(app, session, response)


@bp.record_once
def _set_up(state) -> None:
    app = state.app
    # The limit per client address: a test's config, else the environment, else the default.
    app.config.setdefault("API_RATE_LIMIT", os.environ.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    app.session_interface = _NoSessionCookieHere(app.session_interface)
    from .organiser import bp as organiser_bp  # the organiser API, with keys: its own blueprint

    app.register_blueprint(organiser_bp)


from . import views  # noqa: E402,F401 (the routes register themselves on bp)
