"""Who sent a message, as far as our own mail server proved it: its Authentication-Results
header (RFC 8601) read, and DMARC's alignment with the From address checked. Pure: text in,
data out.

Only the header our server wrote counts (its authserv-id is REPLY_AUTHSERV_ID; it prepends its
header, so the topmost with that id): anything below it, and any header with another id, may
have been written by the sender. The sender is proven when that header says `dmarc=pass` for
the From address's domain, or `dkim=pass` for a domain aligned with it (relaxed alignment:
the same organisational domain, by the Public Suffix List that `publicsuffixlist` bundles).

The `authres` package was tried for the parsing and left: it fails on Microsoft 365's header
(no authserv-id), a quoted authserv-id, a trailing ";" and `smtp.mailfrom=<a@b>`, and silently
drops a property after a quoted value (`header.d="a.no" header.s=x` loses header.d).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from publicsuffixlist import PublicSuffixList


class Problem(StrEnum):
    """Why the sender is not proven; the reply waits for an organiser."""

    NOT_CONFIGURED = "not-configured"  # REPLY_AUTHSERV_ID is empty: no header can be trusted
    NO_HEADER = "no-header"  # our server wrote none (or the message passed it by)
    DMARC_FAIL = "dmarc-fail"
    OTHER_DOMAIN = "other-domain"  # our server judged DMARC for another From domain than ours
    NOT_PROVEN = "not-proven"  # neither DMARC pass nor an aligned DKIM pass


@dataclass(frozen=True)
class Result:
    """One result of a header, e.g. dkim=pass header.d=firma.no."""

    method: str  # lower case, without a version: "dkim"
    result: str  # lower case: "pass"
    properties: tuple[tuple[str, str], ...] = ()  # ("header.d", "firma.no"), names in lower case

    def get(self, name: str) -> str:
        """The first value of a property (e.g. "header.d"), unquoted; "" when absent."""
        return next((value for key, value in self.properties if key == name), "")

    def __str__(self) -> str:
        shown = [f"{key}={value}" for key, value in self.properties
                 if key in ("header.d", "header.i", "header.from", "smtp.mailfrom")]
        return f"{self.method}={self.result}" + (f" ({' '.join(shown)})" if shown else "")


@dataclass(frozen=True)
class Header:
    """One Authentication-Results header, parsed."""

    authserv_id: str  # "" when the header has none (Microsoft 365 writes none)
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Verdict:
    """Whether our server proved the From address, and what it said."""

    problem: Problem | None  # None: proven
    authserv_id: str  # REPLY_AUTHSERV_ID as configured
    header: str = ""  # our server's header, white space folded; "" when there is none
    results: tuple[Result, ...] = ()  # its results
    sender_domain: str = ""  # the From address's domain
    claimed_domain: str = ""  # the other domain in a DMARC result (Problem.OTHER_DOMAIN)
    other_servers: tuple[str, ...] = ()  # authserv-ids of the headers that were not ours

    @property
    def proven(self) -> bool:
        return self.problem is None

    @property
    def relevant(self) -> list[str]:
        """Our server's DMARC, DKIM and SPF results in words, e.g. "dkim=pass (header.d=a.no)"."""
        return [str(result) for result in self.results if result.method in ("dmarc", "dkim", "spf")]


def judge(headers: list[str], *, sender: str, authserv_id: str) -> Verdict:
    """The verdict on a message from its Authentication-Results headers (top first) and its
    From address."""
    authserv_id = authserv_id.strip()
    parsed = [(" ".join(str(value).split()), parse(str(value))) for value in headers]
    others = tuple(dict.fromkeys(h.authserv_id for _, h in parsed
                                 if h.authserv_id and h.authserv_id.lower() != authserv_id.lower()))
    domain = domain_of(sender)
    if not authserv_id:
        return Verdict(Problem.NOT_CONFIGURED, authserv_id, sender_domain=domain, other_servers=others)
    ours = next(((text, h) for text, h in parsed if h.authserv_id.lower() == authserv_id.lower()),
                None)
    if ours is None:
        return Verdict(Problem.NO_HEADER, authserv_id, sender_domain=domain, other_servers=others)
    text, header = ours
    found = {"authserv_id": authserv_id, "header": text, "results": header.results,
             "sender_domain": domain, "other_servers": others}
    dmarc = [result for result in header.results if result.method == "dmarc"]
    if any(result.result == "fail" for result in dmarc):
        return Verdict(Problem.DMARC_FAIL, **found)
    claimed = [normalise_domain(result.get("header.from")) for result in dmarc]
    other = next((claim for claim in claimed if claim and claim != domain), "")
    if other:
        return Verdict(Problem.OTHER_DOMAIN, claimed_domain=other, **found)
    if domain and (any(result.result == "pass" for result in dmarc) or any(
            result.result == "pass" and aligned(signing_domain(result), domain)
            for result in header.results if result.method == "dkim")):
        return Verdict(None, **found)
    return Verdict(Problem.NOT_PROVEN, **found)


def signing_domain(result: Result) -> str:
    """A DKIM result's signing domain: header.d, else the domain of header.i."""
    return normalise_domain(result.get("header.d") or result.get("header.i"))


def aligned(signing: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment: the same organisational domain (RFC 7489 3.1)."""
    if not signing or not from_domain:
        return False
    return signing == from_domain or organisational_domain(signing) == organisational_domain(from_domain)


def organisational_domain(domain: str) -> str:
    """The registered domain under its public suffix: post.firma.no → firma.no. A public
    suffix itself (bergen.no) is its own, so it aligns with nothing but itself."""
    return _public_suffixes().privatesuffix(domain) or domain


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list bundled with the package (ICANN and private sections: a.blogspot.com and
    # b.blogspot.com are different organisations); nothing is downloaded.
    return PublicSuffixList()


def domain_of(address: str) -> str:
    """The domain of an address, normalised; "" without one."""
    local, at, domain = address.rpartition("@")
    return normalise_domain(domain) if at and local else ""


def normalise_domain(value: str) -> str:
    """A domain (or the domain of an address) in lower case, without a final dot, IDNA-encoded."""
    domain = value.strip().strip("<>").rpartition("@")[2].strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        return domain


# --- parsing (RFC 8601 section 2.2, and what real servers write) -------------------------------

_PROPERTY = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*((?:"(?:[^"\\]|\\.)*"|[^\s"])+)')
_RESULT = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:/\s*\d+\s*)?=\s*([A-Za-z0-9_-]+)")


def parse(value: str) -> Header:
    """One Authentication-Results header: its authserv-id and results (comments dropped)."""
    segments = _split_outside_quotes(_strip_comments(value), ";")
    first = segments[0] if segments else ""
    if _RESULT.match(first):  # no authserv-id: the header starts with a result (Microsoft 365)
        server, rest = "", segments
    else:
        words = first.split()
        server, rest = (_unquote(words[0]) if words else ""), segments[1:]
    results = []
    for segment in rest:
        match = _RESULT.match(segment)
        if match is None:
            continue
        properties = tuple((name.lower(), _unquote(text))
                           for name, text in _PROPERTY.findall(segment[match.end():]))
        results.append(Result(match.group(1).lower(), match.group(2).lower(), properties))
    return Header(server, tuple(results))


def _unquote(text: str) -> str:
    return re.sub(r'"((?:[^"\\]|\\.)*)"', lambda m: re.sub(r"\\(.)", r"\1", m.group(1)), text)


def _strip_comments(value: str) -> str:
    """The header without its (comments), which may nest and hold escapes and quotes."""
    out, depth, quoted, i = [], 0, False, 0
    while i < len(value):
        char = value[i]
        if char == "\\" and (depth or quoted):
            if not depth:
                out.append(value[i:i + 2])
            i += 2
            continue
        if char == '"' and not depth:
            quoted = not quoted
        elif char == "(" and not quoted:
            depth += 1
            i += 1
            continue
        elif char == ")" and depth and not quoted:
            depth -= 1
            i += 1
            continue
        if not depth:
            out.append(char)
        i += 1
    return "".join(out)


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    parts, current, quoted, i = [], [], False, 0
    while i < len(value):
        char = value[i]
        if char == "\\" and quoted:
            current.append(value[i:i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return [part.strip() for part in parts]
