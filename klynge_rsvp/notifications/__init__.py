"""Every email the service sends: one compose_* function per email, grouped by occasion.

`message.py` builds the MIME message (text, HTML and the iMIP calendar part); the other
modules decide what each email says. Nothing here sends anything: the outbox does.
"""

from .announcements import compose_announcement
from .lifecycle import (
    compose_cancelled,
    compose_feedback_survey,
    compose_moved,
    compose_postponed,
    compose_reconfirm_reminder,
    compose_reminder,
    compose_rescheduled,
)
from .mailing_list import compose_subscription_confirmation
from .merge import MailMerge
from .registration import (
    compose_already_registered,
    compose_cancellation,
    compose_confirmation,
    compose_new_link,
    compose_promotion,
    compose_waiting_list,
)

__all__ = [
    "MailMerge",
    "compose_already_registered",
    "compose_announcement",
    "compose_cancellation",
    "compose_cancelled",
    "compose_confirmation",
    "compose_feedback_survey",
    "compose_moved",
    "compose_new_link",
    "compose_postponed",
    "compose_promotion",
    "compose_reconfirm_reminder",
    "compose_reminder",
    "compose_rescheduled",
    "compose_subscription_confirmation",
    "compose_waiting_list",
]
