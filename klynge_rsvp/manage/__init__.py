"""A participant's own registration, reached from the secret link in their mail."""

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/pamelding")

from . import views  # noqa: E402, F401  (routes register themselves on bp)
