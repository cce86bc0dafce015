"""Pages for participants: the gatherings, their pages and the registration form."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import embed, mailing_list, org_lookup, views  # noqa: E402, F401  (routes register themselves on bp)
