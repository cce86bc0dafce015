"""Which webhook addresses we send to: HTTPS, to the public internet (no SSRF).

An organiser's URL is checked when saved (`checked_url`), and the address each delivery's
connection actually reached is checked again before a byte is sent (`SafeAdapter`): a name
that resolved to a public address when saved may resolve to 127.0.0.1 or 10.x later (DNS
rebinding). WEBHOOK_ALLOW_LOOPBACK lets http:// and loopback addresses through, for
development and the tests; nothing lets private or link-local addresses (cloud metadata at
169.254.169.254, the office network) through.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import ClassVar
from urllib.parse import urlsplit

from flask_babel import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import DomainError

MAX_URL_LENGTH = 2000


class RefusedAddress(OSError):
    """The connection reached an address we do not send to."""


def allowed_address(address: str, *, allow_loopback: bool) -> bool:
    """Whether an IP address is one we may connect to."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(url: str, *, allow_loopback: bool) -> str:
    """`url` if we may send to it, else DomainError with what is wrong, in words."""
    url = url.strip()
    if not url:
        raise DomainError(_("Skriv inn adressen webhooken skal sendes til."))
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise DomainError(_("Adressen er ikke en gyldig nettadresse."))
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise DomainError(_("Adressen er ikke en gyldig nettadresse.")) from None
    if parts.scheme not in ("https", "http") or not host:
        raise DomainError(_("Adressen må begynne med https:// og ha et vertsnavn."))
    if parts.scheme == "http" and not (allow_loopback and is_loopback_host(host)):
        raise DomainError(_("Adressen må begynne med https://: webhooker sendes bare kryptert."))
    if parts.username is not None or parts.password is not None:
        raise DomainError(_("Adressen kan ikke ha brukernavn eller passord i seg."))
    if parts.fragment:
        raise DomainError(_("Adressen kan ikke ha en #-del."))
    try:
        found = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DomainError(_("Fant ikke vertsnavnet %(host)s. Sjekk adressen.", host=host)) from None
    if not all(allowed_address(info[4][0], allow_loopback=allow_loopback) for info in found):
        raise DomainError(_("Adressen peker til et internt eller privat nett (%(host)s). "
                            "Webhooker sendes bare til adresser på internett.", host=host))
    return url


# --- the check at connection time ---------------------------------------------------------------


def _checked(sock: socket.socket, allow_loopback: bool) -> socket.socket:
    peer = sock.getpeername()[0]
    if not allowed_address(peer, allow_loopback=allow_loopback):
        sock.close()
        raise RefusedAddress(f"refused address {peer}")
    return sock


class _CheckedHTTPConnection(HTTPConnection):
    allow_loopback = False
    opened: ClassVar[list] = []  # set per adapter (SafeAdapter.init_poolmanager)

    def _new_conn(self) -> socket.socket:
        sock = _checked(super()._new_conn(), self.allow_loopback)
        self.opened.append(sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    allow_loopback = False
    opened: ClassVar[list] = []  # set per adapter (SafeAdapter.init_poolmanager)

    def _new_conn(self) -> socket.socket:
        sock = _checked(super()._new_conn(), self.allow_loopback)
        self.opened.append(sock)
        return sock


class SafeAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse to talk to an address `allowed_address`
    refuses, whatever the name resolved to this time."""

    def __init__(self, *, allow_loopback: bool):
        self.allow_loopback = allow_loopback
        self.opened: list[socket.socket] = []  # the sockets its connections opened
        super().__init__(max_retries=0)

    def cut(self) -> None:
        """End every connection at once (a send that ran out of time): a blocked read returns."""
        for sock in self.opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def forget_closed(self) -> None:
        self.opened[:] = [sock for sock in self.opened if sock.fileno() != -1]

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        allow, opened = self.allow_loopback, self.opened
        http_connection = type("Connection", (_CheckedHTTPConnection,),
                               {"allow_loopback": allow, "opened": opened})
        https_connection = type("Connection", (_CheckedHTTPSConnection,),
                                {"allow_loopback": allow, "opened": opened})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": http_connection}),
            "https": type("Pool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection}),
        }
