"""/virksomhet/<orgnr>: what Enhetsregisteret says about an organisation number, as JSON for the
registration forms' script (static/js/org-lookup.js). Open to anyone (the register is public),
limited per client, and never says whether the number is known here."""

from flask import current_app, jsonify
from flask_babel import gettext as _

from .. import registry
from ..clock import utcnow
from ..extensions import db, limiter
from ..organisations import clean_org_number, is_valid_org_number
from . import bp


def _limit() -> str:
    return current_app.config["ORG_LOOKUP_RATE_LIMIT"]


@bp.get("/virksomhet/<org_number>", endpoint="org_lookup")
@limiter.limit(_limit)
def org_lookup(org_number):
    """{"state": "found" | "not_found" | "deleted" | "unavailable" | "invalid", "message": …,
    and when found "name" and "sector"}. Commits the answer registry.lookup kept, so the form
    sent a moment later finds it without asking the register again."""
    number = clean_org_number(org_number)
    if not is_valid_org_number(number):
        response = jsonify(state="invalid", message=_(
            "Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))
        response.status_code = 400
    else:
        response = jsonify(registry.as_json(registry.lookup(number, now=utcnow())))
        db.session.commit()
    response.headers["Cache-Control"] = "no-store"
    return response
