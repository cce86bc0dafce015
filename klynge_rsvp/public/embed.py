"""The registration form for a frame on the network's own site (issue 17).

`/samlinger/<slug>/innebygd` is the gathering's form in a compact page, which only the sites in
KLYNGE_EMBED_ORIGINS may frame (every other page keeps `frame-ancestors 'none'`). It posts to
itself and shows the receipt in the frame. It sets no cookie: a browser blocks or partitions
them in a frame from another site, so Flask-WTF's session token is replaced, for this view
only, by a signed form token and a check of the POST's origin (klynge_rsvp/embedding.py,
docs/decisions/0029-embedded-registration-form.md). The language is a query parameter
(`?sprak=nn`). With no sites listed, the page does not exist (404).
"""

from __future__ import annotations

import functools
import logging
from functools import wraps

from flask import Response, abort, current_app, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from wtforms import HiddenField

from .. import embedding, gatherings, seat_rules
from ..clock import utcnow
from ..extensions import csrf, db
from ..i18n import LANGUAGES
from ..links import absolute_url
from ..security import frameable_by
from . import bp
from .forms import RegistrationForm
from .views import Registered, form_context, registration_form, take_form

log = logging.getLogger(__name__)


class EmbeddedRegistrationForm(RegistrationForm):
    """The registration form without the session's CSRF token: a signed form token instead."""

    class Meta:
        csrf = False

    embed_token = HiddenField()


def _listed() -> tuple[str, ...]:
    return current_app.config["KLYNGE_EMBED_ORIGINS"]


def _in_chosen_language(view):
    """Render in the language of `?sprak=` (a framed page may get no cookie); without it, as
    any page chooses."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        language = request.args.get("sprak")
        if language in LANGUAGES:
            with force_locale(language):
                return view(*args, **kwargs)
        return view(*args, **kwargs)
    return wrapper


def _framed(body: str, status: int = 200, *, no_store: bool = True) -> Response:
    response = frameable_by(Response(body, status=status, mimetype="text/html"), _listed())
    if no_store:  # the form's token, or the receipt's names and addresses
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/samlinger/<slug>/innebygd")
@_in_chosen_language
def embed(slug):
    """The gathering's registration form, compact, for a frame on a listed site."""
    if not _listed():
        abort(404)
    gathering = gatherings.get_public_or_404(slug)
    return _form_page(gathering, registration_form(gathering, EmbeddedRegistrationForm))


@bp.post("/samlinger/<slug>/innebygd")
@csrf.exempt  # the signed form token and the origin check below stand in for it
@_in_chosen_language
def embed_register(slug):
    """Register from the framed form, and show the receipt in the frame. As the gathering's
    own form (views.register): the same form, limits and service; what differs is how a
    forged POST is told from a real one, and that the receipt comes in this answer (no session
    to carry it to another page)."""
    if not _listed():
        abort(404)
    gathering = gatherings.get_public_or_404(slug)
    config = current_app.config
    own = {embedding.origin_of(config["KLYNGE_BASE_URL"]), embedding.origin_of(request.host_url)}
    if not embedding.post_comes_from_allowed_page(
            request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"),
            own=own, listed=_listed()):
        log.warning("embedded form: refused a POST from origin %r (Sec-Fetch-Site %r)",
                    request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"))
        return _framed(render_template("public/embed_refused.html", gathering=gathering,
                                              embed_origins=_listed(),
                                              language_query=_language_query()), 400)
    form = registration_form(gathering, EmbeddedRegistrationForm)
    if not embedding.token_is_valid(config["SECRET_KEY"], form.embed_token.data, gathering.id,
                                    now=utcnow()):
        form.form_errors.append(_("Skjemaet var utløpt av sikkerhetsgrunner, så ingenting er "
                                  "sendt ennå. Det du skrev, er tatt vare på: se over og send "
                                  "på nytt."))
        return _form_page(gathering, form, status=400)
    taken = take_form(gathering, form, functools.partial(_form_page, gathering))
    if not isinstance(taken, Registered):
        return taken
    db.session.commit()  # the registrations and their mail commit together
    return _framed(render_template(
        "public/embed_receipt.html", gathering=gathering, embed_origins=_listed(),
        people=_receipt(taken.wanted, taken.outcomes, taken.full_now, now=utcnow()),
        newsletter=taken.newsletter,
        language_query=_language_query()))


def _receipt(wanted, outcomes, full_now: bool, *, now) -> list[tuple[str, str, str, str]]:
    """Who the form was for, what became of each, and why one waits if the seat rules say why
    (issue 16). No session remembers which addresses this browser registered before, so an
    address registered before reads as a newcomer's would at this moment (decision 0018: the
    page never tells a stranger who is registered; the truth goes to that inbox)."""
    people = []
    for person, outcome in zip([wanted.person, *wanted.colleagues], outcomes, strict=True):
        reason = ""
        if outcome.already_registered:
            state = "waiting" if full_now else "confirmed"
        else:
            state = outcome.registration.status.value
            found = seat_rules.why_waiting(outcome.registration, now=now)
            if found is not None and found.code != seat_rules.FULL:
                reason = seat_rules.describe(found)
        people.append((person.name, person.email, state, reason))
    return people


def _language_query() -> dict:
    language = request.args.get("sprak")
    return {"sprak": language} if language in LANGUAGES else {}


def _form_page(gathering, form, *, status=200, focus_row=None, removed=False) -> Response:
    """The compact page with the form, a fresh form token in it."""
    now = utcnow()
    registration_open = gathering.registration_open(now)
    form.embed_token.data = embedding.new_token(current_app.config["SECRET_KEY"], gathering.id)
    return _framed(render_template(
        "public/embed.html",
        gathering=gathering,
        form=form,
        now=now,
        registration_open=registration_open,
        focus_row=focus_row,
        removed=removed,
        **form_context(gathering, form, now=now, registration_open=registration_open),
        embed_origins=_listed(),
        language_query=_language_query(),
        form_action=url_for(".embed_register", slug=gathering.slug, **_language_query()),
    ), status)


def embed_snippet(gathering) -> str | None:
    """What an organiser pastes into the network's site to show this gathering's form: the
    frame, and the optional script that fits its height to the form. None when no site may
    frame it (KLYNGE_EMBED_ORIGINS is empty) or the gathering is not public."""
    if not current_app.config["KLYNGE_EMBED_ORIGINS"] or gathering.status not in gatherings.VISIBLE:
        return None
    frame = (f'<iframe src="{absolute_url("public.embed", slug=gathering.slug)}" '
             f'title="{Markup.escape(_("Påmelding: %(title)s", title=gathering.title))}" '
             'style="width: 100%; height: 1400px; border: 0;" data-klynge-embed></iframe>')
    script = f'<script src="{absolute_url("static", filename="js/embed.js")}" async></script>'
    return f"{frame}\n{script}"


bp.add_app_template_global(embed_snippet, "embed_snippet")
