"""Mail about the network's mailing list: the double opt-in confirmation."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from flask_babel import gettext as _

from ..i18n import DEFAULT_LANGUAGE
from ..links import absolute_url
from ..mail.outbox import ComposedMail
from ..models import Subscriber
from .message import build, in_language


def compose_subscription_confirmation(subscriber: Subscriber, *, now: datetime) -> ComposedMail:
    """Please confirm that you want the newsletter (nothing is sent to you until you do).

    Whoever typed the address chose nothing else in this mail: not even the name they gave is
    shown, so the sign-up form cannot carry a message to a stranger's inbox. In Bokmål: a
    subscriber has no language of their own.
    """
    with in_language(DEFAULT_LANGUAGE):
        return _compose(subscriber, now=now)


def _compose(subscriber: Subscriber, *, now: datetime) -> ComposedMail:
    network_name = current_app.config["KLYNGE_NETWORK_NAME"]
    context = {
        "network_name": network_name,
        "confirm_url": absolute_url("public.mailing_list_confirm",
                                    token=subscriber.confirm_token),
    }
    return build(
        kind="mailing_list_confirm", to_name="", to_email=subscriber.email,
        subject=_("Bekreft at du vil ha nyhetsbrevet fra %(network)s", network=network_name),
        text=render_template("email/mailing_list_confirm.txt", **context),
        html=render_template("email/mailing_list_confirm.html", **context),
        now=now,
    )
