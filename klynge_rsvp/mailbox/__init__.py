"""The browser mailbox: with no SMTP server configured, "sent" mail is read here.

Registered only when no SMTP server is configured. It shows every message, so outside debug
mode only a logged-in organiser may read it. In debug mode, where it is open, it answers only
when it was asked for by the name of this machine (Host 127.0.0.1, localhost or [::1], any port):
a page on another site cannot read the manage links in it by pointing its own name at 127.0.0.1
(DNS rebinding), since the browser then sends that name as Host.
"""

import re

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user

from ..extensions import db, login_manager
from ..mail.parts import read as read_mail
from ..models import OutboxMessage
from ..security import sandboxed_html

bp = Blueprint("mailbox", __name__, url_prefix="/e-post")

_THIS_MACHINE = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?")


def is_this_machine(host: str) -> bool:
    """Whether a Host header names this machine by its loopback address or `localhost`."""
    return _THIS_MACHINE.fullmatch(host.lower()) is not None


@bp.before_request
def _organisers_only():
    if current_app.debug:
        # The header as sent (request.host drops a trailing ":80" and empties odd values).
        if not is_this_machine(request.headers.get("Host", request.host)):
            abort(404)
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.get("/")
def index():
    """Every message, newest first."""
    messages = db.session.scalars(
        sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(500)
    )
    return render_template("mailbox/index.html", messages=list(messages))


@bp.get("/<int:message_id>")
def show(message_id):
    """One message: headers, text, HTML (sandboxed), and the calendar part."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    return render_template("mailbox/show.html", message=message,
                           parts=read_mail(message.message, inline_images=True))


@bp.get("/<int:message_id>/html")
def html(message_id):
    """The HTML body alone, for the sandboxed frame."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    return sandboxed_html(read_mail(message.message, inline_images=True)["html"])


@bp.get("/<int:message_id>.eml")
def raw(message_id):
    """The whole message as sent, to open in a mail program."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    return Response(message.message, mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="melding-{message_id}.eml"'})
