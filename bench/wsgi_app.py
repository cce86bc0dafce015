"""The real app for the benchmarks: wsgi:app with the rate limits raised (one client address
sends thousands of registrations a minute here, to one gathering). Nothing else differs."""

from klynge_rsvp import create_app

app = create_app({"REGISTRATION_RATE_LIMIT": "1000000 per minute",
                  "REGISTRATION_GATHERING_RATE_LIMIT": "1000000 per minute",
                  "LOGIN_RATE_LIMIT": "1000000 per minute"})
