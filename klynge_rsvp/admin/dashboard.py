"""The organisers' overview."""

from flask import render_template

from .. import gatherings
from ..clock import utcnow
from . import bp


@bp.get("/")
def index():
    """Upcoming gatherings at a glance."""
    now = utcnow()
    return render_template("admin/index.html", upcoming=gatherings.upcoming(now), now=now)
