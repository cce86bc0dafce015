"""Klynge RSVP's benchmark suite: `python -m bench` (see bench/README.md)."""
