"""The organiser API (/api/v1/organiser/…): what the workspace shows, for an organiser's own
programs, read-only, with an API key (api_tokens.py; docs/decisions/0027-api-tokens.md).

Unlike the public API next door: `Authorization: Bearer <token>` and nothing else (no cookie is
read or set, so a signed-in browser gets nothing here and CSRF does not come into it), answers
are `private, no-store`, no CORS (a web page on another site may not read them), and every
request a key makes is written to the audit log. Limited per client address like the public API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .. import api_tokens, gatherings, questions, rsvp
from ..clock import utcnow
from ..database import begin_writing
from ..extensions import db, limiter
from ..i18n import current_language, language_from
from ..links import absolute_url
from ..models import ApiToken, Gathering, Registration
from .views import DEFAULT_PER_PAGE, MAX_PER_PAGE, InvalidParameters, _json, _number

bp = Blueprint("organiser_api", __name__, url_prefix="/api/v1/organiser")

REALM = "Klynge RSVP"
_ID = re.compile(r"[0-9]{1,9}")
# A token put into the address by mistake is not written to the audit log.
_TOKEN_LIKE = re.compile(r"klynge_[0-9a-f]{12}_[A-Za-z0-9_%-]+")


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


# The public API's budget per client address, counted apart (a bad key costs the same as a good).
limiter.limit(_rate_limit, scope="organiser-api", per_method=False)(bp)


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _language() -> str:
    """The reader's language from Accept-Language alone (the language cookie is not read)."""
    return language_from(request.accept_languages, None)


def problem(status: int, title: str, detail: str, *, challenge: str | None = None,
            **extra) -> Response:
    """An RFC 9457 problem in the reader's language; 401 and 403 say what to send instead
    (RFC 6750's WWW-Authenticate)."""
    response = _json({"type": "about:blank", "title": title, "status": status, "detail": detail,
                      **extra}, status=status, mimetype="application/problem+json")
    response.headers["Content-Language"] = current_language()
    response.vary.add("Accept-Language")
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    return _private(response)


def _unauthorised(presented: bool) -> Response:
    challenge = f'Bearer realm="{REALM}"'
    if presented:
        challenge += ', error="invalid_token"'
    return problem(401, "Unauthorized", _(
        "Send en gyldig API-nøkkel i Authorization-headeren: «Bearer klynge_…». Nøkkelen kan "
        "være feil, utløpt eller trukket tilbake, eller kontoen den hører til er deaktivert.")
        if presented else _("Denne adressen krever en API-nøkkel i Authorization-headeren: "
                            "«Bearer klynge_…»."), challenge=challenge)


def _presented_token() -> str | None:
    """The token of `Authorization: Bearer <token>` ("" when the header is something else)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def reads(scope: str):
    """The view needs a working key with `scope`. The view gets the key and `now`, and returns
    its response and the gathering it was about (for the audit log). One audit entry per
    request a key makes, also when it is refused for its scope or finds nothing."""

    def decorator(view):
        @wraps(view)
        def wrapped(**kwargs):
            with force_locale(_language()):
                presented = _presented_token()
                if not presented:
                    return _unauthorised(presented == "")
                now = utcnow()
                token = api_tokens.authenticate(presented, now=now)
                if token is None:
                    db.session.rollback()
                    return _unauthorised(True)
                if scope not in token.scope_list:
                    response, gathering = problem(403, "Forbidden", _(
                        "API-nøkkelen har ikke tilgang til dette. Den trenger «%(scope)s».",
                        scope=scope), challenge=f'Bearer realm="{REALM}", '
                                                f'error="insufficient_scope", scope="{scope}"'), None
                else:
                    try:
                        response, gathering = view(token=token, now=now, **kwargs)
                    except InvalidParameters as error:
                        response, gathering = problem(
                            400, "Bad Request", _("Parameterne i forespørselen er ugyldige."),
                            **{"invalid-params": error.invalid}), None
                # What was read is read: the audit line takes SQLite's write lock up front (a
                # read transaction that then writes is refused when another wrote meanwhile).
                begin_writing()
                endpoint = _TOKEN_LIKE.sub(api_tokens.PREFIX + "…",
                                           f"{request.method} {request.full_path.rstrip('?')}")[:500]
                api_tokens.record_use(token, endpoint=endpoint, status=response.status_code,
                                      now=now, gathering=gathering)
                db.session.commit()
                return response

        return wrapped

    return decorator


def _utc(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat(timespec="seconds")


# --- what an answer says (pure: data in, JSON-ready dict out) ----------------------------------


def gathering_resource(gathering: Gathering, counts: gatherings.Counts,
                       seats_left: int | None) -> dict:
    """A gathering as the workspace knows it, drafts too."""
    return {
        "id": gathering.id, "slug": gathering.slug, "title": gathering.title,
        "theme": gathering.theme, "format": gathering.format, "status": gathering.status.value,
        "startsAt": _utc(gathering.starts_at), "endsAt": _utc(gathering.ends_at),
        "venue": {"name": gathering.venue_name, "address": gathering.venue_address},
        "capacity": gathering.capacity, "seatsLeft": seats_left,
        "registrationDeadline": _utc(gathering.registration_deadline),
        "counts": {"confirmed": counts.confirmed, "waiting": counts.waiting,
                   "cancelled": counts.cancelled, "checkedIn": counts.attended},
        "links": {
            "self": absolute_url("organiser_api.gathering", gathering_id=gathering.id),
            "registrations": absolute_url("organiser_api.registrations",
                                          gathering_id=gathering.id),
            "workspace": absolute_url("admin.gathering", gathering_id=gathering.id),
        },
    }


def registration_resource(registration: Registration, waiting_position: int | None,
                          answers: list[dict] | None = None) -> dict:
    """One registration, as the workspace's list shows it; with a key that may read them, the
    answers to the organisers' own questions (`answers`, one per question, in the form's order)."""
    resource = {
        "id": registration.id, "name": registration.name, "email": registration.email,
        "status": registration.status.value, "waitingPosition": waiting_position,
        "organisation": {"name": registration.organisation.name,
                         "sector": registration.organisation.sector.value},
        "jobTitle": registration.job_title, "needs": registration.needs,
        "language": registration.language,
        "checkedInAt": _utc(registration.checked_in_at), "createdAt": _utc(registration.created_at),
    }
    if answers is not None:
        resource["answers"] = answers
    return resource


def _answers(gathering: Gathering, rows: list[Registration]) -> dict[int, list[dict]]:
    """registration id → its answers, for a page of registrations in a few queries."""
    asked = questions.questions_of(gathering.id)
    table = questions.answer_table(gathering.id, [row.id for row in rows]) if asked else {}
    return {row.id: [{"questionId": question.id, "question": question.label,
                      "answer": table.get(row.id, {}).get(question.id, "")}
                     for question in asked] for row in rows}


# --- the routes ---------------------------------------------------------------------------------


def _page_parameters() -> tuple[int, int]:
    invalid: list[dict] = []
    page = _number("page", 1, None, invalid)
    per_page = _number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE, invalid)
    if invalid:
        raise InvalidParameters(invalid)
    return page, per_page


def _paged(items: list[dict], *, total: int, page: int, per_page: int, endpoint: str,
           **values) -> Response:
    pages = max(1, -(-total // per_page))

    def link(number: int) -> str:
        return absolute_url(endpoint, page=number, per_page=per_page, **values)

    links = {"self": link(page), "first": link(1), "last": link(pages)}
    if page > 1:
        links["prev"] = link(min(page - 1, pages))
    if page < pages:
        links["next"] = link(page + 1)
    response = _json({"items": items, "page": page, "perPage": per_page, "total": total,
                      "pages": pages, "links": links})
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    return _private(response)


def _gathering_or_problem(gathering_id: str) -> Gathering | Response:
    found = db.session.get(Gathering, int(gathering_id)) if _ID.fullmatch(gathering_id) else None
    if found is None:
        return problem(404, "Not Found", _("Det finnes ingen samling med denne id-en."))
    return found


@bp.get("/gatherings")
@reads(api_tokens.GATHERINGS_READ)
def gathering_list(*, token: ApiToken, now: datetime):
    """Every gathering, drafts too, the latest start first, a page at a time."""
    page, per_page = _page_parameters()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)) or 0
    offset = (page - 1) * per_page
    found = [] if offset >= total else list(db.session.scalars(
        sa.select(Gathering).order_by(Gathering.starts_at.desc(), Gathering.id.desc())
        .limit(per_page).offset(offset)))
    counts = gatherings.registration_counts([g.id for g in found])
    seats = gatherings.seats_left_by_gathering(found)
    items = [gathering_resource(g, counts.get(g.id, gatherings.Counts()), seats.get(g.id))
             for g in found]
    return _paged(items, total=total, page=page, per_page=per_page,
                  endpoint="organiser_api.gathering_list"), None


@bp.get("/gatherings/<gathering_id>")
@reads(api_tokens.GATHERINGS_READ)
def gathering(gathering_id: str, *, token: ApiToken, now: datetime):
    """One gathering by its id."""
    found = _gathering_or_problem(gathering_id)
    if isinstance(found, Response):
        return found, None
    resource = gathering_resource(found, gatherings.counts(found), rsvp.seats_left(found))
    return _private(_json(resource)), found


@bp.get("/gatherings/<gathering_id>/registrations")
@reads(api_tokens.REGISTRATIONS_READ)
def registrations(gathering_id: str, *, token: ApiToken, now: datetime):
    """A gathering's registrations in the order they came, a page at a time."""
    found = _gathering_or_problem(gathering_id)
    if isinstance(found, Response):
        return found, None
    page, per_page = _page_parameters()
    condition = Registration.gathering_id == found.id
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Registration)
                              .where(condition)) or 0
    offset = (page - 1) * per_page
    rows = [] if offset >= total else list(db.session.scalars(
        sa.select(Registration).join(Registration.organisation).where(condition)
        .options(sa.orm.contains_eager(Registration.organisation))
        .order_by(Registration.created_at, Registration.id).limit(per_page).offset(offset)))
    positions = rsvp.waiting_positions(found) if rows else {}
    answers = _answers(found, rows) if api_tokens.ANSWERS_READ in token.scope_list else {}
    items = [registration_resource(r, positions.get(r.id), answers.get(r.id)) for r in rows]
    return _paged(items, total=total, page=page, per_page=per_page,
                  endpoint="organiser_api.registrations", gathering_id=found.id), found


# Registered per code, like the public API's: the app's own handlers would answer with pages.
@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(429)
def http_error(error: HTTPException):
    with force_locale(_language()):
        details = {
            404: _("Det finnes ingen samling med denne id-en."),
            429: _("For mange forespørsler fra denne adressen. Vent litt og prøv igjen."),
        }
        return problem(error.code or 500, error.name,
                       details.get(error.code, _("Forespørselen kunne ikke behandles.")))

