"""What an SMTP server's answer, or an error on the way to it, means for one message: pure
functions, no app (the sender and the mail log use them; test_delivery.py shows them end to end)."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from klynge_rsvp.mail import outcomes
from klynge_rsvp.mail.outcomes import Outcome


@pytest.mark.parametrize(("code", "words", "kind"), [
    (550, b"5.1.1 <x@y.no>: Recipient address rejected: User unknown in virtual mailbox table",
     outcomes.NO_SUCH_RECIPIENT),
    (550, b"5.1.2 Host unknown", outcomes.NO_SUCH_RECIPIENT),
    (550, b"User unknown", outcomes.NO_SUCH_RECIPIENT),  # no enhanced code: read the words
    (551, b"User not local", outcomes.NO_SUCH_RECIPIENT),
    (553, b"5.1.3 Bad recipient address syntax", outcomes.BAD_ADDRESS),
    (552, b"5.2.2 Mailbox full", outcomes.MAILBOX_FULL),
    (552, b"Requested mail action aborted: exceeded storage allocation", outcomes.MAILBOX_FULL),
    (554, b"5.7.1 Message rejected as spam", outcomes.POLICY),
    (550, b"5.7.606 Access denied, banned sending IP", outcomes.POLICY),
    (554, b"Message refused: listed on a blocklist", outcomes.POLICY),
    (553, b"5.6.7 Non-ASCII addresses not permitted for that recipient", outcomes.UTF8_ADDRESS),
    (554, b"5.6.9 UTF-8 header message cannot be transferred", outcomes.UTF8_HEADERS),
    (554, b"5.6.0 rejected", outcomes.REFUSED),
    (550, b"Requested action not taken", outcomes.REFUSED),
    (451, b"4.3.0 try later", outcomes.TRY_LATER),
    (452, b"4.2.2 Mailbox full, try later", outcomes.TRY_LATER),  # a 4xx is never the last word
    (421, b"4.7.0 Too many connections", outcomes.TRY_LATER),
    (450, b"4.1.8 <klynge@rsvp.test>: Sender address rejected: Domain not found",
     outcomes.SENDER_REFUSED),  # Postfix judges the sender at RCPT
])
def test_a_reply_is_named_by_its_enhanced_code_or_its_words(code, words, kind):
    outcome = outcomes.of_reply(code, words)
    assert outcome.kind == kind
    assert outcome.code == code
    assert outcome.text == f"{code} {words.decode()}"
    assert outcome.permanent == (kind in outcomes.PERMANENT)
    assert outcome.permanent == (500 <= code < 600 and kind != outcomes.SENDER_REFUSED)


def test_a_multiline_reply_is_one_line_of_the_servers_words():
    outcome = outcomes.of_reply(550, b"5.7.1 Service unavailable\n5.7.1 see https://x.test/why")
    assert outcome == Outcome(outcomes.POLICY, "550 5.7.1 Service unavailable 5.7.1 see "
                                               "https://x.test/why", 550)


def test_smtplib_errors_become_the_servers_words_never_pythons_repr():
    refused = smtplib.SMTPRecipientsRefused({"x@y.no": (550, b"5.1.1 <x@y.no>: User unknown")})
    assert outcomes.of_error(refused) == Outcome(outcomes.NO_SUCH_RECIPIENT,
                                                 "550 5.1.1 <x@y.no>: User unknown", 550)
    assert outcomes.of_error(smtplib.SMTPDataError(554, b"5.7.1 spam")) == Outcome(
        outcomes.POLICY, "554 5.7.1 spam", 554)
    assert outcomes.of_error(smtplib.SMTPSenderRefused(550, b"5.7.1 not yours", "k@r.test")) \
        == Outcome(outcomes.SENDER_REFUSED, "550 5.7.1 not yours", 550)
    assert outcomes.of_error(smtplib.SMTPSenderRefused(451, b"4.3.0 later", "k@r.test")).kind \
        == outcomes.TRY_LATER
    assert outcomes.of_error(smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")) \
        == Outcome(outcomes.LOGIN_REFUSED, "535 5.7.8 bad credentials", 535)
    assert outcomes.of_error(smtplib.SMTPConnectError(554, b"no service"), connecting=True) \
        == Outcome(outcomes.UNREACHABLE, "554 no service", 554)


def test_network_errors_say_what_happened_to_the_connection():
    assert outcomes.of_error(ConnectionRefusedError(111, "Connection refused"), connecting=True) \
        == Outcome(outcomes.UNREACHABLE, "Connection refused")
    assert outcomes.of_error(socket.gaierror(-2, "Name or service not known"), connecting=True) \
        == Outcome(outcomes.UNREACHABLE, "Name or service not known")
    assert outcomes.of_error(TimeoutError("timed out")) == Outcome(outcomes.TIMEOUT, "timed out")
    assert outcomes.of_error(ConnectionResetError(104, "Connection reset by peer")) == Outcome(
        outcomes.CONNECTION_LOST, "Connection reset by peer")
    assert outcomes.of_error(smtplib.SMTPServerDisconnected("Connection unexpectedly closed")) \
        == Outcome(outcomes.CONNECTION_LOST, "Connection unexpectedly closed")
    assert outcomes.of_error(ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED")).kind == outcomes.TLS


def test_a_421_behind_a_dropped_line_is_read_from_the_error_before_it():
    error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    error.__context__ = smtplib.SMTPResponseException(421, b"4.3.2 Service shutting down")
    assert outcomes.of_error(error) == Outcome(outcomes.TRY_LATER,
                                               "421 4.3.2 Service shutting down", 421)


def test_anything_else_is_an_error_of_ours_named_by_its_type():
    outcome = outcomes.of_error(UnicodeEncodeError("ascii", "ø", 0, 1, "ordinal not in range"))
    assert outcome.kind == outcomes.ERROR and outcome.permanent
    assert outcome.text.startswith("UnicodeEncodeError: ")


@pytest.mark.parametrize(("stored", "kind", "text", "code"), [
    ("SMTPRecipientsRefused: {'x@y.no': (550, b'5.1.1 <x@y.no>: Recipient address rejected: "
     "User unknown')}", outcomes.NO_SUCH_RECIPIENT,
     "550 5.1.1 <x@y.no>: Recipient address rejected: User unknown", 550),
    ("SMTPDataError: (554, b'5.6.0 rejected')", outcomes.REFUSED, "554 5.6.0 rejected", 554),
    ("SMTPDataError: (451, b\"4.3.0 can't now\")", outcomes.TRY_LATER, "451 4.3.0 can't now", 451),
    ("SMTPSenderRefused: (550, b'5.7.1 sender not allowed', 'k@r.test')", outcomes.SENDER_REFUSED,
     "550 5.7.1 sender not allowed", 550),
    ("ConnectionRefusedError: [Errno 111] Connection refused", outcomes.UNREACHABLE,
     "Connection refused", None),
    ("TimeoutError: timed out", outcomes.TIMEOUT, "timed out", None),
    ("SMTPServerDisconnected: Connection unexpectedly closed (ConnectionResetError: [Errno 104] "
     "Connection reset by peer)", outcomes.CONNECTION_LOST, "Connection unexpectedly closed", None),
    ("550 5.1.1 no such user", outcomes.NO_SUCH_RECIPIENT, "550 5.1.1 no such user", 550),
    ("Something nobody foresaw", "", "Something nobody foresaw", None),
])
def test_an_old_row_is_read_from_the_text_the_sender_wrote_then(stored, kind, text, code):
    assert outcomes.of_stored("", None, stored) == Outcome(kind, text, code)


def test_a_row_that_holds_its_kind_is_taken_as_it_is():
    assert outcomes.of_stored(outcomes.MAILBOX_FULL, 552, "552 5.2.2 full") == Outcome(
        outcomes.MAILBOX_FULL, "552 5.2.2 full", 552)
    assert outcomes.of_stored("", None, "") is None
