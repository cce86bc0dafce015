"""A whole email, as composed: what the outbox queues (outbox.py) and a template fills in
(templates.py). A module of its own, so that neither needs the other, nor the models."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComposedMail:
    """A whole email, ready to queue."""

    kind: str
    recipient: str
    subject: str
    message: bytes
    # A fan-out's notice: the MailTemplate its bytes are filled in from when it is sent.
    template_id: int | None = None
