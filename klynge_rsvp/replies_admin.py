"""Organiser pages for calendar replies: the held ones to confirm or reject, and the latest."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from . import replies, stored_text
from .clock import utcnow
from .errors import DomainError
from .extensions import db
from .labels import ANSWER_LABELS, REPLY_OUTCOME_LABELS
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
    return render_template("replies/index.html", held=replies.held_for_review(authserv_id=authserv_id),
                           recent=replies.recent(), authserv_id=authserv_id,
                           answers=ANSWER_LABELS, outcomes=REPLY_OUTCOME_LABELS)


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
            flash(_("Svaret fra %(attendee)s er godkjent og brukt.", attendee=reply.attendee), "success")
        else:
            flash(_("Svaret fra %(attendee)s er godkjent, men endret ingenting: %(reason)s",
                    attendee=reply.attendee, reason=stored_text.shown(reply, "reason")), "success")
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
        flash(_("Svaret fra %(attendee)s er avvist. Påmeldingen er uendret.", attendee=reply.attendee),
              "success")
    return redirect(url_for(".index"))
