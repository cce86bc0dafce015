"""The WSGI entry point in a checkout: `gunicorn wsgi:app`, `flask --app wsgi …`. An installed
app needs no file: `gunicorn 'klynge_rsvp:create_app()'` and the `klynge` command."""

from klynge_rsvp import create_app

app = create_app()
