"""The load client for every HTTP benchmark, baseline and subject alike.

`python -m bench.loadgen '<json spec>'` runs `clients` threads, each with its own keep-alive
http.client connection and cookie jar, until `duration` seconds or `max_count` iterations, and
prints one JSON object: iterations, errors, elapsed seconds, each iteration's latency (ms) and the
client's own CPU time (so its cost on the shared cores can be reported).

Modes (one iteration each):
    register  GET the gathering page, POST the form with its CSRF token and a fresh address,
              expect 303 to the receipt, GET the receipt (a new visitor: cookies cleared first)
    insert    POST one row to the baseline app
    get       GET `path` (after logging in when `login` is given)
"""

from __future__ import annotations

import http.client
import json
import re
import resource
import sys
import threading
import time
import urllib.parse

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Failure(Exception):
    pass


class Client:
    def __init__(self, base: str):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            raise
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.will_close:
            self.connection.close()  # the next request opens a new one
        return response.status, response.headers, data


def expect(status: int, wanted: int, what: str) -> None:
    if status != wanted:
        raise Failure(f"{what}: HTTP {status}, expected {wanted}")


def register(client: Client, spec: dict, n: str) -> None:
    client.cookies.clear()
    page = f"/samlinger/{spec['slug']}"
    status, _, body = client.request("GET", page)
    expect(status, 200, "GET form")
    match = TOKEN.search(body.decode())
    if not match:
        raise Failure("no CSRF token on the page")
    status, headers, _ = client.request("POST", page, {
        "csrf_token": match.group(1), "name": f"Deltaker {n}",
        "email": f"{spec['prefix']}-{n}@example.no", "job_title": "Rådgiver",
        "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y",
    })
    expect(status, 303, "POST form")
    location = headers.get("Location", "")
    if not location.endswith(f"{page}/kvittering"):
        raise Failure(f"POST redirected to {location!r}, not the receipt")
    if spec.get("receipt", True):
        status, _, _ = client.request("GET", urllib.parse.urlsplit(location).path)
        expect(status, 200, "GET receipt")


def insert(client: Client, spec: dict, n: str) -> None:
    status, _, _ = client.request("POST", "/insert", {"email": f"{spec['prefix']}-{n}@bench.test"})
    expect(status, 201, "POST insert")


def get(client: Client, spec: dict, n: str) -> None:
    status, _, _ = client.request("GET", spec["path"])
    expect(status, 200, f"GET {spec['path']}")


def log_in(client: Client, login: dict) -> None:
    status, _, body = client.request("GET", "/arrangor/innlogging")
    expect(status, 200, "GET login")
    token = TOKEN.search(body.decode()).group(1)
    status, _, _ = client.request("POST", "/arrangor/innlogging",
                                  {"csrf_token": token, **login})
    expect(status, 302, "POST login")


MODES = {"register": register, "insert": insert, "get": get}


def run(spec: dict) -> dict:
    action = MODES[spec["mode"]]
    duration, max_count = spec.get("duration", 5.0), spec.get("max_count", 100_000)
    pace = spec.get("pace", 0.0)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = [0]
    clients = [Client(spec["base"]) for _ in range(spec.get("clients", 1))]
    for client in clients:
        if spec.get("login"):
            log_in(client, spec["login"])
    start_cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    deadline = started + duration

    def loop(number: int, client: Client) -> None:
        i = 0
        while time.monotonic() < deadline:
            with lock:
                if issued[0] >= max_count:
                    return
                issued[0] += 1
            i += 1
            begun = time.perf_counter()
            try:
                action(client, spec, f"{number}-{i}")
            except (Failure, http.client.HTTPException, OSError) as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
            else:
                elapsed = (time.perf_counter() - begun) * 1000
                with lock:
                    latencies.append(elapsed)
            if pace:
                time.sleep(pace)

    threads = [threading.Thread(target=loop, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    end_cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (end_cpu.ru_utime - start_cpu.ru_utime) + (end_cpu.ru_stime - start_cpu.ru_stime)
    return {"count": len(latencies), "errors": len(errors), "error_samples": errors[:5],
            "elapsed": elapsed, "latencies_ms": latencies, "cpu_seconds": cpu}


if __name__ == "__main__":
    json.dump(run(json.loads(sys.argv[1])), sys.stdout)
