"""Organiser pages for calendar replies: the held ones to confirm or reject, and the latest."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from . import replies
from .clock import utcnow
from .errors import DomainError
from .extensions import db
from .models import CalendarReply, ReplyOutcome

bp = Blueprint("replies", __name__, url_prefix="/arrangor/kalendersvar")


@bp.before_request
@login_required
def _require_login():
    """Every page here requires a logged-in, active organiser."""


@bp.get("/")
def index():
    """Held replies waiting for an organiser, and what became of the latest ones."""
    authserv_id = current_app.config["REPLY_AUTHSERV_ID"]
    held = [(reply, replies.held_message(reply, authserv_id=authserv_id)) for reply in replies.held()]
    return render_template("replies/index.html", held=held, recent=replies.recent(),
                           answers=replies.ANSWERS)


@bp.post("/<int:reply_id>/godkjenn")
def confirm(reply_id: int):
    """Apply a held reply: the organiser vouches that the person sent it."""
    reply = db.get_or_404(CalendarReply, reply_id)
    try:
        replies.confirm(reply, by=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        if reply.outcome == ReplyOutcome.APPLIED:
            flash(f"Svaret fra {reply.attendee} er godkjent og brukt.", "success")
        else:
            flash(f"Svaret fra {reply.attendee} er godkjent, men endret ingenting: {reply.reason}",
                  "success")
    return redirect(url_for(".index"))


@bp.post("/<int:reply_id>/avvis")
def reject(reply_id: int):
    """Throw a held reply away: the registration stays as it is."""
    reply = db.get_or_404(CalendarReply, reply_id)
    try:
        replies.reject(reply, by=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(f"Svaret fra {reply.attendee} er avvist. Påmeldingen er uendret.", "success")
    return redirect(url_for(".index"))
