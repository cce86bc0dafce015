"""The login limit per client address is one count for all app servers when they share Redis
(RATELIMIT_STORAGE_URI), not one per process: two gunicorn servers answer ten tries between them.
With memory:// each process counts alone, which is why production needs Redis."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest

from tests.scale_out_helpers import environment, start_app_server, stop_all

ATTEMPTS = 14  # the limit is 10 a minute


def try_to_log_in(servers: list[str], count: int) -> list[int]:
    """`count` wrong logins from one browser (one address), taking turns between the servers;
    each with a new address typed, so the per-account lock does not come first."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(servers[0] + "/arrangor/innlogging", timeout=10) as page:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          page.read().decode()).group(1)
    statuses = []
    for n in range(count):
        form = urllib.parse.urlencode({"csrf_token": token, "email": f"gjett{n}@example.no",
                                       "password": "feil passord her"}).encode()
        try:
            with opener.open(servers[n % len(servers)] + "/arrangor/innlogging", form,
                             timeout=10) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as refused:
            statuses.append(refused.code)
            if refused.code == 429:
                body = refused.read().decode()
                assert "For mange forsøk" in body and int(refused.headers["Retry-After"]) > 0
    return statuses


def two_servers(app_config, tmp_path, storage: str) -> tuple[list, list[str]]:
    env = environment(app_config, 25, RATELIMIT_STORAGE_URI=storage)
    started = [start_app_server(env, tmp_path / f"server{n}.log", workers=1) for n in (1, 2)]
    return [process for process, _ in started], [url for _, url in started]


@pytest.fixture
def redis_storage(redis_url):
    """A Redis database of this test's own, empty."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/7"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_two_servers_sharing_redis_count_one_limit(app, app_config, tmp_path, redis_storage):
    processes, urls = two_servers(app_config, tmp_path, redis_storage)
    try:
        statuses = try_to_log_in(urls, ATTEMPTS)
    finally:
        stop_all(processes)
    assert statuses == [422] * 10 + [429] * (ATTEMPTS - 10)


def test_without_redis_each_process_counts_alone(app, app_config, tmp_path):
    """The reason for Redis: with memory:// two processes let twice as many tries through."""
    processes, urls = two_servers(app_config, tmp_path, "memory://")
    try:
        statuses = try_to_log_in(urls, ATTEMPTS)
    finally:
        stop_all(processes)
    assert statuses == [422] * ATTEMPTS
