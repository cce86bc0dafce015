"""A participant's own registration, reached from the secret link in their mail."""

from flask import Blueprint

from ..links import cant_come_url

bp = Blueprint("manage", __name__, url_prefix="/pamelding")
# Mail templates (reminders, confirmations) link to "Jeg kan ikke komme" with it.
bp.add_app_template_global(cant_come_url, "cant_come_url")

from . import certificate, views  # noqa: E402, F401  (routes register themselves on bp)
