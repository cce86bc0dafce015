"""The mail log: every message in the outbox, and resending one that failed."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import history
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..labels import KIND_LABELS, MAIL_OUTCOME_LABELS, MAIL_STATUS_LABELS
from ..mail import outbox, outcomes
from ..models import Announcement, OutboxMessage, OutboxStatus, Registration
from ..redirects import same_site_path
from ..stored_text import label, said
from . import bp

PAGE_SIZE = 50


@bp.get("/e-postlogg")
def mail_log():
    """Every message, newest first; filter by status."""
    status = request.args.get("status", "")
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status:
        try:
            query = query.where(OutboxMessage.status == OutboxStatus(status))
        except ValueError:
            abort(404)
    # The message bodies stay in the database: a page of the log needs only the columns shown.
    query = query.options(sa.orm.defer(OutboxMessage.stored_message))
    page = db.paginate(query, page=request.args.get("side", 1, type=int), per_page=PAGE_SIZE,
                       error_out=False)
    return render_template("admin/mail_log/index.html", page=page, status=status,
                           statuses=MAIL_STATUS_LABELS, kinds=KIND_LABELS,
                           mailbox="mailbox.show" in current_app.view_functions)


@bp.post("/e-postlogg/<int:message_id>/send-igjen")
def resend_mail(message_id):
    """Give a failed message another try at once."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    now = utcnow()
    try:
        outbox.requeue(message, now=now)
    except DomainError as error:
        flash(str(error), "error")
    else:
        history.audit("resend", by=current_user._get_current_object(), now=now,
                      gathering=_gathering_of(message),
                      summary=said("mail_resent", kind=label("kind", message.kind),
                                   recipient=message.recipient, subject=message.subject))
        db.session.commit()
        flash(_("E-posten til %(recipient)s er lagt i køen igjen.", recipient=message.recipient),
              "success")
    return redirect(same_site_path(request.form.get("next"), url_for(".mail_log", status="failed")), 303)


def _gathering_of(message: OutboxMessage):
    if message.registration_id is not None:
        return db.session.get(Registration, message.registration_id).gathering
    if message.announcement_id is not None:
        return db.session.get(Announcement, message.announcement_id).gathering
    return None


@dataclass(frozen=True)
class ShownOutcome:
    """What the mail log and a registration's page say about a message that did not go (yet)."""

    label: str | None  # plain words; None for an old row whose text says nothing we know
    detail: str  # the server's code and words, or what went wrong
    gave_up: bool  # failed after OUTBOX_MAX_ATTEMPTS tries, not refused for good


@bp.app_template_filter("mail_outcome")
def mail_outcome(message: OutboxMessage) -> ShownOutcome | None:
    """Why `message` was not delivered (or not yet); None when nothing went wrong."""
    if message.status == OutboxStatus.SENT:
        return None
    outcome = outcomes.of_stored(message.error_kind, message.smtp_code, message.last_error)
    if outcome is None:
        return None
    gave_up = message.status == OutboxStatus.FAILED and bool(outcome.kind) and not outcome.permanent
    return ShownOutcome(MAIL_OUTCOME_LABELS.get(outcome.kind), outcome.text, gave_up)
