"""The real app for the benchmarks: wsgi:app with the rate limits raised (one client address
sends thousands of registrations a minute here). Nothing else differs."""

from klynge_rsvp import create_app

app = create_app({"REGISTRATION_RATE_LIMIT": "1000000 per minute",
                  "LOGIN_RATE_LIMIT": "1000000 per minute"})
