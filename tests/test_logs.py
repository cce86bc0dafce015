"""Structured logs: a request id on every response and every log line of the request."""

import io
import json
import logging

import pytest

from klynge_rsvp import logs


@pytest.fixture
def log_lines():
    """What the app's JSON handler would write, for everything logged during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_sane_incoming_request_id_is_kept_and_returned(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c.42"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c.42"
    [access] = [line for line in log_lines() if line["logger"] == "klynge_rsvp.access"]
    assert access["request_id"] == "lb-7f3a9c.42"
    assert access["route"] == "/healthz" and access["status"] == 200
    assert access["method"] == "GET" and access["duration_ms"] >= 0


@pytest.mark.parametrize("incoming", [None, "", "two words", "a\"quote", "x" * 200, "ø-id",
                                      "-starts-with-dash"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, incoming):
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert first != incoming and len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_every_line_logged_in_a_request_carries_its_id_and_others_do_not(app, client, log_lines):
    @app.get("/_test/logs")
    def _logs():
        logging.getLogger("klynge_rsvp.somewhere").warning("noe skjedde: %s", "ærlig talt")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("klynge_rsvp.other").exception("det gikk galt")
        return "ok"

    response = client.get("/_test/logs", headers={"X-Request-ID": "abc-123"})
    logging.getLogger("klynge_rsvp.outside").info("utenfor en forespørsel")

    lines = log_lines()
    inside = [line for line in lines if line["logger"] != "klynge_rsvp.outside"]
    assert [line["logger"] for line in inside] == [
        "klynge_rsvp.somewhere", "klynge_rsvp.other", "klynge_rsvp.access"]
    assert {line["request_id"] for line in inside} == {"abc-123"}
    assert response.headers["X-Request-ID"] == "abc-123"
    assert inside[0]["message"] == "noe skjedde: ærlig talt" and inside[0]["level"] == "WARNING"
    assert "ValueError: boom" in inside[1]["exception"]
    [outside] = [line for line in lines if line["logger"] == "klynge_rsvp.outside"]
    assert "request_id" not in outside


def test_the_access_line_names_the_route_never_the_path_with_its_token(client, log_lines):
    client.get("/pamelding/hemmelig-token-123")  # a manage link: the token is a secret
    text = "\n".join(json.dumps(line) for line in log_lines())
    assert "hemmelig-token-123" not in text
    [access] = [line for line in log_lines() if line["logger"] == "klynge_rsvp.access"]
    assert access["route"] == "/pamelding/<token>"


def test_json_formatter_writes_one_line_of_json_per_record():
    record = logging.LogRecord("klynge_rsvp.x", logging.ERROR, __file__, 1, "linje 1\nlinje 2",
                               None, None)
    record.request_id = "r1"
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    assert json.loads(text)["message"] == "linje 1\nlinje 2"
    assert json.loads(text)["request_id"] == "r1"
