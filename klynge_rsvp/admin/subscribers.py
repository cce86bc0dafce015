"""The network's mailing list, as organisers see it: who is on it, and the counts."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import mailing_list
from ..clock import utcnow
from ..extensions import db
from ..labels import STATE_LABELS
from ..mailing_list import SubscriberState
from ..models import Subscriber
from . import bp

PAGE_SIZE = 50


@bp.get("/abonnenter")
def subscribers():
    """Subscribers by state (on the list by default), newest first."""
    try:
        state = SubscriberState(request.args.get("vis", SubscriberState.CONFIRMED.value))
    except ValueError:
        abort(404)
    page = db.paginate(mailing_list.listing(state), page=request.args.get("side", 1, type=int),
                       per_page=PAGE_SIZE, error_out=False)
    return render_template("admin/subscribers/index.html", page=page, state=state,
                           states=STATE_LABELS, counts=mailing_list.counts())


@bp.post("/abonnenter/<int:subscriber_id>/meld-av")
def unsubscribe_subscriber(subscriber_id):
    """Take someone off the list on their request (by mail or phone)."""
    subscriber = db.session.get(Subscriber, subscriber_id) or abort(404)
    if mailing_list.unsubscribe(subscriber, now=utcnow(), by=current_user._get_current_object()):
        db.session.commit()
        flash(_("%(email)s er meldt av e-postlisten.", email=subscriber.email), "success")
    return redirect(url_for(".subscribers"), 303)
