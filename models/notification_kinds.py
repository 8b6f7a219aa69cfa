"""Every kind of pushed message (the outbox row's `kind`), in one place.

The domain decides who is told what and queues a row of one of these kinds; `handlers/` renders
each kind in the recipient's language at send time (one renderer per kind, see
`handlers.notification_renderers`). The values are what the `outbox.kind` column stores: rows
already queued keep their meaning, so never change a value, only add new ones.
"""

from __future__ import annotations

import enum


class NotificationKind(enum.StrEnum):
    # Text that is already final (a staff broadcast or notice): sent as it is, not translated.
    SYSTEM_TEXT = "system.text"

    # Service requests (models/requests.py)
    REQUEST_STAFF_CARD = "request.staff_card"  # the staff group's card, later edited in place
    REQUEST_STATUS = "request.status"  # a change, to the retiree and linked family
    REQUEST_MEDIA = "request.media"  # a photo or voice note to whoever handles it
    REQUEST_ASSIGNED = "request.assigned"
    REQUEST_OVERDUE = "request.overdue"  # reminder or escalation of a missed promised time
    REQUEST_RATE = "request.rate"
    REQUEST_RATE_REMINDER = "request.rate_reminder"
    REQUEST_LOW_RATING = "request.low_rating"
    REQUEST_CANCELLED_STAFF = "request.cancelled_staff"
    REQUEST_FILED_FOR_YOU = "request.filed_for_you"  # to the retiree: who asked, and for what

    # Activities (models/activities.py)
    ACT_PROMOTED = "act.promoted"  # off the waiting list
    ACT_REMINDER = "act.reminder"
    ACT_CANCELLED = "act.cancelled"
    ACT_CHANGED = "act.changed"
    ACT_FEEDBACK = "act.feedback"
    ACT_SIGNED_UP_FOR_YOU = "act.signed_up_for_you"

    # Family links (models/registration.py)
    FAMILY_LINK_REQUEST = "family.link_request"  # to the retiree
    FAMILY_LINK_REQUEST_STAFF = "family.link_request_staff"  # the retiree has no account
    FAMILY_LINK_DECIDED = "family.link_decided"
