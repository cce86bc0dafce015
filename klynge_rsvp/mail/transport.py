"""The SMTP side of delivery: opening connections as MAIL_* says, and the envelope of a message.

An address goes out as the person has it: an internationalised domain in IDNA, which every
server takes; a local part outside ASCII only with SMTPUTF8, where the relay offers it. A
message no server (or not this one) could take raises Unsendable before a word is sent, so
the connection stays usable for the next message.
"""

from __future__ import annotations

import logging
import re
import smtplib
from email.utils import parseaddr

import idna
from flask import current_app

from . import outcomes

log = logging.getLogger(__name__)


def open_connection() -> smtplib.SMTP:
    """An SMTP connection as configured by MAIL_*, with a socket timeout on every step."""
    config = current_app.config
    timeout = config["SMTP_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        connection = smtplib.SMTP_SSL(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    else:
        connection = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    try:
        # Greeted at once: a relay at its limit of connections may refuse us only here.
        connection.ehlo_or_helo_if_needed()
        if config["MAIL_USE_TLS"]:
            connection.starttls()
            connection.ehlo()  # what the server offers inside TLS (SMTPUTF8 among it)
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    except BaseException:
        connection.close()
        raise
    return connection


def open_connections(wanted: int) -> list[smtplib.SMTP]:
    """The first connection (its failure is the caller's), and as many more as the server
    will take, up to `wanted`: a relay that refuses a second leaves the batch to the first."""
    connections = [open_connection()]
    while len(connections) < wanted:
        try:
            connections.append(open_connection())
        except (OSError, smtplib.SMTPException) as error:
            log.info("outbox: sending over %d SMTP connection(s): %s", len(connections),
                     outcomes.of_error(error, connecting=True).text)
            break
    return connections


def hang_up(connection: smtplib.SMTP) -> None:
    """QUIT politely; close the socket when the server is past answering."""
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


class Unsendable(Exception):
    """A message no attempt can send as it is (its outcome says why); nothing reached the server."""

    def __init__(self, outcome: outcomes.Outcome):
        super().__init__(outcome.text)
        self.outcome = outcome


# What may stand in an envelope address: no spaces, controls or angle brackets (a line break
# would end the SMTP command and start another).
_ENVELOPE_ADDRESS = re.compile(r"[^\x00-\x20\x7f<>]+@[^\x00-\x20\x7f<>@]+")


def envelope_address(address: str) -> tuple[str, bool]:
    """`address` as it goes in MAIL FROM or RCPT TO, and whether that needs SMTPUTF8.

    An internationalised domain is written in IDNA (ola@bølle.no → ola@xn--blle-gra.no), which
    every server takes; a local part outside ASCII (øyvind@…) can only go with SMTPUTF8.
    Raises Unsendable for an address no server could take.
    """
    if address.isascii() and _ENVELOPE_ADDRESS.fullmatch(address):
        return address, False  # nearly every address, at the cost of one check
    if not _ENVELOPE_ADDRESS.fullmatch(address):
        raise Unsendable(outcomes.Outcome(outcomes.BAD_ADDRESS, f"{address}: not a usable address"))
    local, _, domain = address.rpartition("@")
    try:
        local.encode("utf-8")  # (a lone surrogate cannot be written at all)
        if not domain.isascii():
            domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise Unsendable(outcomes.Outcome(
            outcomes.BAD_ADDRESS, f"{address}: the domain cannot be written in IDNA ({error})")
        ) from error
    return f"{local}@{domain}", not local.isascii()


def envelope_sender() -> tuple[str, bool]:
    """MAIL_DEFAULT_SENDER as MAIL FROM, and whether it needs SMTPUTF8; ValueError when no
    server could take it (a set-up error: every message would meet it)."""
    try:
        return envelope_address(parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1])
    except Unsendable as refusal:
        raise ValueError(f"MAIL_DEFAULT_SENDER: {refusal}") from refusal


def utf8_options(connection: smtplib.SMTP) -> list[str] | None:
    """MAIL's options for a message that needs SMTPUTF8 on this connection; None when the
    server does not offer it."""
    if not connection.has_extn("smtputf8"):
        return None
    return ["SMTPUTF8", "BODY=8BITMIME"] if connection.has_extn("8bitmime") else ["SMTPUTF8"]


def envelope(sender: str, recipient: str, content: bytes,
             utf8: list[str] | None) -> tuple[str, str, list[str]]:
    """MAIL FROM, RCPT TO and MAIL's options for one message, given the connection's
    `utf8_options`; Unsendable when no server, or not this one, can take it as it is."""
    address, local_part_utf8 = envelope_address(recipient)
    headers_utf8 = not _headers_are_ascii(content)
    if not (local_part_utf8 or headers_utf8):
        return sender, address, []
    if utf8 is not None:
        return sender, address, utf8
    if local_part_utf8:
        raise Unsendable(outcomes.Outcome(outcomes.UTF8_ADDRESS, (
            f"{recipient}: the mail server does not offer SMTPUTF8, which an address with "
            "such characters before @ needs")))
    raise Unsendable(outcomes.Outcome(outcomes.UTF8_HEADERS, (
        "The message's headers hold UTF-8, and the mail server does not offer SMTPUTF8")))


def _headers_are_ascii(content: bytes) -> bool:
    end = content.find(b"\r\n\r\n")
    return (content if end < 0 else content[:end]).isascii()
