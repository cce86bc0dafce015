"""The public API read by a page of another site, in Debian's Chromium: the page is served from
127.0.0.2, the app from 127.0.0.1, so the browser applies CORS for real (a preflight for
If-None-Match, then the read, with only the exposed headers visible to the page)."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db

pytestmark = pytest.mark.browser

OTHER_SITE_PAGE = b"<!doctype html><html lang='nb'><title>Et annet nettsted</title><p>Hei</p>"


class _OtherSite(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(OTHER_SITE_PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_site():
    server = ThreadingHTTPServer(("127.0.0.2", 0), _OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


READ = """async ([url, etag]) => {
  const response = await fetch(url, etag ? {headers: {"If-None-Match": etag}} : {});
  return {status: response.status, etag: response.headers.get("ETag"),
          link: response.headers.get("Link"), cookie: response.headers.get("Set-Cookie"),
          body: response.status === 200 ? await response.json() : null};
}"""


def test_another_site_reads_the_gatherings_in_a_browser(live_url, page: Page, app,
                                                        make_gathering, other_site):
    with app.app_context():
        slug = make_gathering(title="Frokostmøte om flom", now=utcnow(),
                              starts_at=utcnow() + timedelta(days=20)).slug
        db.session.commit()
    page.goto(other_site)
    url = f"{live_url}/api/v1/gatherings?per_page=5"
    first = page.evaluate(READ, [url, None])
    assert first["status"] == 200
    assert [item["identifier"] for item in first["body"]["items"]] == [slug]
    assert first["etag"] and 'rel="first"' in first["link"]  # exposed to the page
    assert first["cookie"] is None
    # If-None-Match is no "simple" header: Chromium asks first (OPTIONS), then reads.
    again = page.evaluate(READ, [url, first["etag"]])
    assert again["status"] == 304
