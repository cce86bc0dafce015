"""Reading Authentication-Results headers as real servers write them, and judging whether our
own server proved a message's From address (pure: no app, no database)."""

import pytest

from klynge_rsvp.mail_authentication import Problem, Result, aligned, judge, organisational_domain, parse

OURS = "mx.rsvp.test"

# As received (white space folded), from the servers' documentation and real messages.
GMAIL = ("mx.google.com; dkim=pass header.i=@firma.no header.s=google header.b=AbCd1234; "
         "arc=pass (i=1 spf=pass spfdomain=firma.no dkim=pass dkdomain=firma.no dmarc=pass "
         "fromdomain=firma.no); spf=pass (google.com: domain of ola@firma.no designates "
         "209.85.220.41 as permitted sender) smtp.mailfrom=ola@firma.no; dmarc=pass (p=NONE "
         "sp=NONE dis=NONE) header.from=firma.no")
MICROSOFT_365 = ("spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=firma.no; dkim=pass (signature was "
                 "verified) header.d=firma.no;dmarc=pass action=none header.from=firma.no;"
                 "compauth=pass reason=100")
RSPAMD = ("mx.example.org; dkim=pass header.d=firma.no header.s=dkim header.b=HxZ7mEwJ; "
          "dmarc=pass (policy=reject) header.from=firma.no; spf=pass (mx.example.org: domain of "
          "ola@firma.no designates 1.2.3.4 as permitted sender) smtp.mailfrom=ola@firma.no")
OPENDKIM_OPENDMARC = ('mx.rsvp.test 1; dkim=pass (2048-bit key; unprotected) header.d=firma.no '
                      'header.i=@firma.no header.b="AbCd/ef+"; dmarc=pass (p=quarantine dis=none) '
                      'header.from=firma.no')


@pytest.mark.parametrize(("header", "server", "expected"), [
    (GMAIL, "mx.google.com", [
        ("dkim", "pass", {"header.i": "@firma.no", "header.s": "google"}),
        ("arc", "pass", {}),
        ("spf", "pass", {"smtp.mailfrom": "ola@firma.no"}),
        ("dmarc", "pass", {"header.from": "firma.no"})]),
    (MICROSOFT_365, "", [
        ("spf", "pass", {"smtp.mailfrom": "firma.no"}),
        ("dkim", "pass", {"header.d": "firma.no"}),
        ("dmarc", "pass", {"header.from": "firma.no", "action": "none"}),
        ("compauth", "pass", {"reason": "100"})]),
    (RSPAMD, "mx.example.org", [
        ("dkim", "pass", {"header.d": "firma.no", "header.b": "HxZ7mEwJ"}),
        ("dmarc", "pass", {"header.from": "firma.no"}),
        ("spf", "pass", {"smtp.mailfrom": "ola@firma.no"})]),
    (OPENDKIM_OPENDMARC, "mx.rsvp.test", [
        ("dkim", "pass", {"header.d": "firma.no", "header.i": "@firma.no", "header.b": "AbCd/ef+"}),
        ("dmarc", "pass", {"header.from": "firma.no"})]),
    # Nested comments with ";" and quotes, a version, a quoted reason, spaces around "=".
    ('mx.rsvp.test 1; dkim=pass (good; signature (nested) ok) header.d=a.no; dkim/1=fail '
     'reason="bad; sig" header.d=b.no; spf = none smtp.mailfrom=x; dmarc=FAIL', "mx.rsvp.test", [
        ("dkim", "pass", {"header.d": "a.no"}), ("dkim", "fail", {"header.d": "b.no", "reason": "bad; sig"}),
        ("spf", "none", {"smtp.mailfrom": "x"}), ("dmarc", "fail", {})]),
    # Quoted authserv-id and values (a property after a quoted value is kept), <address>, and
    # a trailing ";".
    ('"mx.rsvp.test"; dkim=pass header.d="firma.no" header.s=x; spf=pass smtp.mailfrom=<ola@firma.no>;',
     "mx.rsvp.test", [("dkim", "pass", {"header.d": "firma.no", "header.s": "x"}),
                      ("spf", "pass", {"smtp.mailfrom": "<ola@firma.no>"})]),
    ("mx.rsvp.test; none", "mx.rsvp.test", []),
    ("", "", []),
    (";;;==", "", []),
])
def test_real_world_headers_are_read(header, server, expected):
    parsed = parse(header)
    assert parsed.authserv_id == server
    assert [(r.method, r.result) for r in parsed.results] == [(m, r) for m, r, _ in expected]
    for result, (_, _, properties) in zip(parsed.results, expected, strict=True):
        for name, value in properties.items():
            assert result.get(name) == value, (result, name)


def test_a_result_in_words_names_its_domains():
    [dkim, _arc, spf, dmarc] = parse(GMAIL).results
    assert str(dkim) == "dkim=pass (header.i=@firma.no)"
    assert str(spf) == "spf=pass (smtp.mailfrom=ola@firma.no)"
    assert str(dmarc) == "dmarc=pass (header.from=firma.no)"
    assert str(Result("dkim", "none")) == "dkim=none"


@pytest.mark.parametrize(("signing", "sender", "expected"), [
    ("firma.no", "firma.no", True),
    ("firma.no", "post.firma.no", True),  # the parent signs for a subdomain sender
    ("mail.firma.no", "firma.no", True),  # relaxed: a subdomain signs for the parent
    ("a.firma.no", "b.firma.no", True),
    ("evil.example", "firma.no", False),
    ("irma.no", "firma.no", False),  # ends alike, another domain
    ("no", "firma.no", False),  # the public suffix
    ("bergen.no", "kommune.bergen.no", False),  # bergen.no is a public suffix (geographic)
    ("a.bergen.no", "b.bergen.no", False),
    ("a.blogspot.com", "b.blogspot.com", False),  # private section of the list: different owners
    ("xn--bl-zia.no", "xn--bl-zia.no", True),  # blå.no
    ("", "firma.no", False),
])
def test_relaxed_alignment_by_the_public_suffix_list(signing, sender, expected):
    assert aligned(signing, sender) is expected


def test_organisational_domains():
    assert organisational_domain("post.firma.no") == "firma.no"
    assert organisational_domain("bergen.kommune.no") == "bergen.kommune.no"  # kommune.no is public
    assert organisational_domain("no") == "no"


def test_only_the_topmost_header_of_our_server_counts():
    forged = f"{OURS}; dkim=pass header.d=firma.no; dmarc=pass header.from=firma.no"
    ours = f"{OURS}; dkim=none (message not signed); dmarc=none header.from=firma.no"
    verdict = judge([ours, forged], sender="ola@firma.no", authserv_id=OURS)
    assert verdict.problem == Problem.NOT_PROVEN
    assert verdict.header == ours
    assert verdict.relevant == ["dkim=none", "dmarc=none (header.from=firma.no)"]

    # Another server's pass above ours does not count either; it is named for the organiser.
    verdict = judge([RSPAMD, ours], sender="ola@firma.no", authserv_id=OURS.upper())
    assert (verdict.problem, verdict.other_servers) == (Problem.NOT_PROVEN, ("mx.example.org",))

    verdict = judge([forged, ours], sender="ola@firma.no", authserv_id=OURS)
    assert verdict.proven and verdict.sender_domain == "firma.no"


@pytest.mark.parametrize(("headers", "sender", "authserv_id", "problem"), [
    ([OPENDKIM_OPENDMARC], "ola@firma.no", "", Problem.NOT_CONFIGURED),
    ([OPENDKIM_OPENDMARC], "ola@firma.no", "  ", Problem.NOT_CONFIGURED),
    ([], "ola@firma.no", OURS, Problem.NO_HEADER),
    ([MICROSOFT_365], "ola@firma.no", OURS, Problem.NO_HEADER),  # no authserv-id: anyone's
    ([GMAIL], "ola@firma.no", OURS, Problem.NO_HEADER),
    ([f"{OURS}; dkim=pass header.d=firma.no; dmarc=fail header.from=firma.no"], "ola@firma.no", OURS,
     Problem.DMARC_FAIL),
    ([f"{OURS}; dmarc=pass header.from=evil.example"], "ola@firma.no", OURS, Problem.OTHER_DOMAIN),
    ([f"{OURS}; dkim=pass header.d=firma.no; dmarc=none header.from=evil.example"], "ola@firma.no",
     OURS, Problem.OTHER_DOMAIN),
    ([f"{OURS}; spf=pass smtp.mailfrom=firma.no"], "ola@firma.no", OURS, Problem.NOT_PROVEN),
    ([f"{OURS}; dkim=pass header.d=evil.example"], "ola@firma.no", OURS, Problem.NOT_PROVEN),
    ([f"{OURS}; dkim=temperror header.d=firma.no"], "ola@firma.no", OURS, Problem.NOT_PROVEN),
    ([f"{OURS}; dkim=pass header.d=firma.no"], "", OURS, Problem.NOT_PROVEN),  # no single From
    ([OPENDKIM_OPENDMARC], "ola@firma.no", OURS, None),
    ([f"{OURS}; dkim=pass header.i=ola@post.firma.no"], "ola@post.firma.no", OURS, None),
    ([f"{OURS}; dmarc=pass header.from=FIRMA.NO."], "Ola@Firma.no", OURS, None),
    ([f"{OURS}; dkim=pass header.d=xn--bl-zia.no"], "ola@blå.no", OURS, None),
])
def test_verdicts(headers, sender, authserv_id, problem):
    verdict = judge(headers, sender=sender, authserv_id=authserv_id)
    assert verdict.problem == problem
    assert verdict.proven is (problem is None)
