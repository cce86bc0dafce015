"""The public API's routes: parse the query, call one query function, answer in JSON."""

from __future__ import annotations

import json
import re

from flask import Response, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .. import gatherings, participation, rsvp
from ..clock import utcnow
from ..feeds import event_data
from ..i18n import current_language
from ..links import absolute_url
from . import bp, openapi, queries
from .resources import gathering_resource

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
CACHE_SECONDS = 60
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only (int() takes "٣" and " 3 " too)


class InvalidParameters(Exception):
    def __init__(self, invalid: list[dict]):
        super().__init__("invalid parameters")
        self.invalid = invalid


def _json(data: dict, *, status: int = 200, mimetype: str = "application/json") -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return Response(body, status=status, mimetype=mimetype)


def _cacheable(response: Response) -> Response:
    """Public for a minute, then revalidated: the ETag is a hash of the bytes, so it changes
    exactly when the answer does (a seat taken, a gathering moved) and If-None-Match gets 304."""
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.add_etag()
    return response.make_conditional(request)


def problem(status: int, title: str, detail: str, **extra) -> Response:
    """An RFC 9457 problem, in the reader's language (Content-Language says which)."""
    response = _json({"type": "about:blank", "title": title, "status": status, "detail": detail,
                      **extra}, status=status, mimetype="application/problem+json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = current_language()
    response.vary.update(("Accept-Language", "Cookie"))  # the language follows both
    return response


def _one(name: str, default: str, invalid: list[dict]) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        invalid.append({"name": name, "reason": _("Er oppgitt mer enn én gang.")})
        return None
    return values[0] if values else default


def _number(name: str, default: int, largest: int | None, invalid: list[dict]) -> int | None:
    text = _one(name, str(default), invalid)
    if text is None:
        return None
    value = int(text) if _NUMBER.fullmatch(text) else 0
    if value < 1 or (largest is not None and value > largest):
        invalid.append({"name": name, "reason": _(
            "Må være et helt tall fra 1 til %(largest)s.", largest=largest) if largest else _(
            "Må være et helt tall fra 1 og oppover (høyst ni sifre).")})
        return None
    return value


def _list_parameters() -> tuple[str, int, int]:
    invalid: list[dict] = []
    when = _one("when", "upcoming", invalid)
    if when is not None and when not in queries.WHEN:
        invalid.append({"name": "when", "reason": _("Må være «upcoming» eller «past».")})
    page = _number("page", 1, None, invalid)
    per_page = _number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE, invalid)
    if invalid:
        raise InvalidParameters(invalid)
    return when, page, per_page


def _resource(gathering, seats_left: int | None, now) -> dict:
    return gathering_resource(
        event_data(gathering), slug=gathering.slug, status=gathering.status.value,
        capacity=participation.capacity_overall(gathering), seats_left=seats_left,
        deadline=gathering.registration_deadline, open_now=gathering.registration_open(now),
        links={"self": absolute_url("api.gathering", slug=gathering.slug),
               "page": absolute_url("public.gathering", slug=gathering.slug),
               "ics": absolute_url("public.gathering_ics", slug=gathering.slug)})


@bp.get("/gatherings")
def gathering_list():
    """One page of upcoming (default) or past gatherings, with the total and links to pages."""
    when, page, per_page = _list_parameters()
    now = utcnow()
    found = queries.page_of(when, page=page, per_page=per_page, now=now)
    pages = max(1, -(-found.total // per_page))

    def link(number: int) -> str:
        return absolute_url("api.gathering_list", when=when, page=number, per_page=per_page)

    links = {"self": link(page), "first": link(1), "last": link(pages)}
    if page > 1:
        links["prev"] = link(min(page - 1, pages))
    if page < pages:
        links["next"] = link(page + 1)
    response = _json({
        "items": [_resource(g, found.seats_left.get(g.id), now) for g in found.gatherings],
        "when": when, "page": page, "perPage": per_page, "total": found.total, "pages": pages,
        "links": links,
    })
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    return _cacheable(response)


@bp.get("/gatherings/<slug>")
def gathering(slug):
    """One public gathering by its address."""
    found = gatherings.get_public_or_404(slug)
    return _cacheable(_json(_resource(found, rsvp.seats_left(found), utcnow())))


@bp.get("/openapi.json")
def openapi_description():
    """This API's OpenAPI 3.1 description."""
    return _cacheable(_json(openapi.DOCUMENT))


@bp.errorhandler(InvalidParameters)
def invalid_parameters(error):
    return problem(400, "Bad Request", _("Parameterne i forespørselen er ugyldige."),
                   **{"invalid-params": error.invalid})


# Registered per code: the app's own handlers for these codes (HTML pages) would come first.
@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(429)
def http_error(error: HTTPException):
    """404, 429, 400 (a NUL character, refused before any route), … as problems, not pages."""
    details = {
        404: _("Det finnes ingen offentlig samling med denne adressen."),
        429: _("For mange forespørsler fra denne adressen. Vent litt og prøv igjen."),
    }
    # (On a 429 Flask-Limiter adds Retry-After and the RateLimit headers after this.)
    return problem(error.code or 500, error.name,
                   details.get(error.code, _("Forespørselen kunne ikke behandles.")))
