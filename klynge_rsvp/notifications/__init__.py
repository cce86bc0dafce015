"""Every email the service sends: one compose_* function per email, grouped by occasion.

`message.py` builds the MIME message (text, HTML and the iMIP calendar part); the other
modules decide what each email says. Nothing here sends anything: the outbox does.
"""

from .registration import (
    compose_already_registered,
    compose_cancellation,
    compose_confirmation,
    compose_promotion,
    compose_waiting_list,
)

__all__ = [
    "compose_already_registered",
    "compose_cancellation",
    "compose_confirmation",
    "compose_promotion",
    "compose_waiting_list",
]
