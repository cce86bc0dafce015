"""The organisers' workspace: every page here requires login; some require a role."""

from functools import wraps

from flask import Blueprint, abort
from flask_login import current_user, login_required

from .. import stored_text
from ..models import OrganiserRole

bp = Blueprint("admin", __name__, url_prefix="/arrangor")


@bp.app_template_filter("said")
def said_filter(row_or_text, field: str | None = None) -> str:
    """A stored text in the reader's language: `entry|said("summary")`, or `text|said`."""
    if field is None:
        return stored_text.render(row_or_text)
    return stored_text.shown(row_or_text, field)


@bp.before_request
@login_required
def _require_login():
    """Every organiser page requires a logged-in, active organiser."""


def role_required(role: OrganiserRole):
    """Allow the view to organisers with `role` only (administrators may do everything)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not (current_user.is_administrator or current_user.role == role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # read by the access-control tests
        return wrapped

    return decorator


administrator_required = role_required(OrganiserRole.ADMINISTRATOR)

from . import (  # noqa: E402, F401  (each module adds its routes to bp)
    announcements,
    api_tokens,
    checkin,
    dashboard,
    exports,
    feedback,
    figures,
    gatherings,
    lifecycle,
    mail_log,
    organisations,
    organisers,
    programme,
    questions,
    registrations,
    replies,
    seat_rules,
    subscribers,
    webhooks,
)
