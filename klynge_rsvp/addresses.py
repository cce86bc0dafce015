"""E-mail addresses as people have them: checked, compared, and written for SMTP.

People type `ola@bølle.no` as well as its punycode form `ola@xn--blle-gra.no`: both are one
mailbox. Mail servers that do not speak SMTPUTF8 (most relays) take only the punycode form, in
the envelope and in the headers. A non-ASCII part before the @ (`øyvind@example.org`) can only
be delivered by a relay that offers SMTPUTF8, which the service cannot know when someone
registers, so the forms refuse such addresses with a message saying why (see `check`); the
sender still copes with one that got into the database another way (it fails that one message
with a plain reason when the relay cannot take it).

email-validator does the reading (RFC 5321/5322 syntax, IDNA 2008 with UTS #46 mapping).
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


class AddressError(ValueError):
    """An address that cannot be used, with the reason in English (for logs)."""


@dataclass(frozen=True)
class Checked:
    """An address that passed `check`."""

    normalized: str  # as people read it: the domain in Unicode, lower case (ola@bølle.no)
    smtp: str  # as mail servers take it: the domain in punycode (ola@xn--blle-gra.no)


def check(address: str, *, allow_smtputf8: bool = False) -> Checked:
    """Read an address typed into a form; raise AddressError when it cannot be used.

    `allow_smtputf8=False` (the forms): a non-ASCII local part is refused, since it can only
    be delivered through a relay with SMTPUTF8.
    """
    try:
        valid = validate_email(address.strip(), check_deliverability=False,
                               allow_smtputf8=allow_smtputf8, test_environment=True)
    except EmailNotValidError as error:
        raise AddressError(str(error)) from error
    return Checked(normalized=valid.normalized, smtp=valid.ascii_email or valid.normalized)


def has_non_ascii_local_part(address: str) -> bool:
    """Whether the part before the last @ holds anything but ASCII."""
    return not address.rpartition("@")[0].isascii()


def for_smtp(address: str) -> str:
    """The address as an SMTP envelope and a mail header need it: the domain in punycode.

    Never raises: an address that cannot be converted is returned as it is (the sender then
    fails that one message with a plain reason rather than the composer failing the request).
    A non-ASCII local part stays as it is; only a relay with SMTPUTF8 can take it.
    """
    address = address.strip()
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    try:
        ascii_domain = validate_email(f"x@{domain}", check_deliverability=False,
                                      test_environment=True).ascii_domain
    except EmailNotValidError:
        return address
    return f"{local}@{ascii_domain}"


def key(address: str) -> str:
    """An address folded for comparison: the same for every way of writing one mailbox that
    mail servers treat alike (case, a Unicode or punycode domain, white space around it)."""
    return for_smtp(address).lower()
