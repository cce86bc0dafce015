"""Property tests for the email builder: any name or subject a person can type yields a message
whose headers parse back to the same text, with no header injection."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klynge_rsvp.notifications import message

# What a form lets through to a header: single-line text (forms refuse control characters).
header_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
    max_size=120,
).map(str.strip).filter(bool)


@pytest.fixture(scope="module")
def app_context():
    from klynge_rsvp import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "MAIL_SERVER": "",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "MAIL_DEFAULT_SENDER": "Beredskapsklyngen <klynge@rsvp.test>",
                      "KLYNGE_BASE_URL": "https://rsvp.test"})
    with app.app_context():
        yield


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=header_text, subject=header_text)
def test_any_name_and_subject_round_trip(app_context, name, subject):
    mail = message.build(kind="test", to_name=name, to_email="person@example.no",
                         subject=subject, text="Hei", html="<p>Hei</p>",
                         now=datetime(2026, 1, 13, 9, 0, tzinfo=UTC))
    parsed = message_from_bytes(mail.message, policy=policy.default)
    assert parsed["Subject"] == subject
    [address] = parsed["To"].addresses
    assert address.addr_spec == "person@example.no"
    # Every character survives, runs of white space as one space; a name with an "@", or one
    # whose encoded run needs more than one encoded word, is left out (headers.py says why).
    if "@" in name or not message.mail_headers.display_name_words(name):
        assert address.display_name == ""
    else:
        assert address.display_name == " ".join(name.split())
    assert all(not part.defects for part in parsed.walk())
    # Nothing a person typed can add a header of its own.
    assert parsed.get_all("Bcc") is None
    assert mail.message.isascii()


@pytest.mark.parametrize("evil", ["Kari\r\nBcc: victim@example.org", "Kari\nBcc: x@y.z",
                                  "Kari\rBcc: x@y.z"])
def test_line_breaks_in_headers_are_refused(app_context, evil):
    with pytest.raises(ValueError, match="line break"):
        message.build(kind="test", to_name="Kari", to_email="kari@example.no", subject=evil,
                      text="Hei", html="<p>Hei</p>", now=datetime(2026, 1, 13, tzinfo=UTC))


@pytest.mark.parametrize("name", ["Nordmann, Kari", 'Bob "Bobby" <b>O\'Brien</b> & Co',
                                  "Ola =?utf-8?q?x?= Nordmann", "Åse Ørjansdatter-Bjørnstjernesen"])
def test_a_name_with_specials_stays_one_name_when_the_to_line_is_long(app_context, name):
    # Flask-Mail's encoded name came out of policy.SMTP's folding of a long line decoded and
    # unquoted: "To: Nordmann, Kari <…>" is two addresses to every mail program.
    address = "kari.nordmann.beredskapsradgiver@eksempel-kommune.no"
    mail = message.build(kind="test", to_name=name, to_email=address, subject="Hei",
                         text="Hei", html="<p>Hei</p>", now=datetime(2026, 1, 13, tzinfo=UTC))
    parsed = message_from_bytes(mail.message, policy=policy.default)
    [to] = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, address)
    header = mail.message.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))


@pytest.mark.parametrize(("name", "line"), [
    ("Kari Nordmann", b"To: Kari Nordmann <kari@eksempel.no>\r\n"),
    ("Nordmann, Kari", b'To: "Nordmann, Kari" <kari@eksempel.no>\r\n'),
    ("Åse Ørjansdatter", b"To: =?utf-8?q?=C3=85se_=C3=98rjansdatter?= <kari@eksempel.no>\r\n"),
])
def test_a_plain_ascii_name_is_written_as_typed_and_others_as_encoded_words(app_context, name,
                                                                             line):
    mail = message.build(kind="test", to_name=name, to_email="kari@eksempel.no", subject="Hei",
                         text="Hei", html="<p>Hei</p>", now=datetime(2026, 1, 13, tzinfo=UTC))
    assert line in mail.message.split(b"\r\n\r\n")[0] + b"\r\n"
