"""Absolute links for mail and calendar files, built outside any request from KLYNGE_BASE_URL."""

from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, **values) -> str:
    """The full URL of `endpoint` under the configured base URL."""
    base = urlsplit(current_app.config["KLYNGE_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def base_host() -> str:
    """The host part of the base URL, used to make calendar UIDs globally unique."""
    return urlsplit(current_app.config["KLYNGE_BASE_URL"]).hostname or "localhost"


def cant_come_url(registration) -> str:
    """"Jeg kan ikke komme" in a mail: the page that asks to confirm, then frees the seat with
    a POST (a GET changes nothing: mail scanners open links). The registration's secret token
    is what authorises it, as for the manage link (docs/decisions/0019); it is the one personal
    part of the URL, so the mail merge fills it in like the manage link."""
    return absolute_url("manage.cancel", token=registration.token)
