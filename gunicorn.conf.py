"""Gunicorn settings for production: `gunicorn wsgi:app` reads this file from the working directory;
an installed app is served with `gunicorn --config /etc/klynge/gunicorn.conf.py
'klynge_rsvp:create_app()'` (deploy/klynge-web.service, which also starts gunicorn as
Type=notify: it tells systemd when it is ready).

Everything that differs between machines comes from the environment:

    WEB_CONCURRENCY      worker processes (default: 2 × CPU cores + 1, at most 8)
    BIND                 address to listen on (default 127.0.0.1:8000; a load balancer on another
                         machine needs e.g. 0.0.0.0:8000 behind a firewall)
    FORWARDED_ALLOW_IPS  addresses of the load balancers whose X-Forwarded-For / -Proto headers
                         are trusted (default 127.0.0.1; comma-separated; never "*" unless only the
                         balancer can reach this port). Flask-Limiter counts per client address,
                         so this must name the balancer or every visitor shares one limit.
    PROXY_HOPS           how many proxies (load balancers) in front append to X-Forwarded-For
                         (default 0). With 1, the app sees each visitor's own address, so rate
                         limits count per visitor, not per balancer.
    GUNICORN_TIMEOUT     seconds before a silent worker is killed and replaced (default 30)
    GUNICORN_ACCESS_LOG  "-" for gunicorn's own access log, JSON lines on stdout (default: off; the
                         app writes one JSON line per request itself, with the same request id)
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
# Sync workers: a request holds a worker for its whole life, so the database pool per worker is
# small and a slow client cannot starve the others for longer than `timeout`.
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 2
# Every worker imports the app itself: no database connection or thread crosses a fork.
preload_app = False
# Recycle workers now and then, so a slow leak in any library cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Request line and headers are small for this app: refuse anything much larger.
limit_request_line = 4094
limit_request_fields = 100

errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# When turned on: one JSON line, with the request id the app put on the response. The path can
# hold a manage link's secret token (the app's own lines log the route pattern instead).
access_log_format = (
    '{"ts":"%(t)s","request_id":"%({x-request-id}o)s","method":"%(m)s","path":"%(U)s",'
    '"status":%(s)s,"bytes":"%(B)s","duration_ms":%(M)s,"remote":"%(h)s"}'
)
# Gunicorn's own lines (start, worker timeouts, crashes) as JSON on stderr, like the app's; the
# app's records reach the root logger, where each worker's app adds its own JSON handler.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": []},
    "formatters": {"json": {"()": "klynge_rsvp.logs.JsonFormatter"},
                   "line": {"format": "%(message)s"}},
    "handlers": {
        "json_stderr": {"class": "logging.StreamHandler", "formatter": "json",
                        "stream": "ext://sys.stderr"},
        "access_stdout": {"class": "logging.StreamHandler", "formatter": "line",
                          "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json_stderr"],
                           "propagate": False},
        "gunicorn.access": {"level": "INFO" if accesslog else "CRITICAL", "propagate": False,
                            "handlers": ["access_stdout"] if accesslog else []},
    },
}

_proxy_hops = int(os.environ.get("PROXY_HOPS", "0"))


def post_worker_init(worker):
    """Trust X-Forwarded-For/-Proto from exactly PROXY_HOPS proxies (gunicorn alone does not
    set the client address from them)."""
    if _proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        worker.wsgi.wsgi_app = ProxyFix(worker.wsgi.wsgi_app, x_for=_proxy_hops,
                                        x_proto=_proxy_hops)
