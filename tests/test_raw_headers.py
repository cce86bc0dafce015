"""Every header the service writes is right in its raw bytes, as mail programs read them.

Checked on the raw message with tests/mail_checks.py: a structure check of its own (RFC 5322
folding, RFC 2047 encoded words, list headers, address fields) and four decoders that do not
share the code that wrote the message (two readers of Python's email package, a strict RFC 2047
reader written for these tests, and Perl's Encode). Over a property-based corpus of titles and
names, and over the mail of every kind the service sends.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from klynge_rsvp.mail import headers
from klynge_rsvp.names import looks_like_a_link
from klynge_rsvp.notifications import message
from tests.mail_checks import check_raw, header_fields, perl_available, perl_decode, readings

NOW = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)

# What people really type into titles and names, and what breaks header writers.
FRAGMENTS = [
    "Sommermøte", "☀️", "strømbrudd", "på", "Østlandet", "–", "øvelse", "sommertid", "Ågotnes",
    "🚨", "Beredskapsdag", "Påmeldt:", "i", "regi", "av", "kommunen", "Bergen", "UiB", "(UiB)",
    "Nordmann,", "Kari", "Ola", "Åse", "Ørjan", '"Sitat"', "O'Brien", "<b>", "<x>", "&", ";",
    "=?", "?=", "=?utf-8?q?x?=", "=?utf-8?b?w4U=?=", "e\u0301", "Zo\u0308\u0301\u0327e",
    "👩\u200d👩\u200d👧", "🇳🇴", "👍🏽", "日本語", "Привет", "ﷺ", "a" * 90, "Bjørnstjernesen-" * 6,
    "æøåÆØÅ", "x" * 74 + "é", "\\", "_", "?", "=", "ÆØÅ🙂", "–øvelse", "💥–", "A.", "J.R.R.",
]
text = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14).flatmap(
    lambda words: st.lists(st.sampled_from([" ", " ", " ", "  ", ""]), min_size=len(words) - 1,
                           max_size=len(words) - 1).map(
        lambda gaps: "".join(w + g for w, g in zip(words, [*gaps, ""], strict=True))))


@pytest.fixture(scope="module")
def app_context():
    from klynge_rsvp import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "MAIL_SERVER": "",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "MAIL_DEFAULT_SENDER": "Beredskapsklyngen Vest – Øvelse <klynge@rsvp.test>",
                      "KLYNGE_BASE_URL": "https://rsvp.test"})
    with app.app_context():
        yield


def expected_name(name: str) -> str:
    """The display name as it should arrive: white space runs as one space; none at all for a
    name that reads as a link or holds an "@" (names.py: it could pass for a second recipient)
    or one that cannot be written alike for every reader (headers.display_name_words)."""
    if looks_like_a_link(name) or (name.split() and not headers.display_name_words(name)):
        return ""
    return " ".join(name.split())


SENDER = ("Beredskapsklyngen Vest – Øvelse", "klynge@rsvp.test")


def assert_reads_right(raw: bytes, *, subject: str, to: tuple[str, str]) -> None:
    problems = check_raw(raw)
    assert not problems, "\n".join(problems) + "\n\n" + raw.split(b"\r\n\r\n")[0].decode()
    for decoder, reading in readings(raw).items():
        assert reading.subject == subject, (decoder, raw.split(b"\r\n\r\n")[0].decode())
        assert reading.to == [to], (decoder, raw.split(b"\r\n\r\n")[0].decode())
        assert reading.sender == [SENDER], decoder


def build(subject: str, name: str, address: str = "kari.nordmann@eksempel-kommune.no") -> bytes:
    return message.build(kind="test", to_name=name, to_email=address, subject=subject,
                         text="Hei", html="<p>Hei</p>", now=NOW).message


needs_perl = pytest.mark.skipif(not perl_available(), reason="Perl's Encode is not installed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=text, name=text)
@example(subject="Påmeldt: Sommermøte ☀️ strømbrudd på Østlandet – øvelse i regi av kommunen",
         name="Kari Nordmann")
@example(subject="Påmeldt: Beredskapsdag 🚨 sommertid – øvelse på Ågotnes", name="Nordmann, Kari")
@example(subject="sommertid – øvelse", name="Eve, victim@example.org, <x> y")
@example(subject="Ola =?utf-8?q?x?= Nordmann", name='Bob "Bobby" <b>O\'Brien</b> & Co')
def test_titles_and_names_read_the_same_in_every_decoder(app_context, subject, name):
    raw = build(subject, name)
    assert_reads_right(raw, subject=subject.strip(), to=(expected_name(name),
                                                         "kari.nordmann@eksempel-kommune.no"))


@needs_perl
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subjects=st.lists(text, min_size=1, max_size=20))
def test_perl_reads_every_subject_alike(app_context, subjects):
    fields = [{f.key: f.value for f in header_fields(build(s, "Kari"))[0]}["subject"] for s in subjects]
    assert perl_decode(fields) == [s.strip() for s in subjects]


# Any single-line text a form lets through: no control, surrogate or line-separator characters.
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                   min_size=1, max_size=120).map(str.strip).filter(bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=any_text, name=any_text)
def test_any_text_reads_the_same_in_every_decoder(app_context, subject, name):
    raw = build(subject, name, "person@example.no")
    assert_reads_right(raw, subject=subject, to=(expected_name(name), "person@example.no"))


@pytest.mark.parametrize(("subject", "wrong"), [
    # What Python 3.11's policy.SMTP made of these (the issue's findings).
    ("Sommermøte ☀️ strømbrudd på Østlandet", "?=tlandet"),
    ("sommertid – øvelse", None),
    ("Påmeldt: Beredskapsdag 🚨 sommertid – øvelse på Ågotnes", None),
])
def test_the_subjects_that_were_folded_wrongly(app_context, subject, wrong):
    raw = build(subject, "Kari")
    if wrong:
        assert wrong.encode() not in raw
    assert_reads_right(raw, subject=subject, to=("Kari", "kari.nordmann@eksempel-kommune.no"))


def test_plain_words_stay_plain_and_encoded_runs_hold_their_spaces(app_context):
    line = headers.unstructured("Subject", "Påmeldt: sommertid – øvelse i Bergen")
    words = line.decode().removeprefix("Subject:").split()
    assert [w for w in words if not w.startswith("=?")] == ["sommertid", "i", "Bergen"]
    # "– øvelse" is one run: its space travels inside the encoding.
    assert words[2].startswith("=?") and words[3] == "i"
    assert headers.unstructured("Subject", "Hei og velkommen") == b"Subject: Hei og velkommen\r\n"


@pytest.mark.parametrize("name", [
    "Eve, victim@example.org, <x> y…", "victim@example.org", "Eve <victim@example.org>",
    "Øyvind, victim@example.org", "=?utf-8?q?victim=40example=2Eorg?=",
])
def test_a_display_name_can_never_add_a_recipient(app_context, name):
    raw = build("Hei", name, "eve@example.no")
    assert_reads_right(raw, subject="Hei", to=(expected_name(name), "eve@example.no"))
    if "@" in name:
        to = {f.key: f.value for f in header_fields(raw)[0]}["to"]
        assert "victim" not in to.lower()


def test_a_long_ascii_name_is_one_quoted_name_on_its_own_line(app_context):
    name = "Nordmann, Kari Elisabeth, seniorrådgiver".replace("å", "a")
    raw = build("Hei", name, "kari.nordmann.beredskapsradgiver@eksempel-kommune.no")
    assert_reads_right(raw, subject="Hei",
                       to=(name, "kari.nordmann.beredskapsradgiver@eksempel-kommune.no"))


@pytest.mark.parametrize("name", ["Nordmann, Kari", 'Bob "Bobby" <b>O\'Brien</b> & Co',
                                  "Ola =?utf-8?q?x?= Nordmann", "Åse Ørjansdatter-Bjørnstjernesen"])
def test_a_name_with_specials_stays_one_name_when_the_to_line_is_long(app_context, name):
    # Flask-Mail's encoded name came out of policy.SMTP's folding of a long line decoded and
    # unquoted: "To: Nordmann, Kari <…>" is two addresses to every mail program.
    address = "kari.nordmann.beredskapsradgiver@eksempel-kommune.no"
    assert_reads_right(build("Hei", name, address), subject="Hei", to=(name, address))


@pytest.mark.parametrize(("name", "line"), [
    ("Kari Nordmann", b"To: Kari Nordmann <kari@eksempel.no>\r\n"),
    ("Nordmann, Kari", b'To: "Nordmann, Kari" <kari@eksempel.no>\r\n'),
    ("Åse Ørjansdatter", b"To: =?utf-8?q?=C3=85se_=C3=98rjansdatter?= <kari@eksempel.no>\r\n"),
])
def test_a_plain_ascii_name_is_written_as_typed_and_others_as_encoded_words(app_context, name, line):
    assert line in build("Hei", name, "kari@eksempel.no").split(b"\r\n\r\n")[0] + b"\r\n"


def test_an_internationalised_domain_is_written_in_punycode(app_context):
    mail = message.build(kind="test", to_name="Ola Bølle", to_email="ola@bølle.no", subject="Hei",
                         text="Hei", html="<p>Hei</p>", now=NOW)
    assert mail.recipient == "ola@xn--blle-gra.no"
    assert_reads_right(mail.message, subject="Hei", to=("Ola Bølle", "ola@xn--blle-gra.no"))


def test_list_headers_are_plain_ascii(app_context):
    url = "https://rsvp.test/nyhetsbrev/avmelding/" + "T" * 43
    fields = headers.uri_list("List-Unsubscribe", [url, "mailto:klynge@rsvp.test?subject=unsubscribe"])
    assert fields == (f"List-Unsubscribe: <{url}>,\r\n <mailto:klynge@rsvp.test?subject=unsubscribe>\r\n"
                      .encode())
    assert headers.token("List-Unsubscribe-Post", "List-Unsubscribe=One-Click") == \
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    assert headers.list_id("Beredskapsklyngen Vest – Øvelse", "nyhetsbrev.rsvp.test") == \
        b"List-Id: Beredskapsklyngen Vest =?utf-8?q?=E2=80=93_=C3=98velse?=\r\n <nyhetsbrev.rsvp.test>\r\n"
    with pytest.raises(ValueError):
        headers.uri_list("List-Unsubscribe", ["https://rsvp.test/ø"])


@pytest.mark.parametrize("evil", ["Kari\r\nBcc: victim@example.org", "Kari\nBcc: x@y.z",
                                  "Kari\rBcc: x@y.z", "Kari\u2028Bcc: x@y.z"])
def test_line_breaks_are_refused_in_every_field(app_context, evil):
    with pytest.raises(ValueError, match="line break"):
        build(evil, "Kari")
    with pytest.raises(ValueError, match="line break"):
        build("Hei", evil)


def test_clusters_keep_a_letter_with_its_marks_and_an_emoji_with_its_modifiers():
    assert headers.clusters("e\u0301a👍🏽🇳🇴👩\u200d👧x") == ["e\u0301", "a", "👍🏽", "🇳🇴", "👩\u200d👧", "x"]


# --- the mail of every kind the service sends, as the SMTP server received it ---------------


@pytest.fixture
def hostile_sender(app_config):
    app_config["MAIL_DEFAULT_SENDER"] = f"{SENDER[0]} <{SENDER[1]}>"


# The name before and after a change on the manage page: quotes, angle brackets, an address.
BEFORE, AFTER = "Åse «Før» Ås", 'Åse "Etter" <ase@example.org> Ås'


def test_every_kind_of_mail_reads_right_as_received(hostile_sender, smtp_config, app, smtp_server,
                                                   tmp_path):
    """Drive every occasion for mail with hard titles and names (some audiences large enough
    for the mail merge), deliver through a real SMTP server and check each received message.
    The messages are left in the test's tmp_path as .eml files, for other tools to read."""
    from datetime import timedelta

    from flask_babel import force_locale

    from klynge_rsvp import (
        announcements,
        checkin,
        feedback,
        gatherings,
        lifecycle,
        mailing_list,
        reminders,
        rsvp,
    )
    from klynge_rsvp.extensions import db
    from klynge_rsvp.labels import KIND_LABELS
    from klynge_rsvp.mail import delivery
    from klynge_rsvp.models import Audience, GatheringMode, GatheringStatus, OutboxMessage
    from tests.conftest import person, registration_request
    from tests.lifecycle_helpers import organiser

    title = 'Beredskapsdag 🚨 sommertid – øvelse på Ågotnes, "Nordmann" <b> =?utf-8?q?x?='
    names = ["Nordmann, Åse", "Eve, victim@example.org, <x> y…", "Ørjan «Østlandet» Ødegård",
             "Kari 👩\u200d👩\u200d👧 Nordmann", "Zoe\u0308 O'Brien", "Ola Bølle"]
    emails = ["ase@example.no", "eve@example.no", "orjan@example.no", "kari@example.no",
              "zoe@example.no", "ola@bølle.no"]
    start = NOW + timedelta(days=30)
    with app.app_context():
        by = organiser()
        gathering = gatherings.create(
            title=title, format="Frokostmøte", starts_at=start, ends_at=start + timedelta(hours=2),
            venue_name="Ole Bull Scene", venue_address="Øvre Ole Bulls plass 3, 5012 Bergen",
            host="Bergen kommune", description="Om beredskap.", status=GatheringStatus.PUBLISHED,
            now=NOW, slug="beredskapsdag", capacity=5, reminder_days_before=2)
        people = []
        for n, (name, email) in enumerate(zip(names, emails, strict=True), start=1):
            language = ("nb", "nn", "en")[n % 3]
            with force_locale(language):
                [outcome] = rsvp.register(gathering, registration_request(
                    n, person=person(n, name=name, email=email), language=language), now=NOW)
            people.append(outcome.registration)
        rsvp.register(gathering, registration_request(6, person=person(6, name=names[5], email=emails[5])),
                      now=NOW)  # already registered (the sixth is waiting)
        rsvp.renew_link(people[0], now=NOW)
        # A name changed (the invitation again) and an address corrected (REQUEST to the new,
        # CANCEL to the old), on a gathering of their own so the names above stay as they are.
        other = gatherings.create(
            title=title, format="Frokostmøte", starts_at=start, ends_at=start + timedelta(hours=2),
            venue_name="Ole Bull Scene", venue_address="Øvre Ole Bulls plass 3, 5012 Bergen",
            host="Bergen kommune", description="Om beredskap.", status=GatheringStatus.PUBLISHED,
            now=NOW, slug="navnebytte", capacity=5)
        [changing] = rsvp.register(other, registration_request(
            7, person=person(7, name=BEFORE, email="endre@example.no")), now=NOW)
        changing = changing.registration
        rsvp.change_details(changing, rsvp.Details(
            name=AFTER, job_title="", organisation_name="Bergen kommune",
            sector=changing.organisation.sector), now=NOW)
        rsvp.correct_address(changing, "rettet@example.no", now=NOW, by=by)
        # An online participant, and a new meeting link (meeting_changed), on a gathering of
        # its own.
        online = gatherings.create(
            title=title, format="Webinar", starts_at=start, ends_at=start + timedelta(hours=2),
            venue_name="Digitalt", status=GatheringStatus.PUBLISHED, now=NOW, slug="digitalt",
            mode=GatheringMode.ONLINE, meeting_url="https://meet.example.no/j/1")
        rsvp.register(online, registration_request(
            8, person=person(8, name=names[0], email="digital@example.no")), now=NOW)
        gatherings.update(online, {"meeting_url": "https://meet.example.no/j/2"}, now=NOW, by=by)
        hybrid = gatherings.create(
            title=title, format="Seminar", starts_at=start, ends_at=start + timedelta(hours=2),
            venue_name="Ole Bull Scene", status=GatheringStatus.PUBLISHED, now=NOW, slug="hybrid",
            mode=GatheringMode.HYBRID, meeting_url="https://meet.example.no/j/3")
        [switching] = rsvp.register(hybrid, registration_request(
            9, person=person(9, name=names[2], email="bytter@example.no", mode="in_person")),
            now=NOW)
        rsvp.switch_mode(switching.registration, "online", now=NOW)  # mode_changed
        reminders.send_reminders(gathering, now=start - timedelta(days=1))
        later = NOW + timedelta(minutes=1)
        lifecycle.move(gathering, starts_at=start + timedelta(hours=1), ends_at=start + timedelta(hours=3),
                       venue_name="Bergen rådhus", venue_address="Rådhusgaten 10, 5014 Bergen",
                       message="Ny tid – «beklager»", now=later, by=by)
        rsvp.cancel(people[1], now=later)  # a seat frees: the sixth is promoted
        lifecycle.postpone(gathering, message="Utsatt på ubestemt tid", now=later, by=by)
        new_start = start + timedelta(days=14)
        lifecycle.reschedule(gathering, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                             venue_name="Ole Bull Scene", venue_address="Øvre Ole Bulls plass 3",
                             reconfirm_deadline=new_start - timedelta(days=7), message="", now=later,
                             by=by)
        reminders.send_reconfirm_reminders(gathering, now=new_start - timedelta(days=6))
        # After the other gathering: the survey to the one checked in there.
        checkin.check_in(changing, now=start, by=by)
        assert feedback.send_for(other, now=start + timedelta(hours=3)) == 1
        subscriber = mailing_list.sign_up("abonnent@example.no", "Åse «Abonnent» Ås", now=NOW)
        mailing_list.confirm(subscriber, now=NOW)
        for audience in (Audience.CONFIRMED, Audience.MAILING_LIST):
            announcement = announcements.create(
                gathering=gathering, audience=audience, by=by, now=later,
                subject="Viktig: sommertid – øvelse på Ågotnes 🚨 (husk «ID-kort»)", body="Hei!")
            announcements.send(announcement, by=by, now=later)
        lifecycle.cancel(gathering, message="Avlyst – beklager", now=new_start - timedelta(days=5), by=by)
        db.session.commit()
        rows = {row.message: row for row in db.session.scalars(db.select(OutboxMessage))}
        while delivery.deliver_due().claimed:
            pass
        received = list(smtp_server.handler.messages)
        assert len(received) == len(rows)
        by_address = {**dict(zip(emails, names, strict=True)), "digital@example.no": names[0],
                      "bytter@example.no": names[2],
                      "endre@example.no": AFTER, "rettet@example.no": AFTER}
        kinds = set()
        for envelope in received:
            raw = envelope.original_content
            row = rows[raw]  # exactly the bytes that were queued
            (tmp_path / f"{len(list(tmp_path.iterdir())):02d}-{row.kind}.eml").write_bytes(raw)
            kinds.add(row.kind)
            [address] = envelope.rcpt_tos
            assert address == row.recipient and address.isascii()
            name = "" if row.kind == "mailing_list_confirm" else \
                by_address.get(address, names[5] if address == "ola@xn--blle-gra.no" else "Åse «Abonnent» Ås")
            if address == "endre@example.no" and row.kind == "confirmation":
                name = BEFORE
            assert_reads_right(raw, subject=row.subject, to=(expected_name(name), address))
        assert kinds == set(KIND_LABELS), set(KIND_LABELS) - kinds
