"""Organiser pages for calendar replies: the held ones to confirm or reject, and the latest.

Behind the admin blueprint's login gate, like every organiser page.
"""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import replies, stored_text
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..labels import ANSWER_LABELS, REPLY_OUTCOME_LABELS
from ..models import CalendarReply, ReplyOutcome
from . import bp


@bp.get("/kalendersvar/", endpoint="replies")
def index():
    """Held replies waiting for an organiser, and what became of the latest ones."""
    authserv_id = current_app.config["REPLY_AUTHSERV_ID"]
    return render_template("admin/replies/index.html", held=replies.held_for_review(authserv_id=authserv_id),
                           recent=replies.recent(), authserv_id=authserv_id,
                           answers=ANSWER_LABELS, outcomes=REPLY_OUTCOME_LABELS)


@bp.post("/kalendersvar/<int:reply_id>/godkjenn", endpoint="reply_confirm")
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
    return redirect(url_for(".replies"))


@bp.post("/kalendersvar/<int:reply_id>/avvis", endpoint="reply_reject")
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
    return redirect(url_for(".replies"))
