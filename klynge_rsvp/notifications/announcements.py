"""Announcements from the organisers: to a gathering's registrants, or to the mailing list."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

from flask import current_app, render_template

from .. import addresses
from ..links import absolute_url, base_host
from ..mail import headers as mail_headers
from ..mail.outbox import ComposedMail
from ..models import Announcement, Audience
from ..names import shown_name
from .message import build, in_language

KIND_TO_REGISTRANTS = "announcement"
KIND_TO_MAILING_LIST = "announcement_list"


def unsubscribe_headers(unsubscribe_url: str) -> list[bytes]:
    """RFC 2369 and RFC 8058: the mail program's own "unsubscribe" button, in one click.

    Plain ASCII in the raw message (headers.uri_list): an encoded List-Unsubscribe is one that
    Gmail and Yahoo cannot read.
    """
    sender = addresses.for_smtp(parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1])
    return [
        mail_headers.uri_list("List-Unsubscribe",
                              [unsubscribe_url, f"mailto:{sender}?subject=unsubscribe"]),
        mail_headers.token("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        mail_headers.list_id(current_app.config["KLYNGE_NETWORK_NAME"], f"nyhetsbrev.{base_host()}"),
    ]


def compose_announcement(announcement: Announcement, *, to_name: str, to_email: str,
                         now: datetime, manage_url: str | None = None,
                         unsubscribe_url: str | None = None,
                         language: str | None = None) -> ComposedMail:
    """One copy of an announcement.

    To a registrant (transactional, about the gathering they registered for): their manage link,
    no unsubscribe. To the mailing list: a one-click unsubscribe link and the List-* headers.
    The organisers' subject and text stay as written; the rest is in `language` (the
    registrant's; subscribers have none, so Bokmål).
    """
    with in_language(language):
        return _compose_announcement(announcement, to_name=to_name, to_email=to_email, now=now,
                                     manage_url=manage_url, unsubscribe_url=unsubscribe_url)


def _compose_announcement(announcement: Announcement, *, to_name: str, to_email: str,
                          now: datetime, manage_url: str | None,
                          unsubscribe_url: str | None) -> ComposedMail:
    gathering = announcement.gathering
    context = {
        "subject": announcement.subject,
        "text": announcement.body,
        "to_name": to_name,
        "greeting_name": shown_name(to_name),
        "gathering": gathering,
        "network_name": current_app.config["KLYNGE_NETWORK_NAME"],
        "gathering_url": absolute_url("public.gathering", slug=gathering.slug),
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    if announcement.audience == Audience.MAILING_LIST:
        if unsubscribe_url is None:
            raise ValueError("a mail to the mailing list needs its unsubscribe link")
        kind, headers = KIND_TO_MAILING_LIST, unsubscribe_headers(unsubscribe_url)
    else:
        if manage_url is None:
            raise ValueError("a mail to a registrant needs their manage link")
        kind, headers = KIND_TO_REGISTRANTS, None
    return build(
        kind=kind, to_name=to_name, to_email=to_email, subject=announcement.subject,
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
        now=now, headers=headers,
    )
