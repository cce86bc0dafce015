"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from klynge_rsvp import create_app

app = create_app()
