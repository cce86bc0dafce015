"""Calendar feeds (.ics) for calendar programs to subscribe to."""

from flask import Blueprint

bp = Blueprint("feeds", __name__)
