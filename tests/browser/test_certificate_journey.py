"""The attendance certificate in a real browser: the link on the manage page of someone checked
in at a gathering that is over, the PDF it downloads, and the verification page its QR code
opens, axe clean in Bokmål, Nynorsk and English."""

import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from klynge_rsvp import checkin, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.browser.conftest import axe_violations
from tests.conftest import person, registration_request

pytestmark = pytest.mark.browser

NAME = "Åse Ødegård-Ærø"


@pytest.fixture
def attended(app, make_gathering):
    """Åse's manage token: she was checked in at a gathering that ended a month ago."""
    now = utcnow()
    with app.app_context():
        gathering = make_gathering(title="Øvelse på Ål", starts_at=now - timedelta(days=30),
                                   ends_at=now - timedelta(days=30) + timedelta(hours=3),
                                   now=now - timedelta(days=60))
        [outcome] = rsvp.register(gathering, registration_request(1, person=person(1, name=NAME)),
                                  now=now - timedelta(days=45))
        checkin.check_in(outcome.registration, now=now - timedelta(days=30), by=None)
        db.session.commit()
        return outcome.registration.token


@pytest.mark.parametrize(("language", "switch", "link", "valid"), [
    ("nb", None, "Last ned deltakerbevis (PDF)", "Gyldig."),
    ("nn", "Nynorsk", "Last ned deltakarbevis (PDF)", "Gyldig."),
    ("en", "English", "Download your certificate of attendance (PDF)", "Valid."),
])
def test_download_the_certificate_and_verify_it(live_url, page: Page, attended, screenshot,
                                                language, switch, link, valid):
    page.goto(f"{live_url}/pamelding/{attended}")
    if switch:
        page.get_by_role("link", name=switch, exact=True).click()
    assert axe_violations(page) == []
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link).click()
    download = download_info.value
    assert download.suggested_filename == "deltakerbevis.pdf"
    body = download.path().read_bytes()
    pdf = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert NAME in pdf
    url = re.search(r"https?://\S+/bevis/[\w-]+", pdf).group(0)

    page.goto(live_url + url[url.index("/bevis/"):])
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text(valid)
    expect(page.locator("main")).to_contain_text(NAME)
    assert axe_violations(page) == []
    screenshot(page, f"certificate-verify-{language}")

    page.goto(f"{live_url}/bevis/ukjent-kode")
    expect(page.locator("main")).not_to_contain_text(NAME)
    assert axe_violations(page) == []
