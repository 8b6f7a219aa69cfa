"""The Telegram conversation: one router per capability, built by factories, in an explicit
order, fallbacks last.

    root
    ├── private            (messages: private chats only, the filter set once here)
    │   ├── navigation     /cancel, 🏠, /menu, /help, /language: work in any state
    │   ├── start, onboarding, family, staff invites
    │   └── capabilities   each a router of its own, its staff screens behind `IsStaff`
    ├── capability routers for other chats (the staff group's request cards)
    ├── capability error handlers (domain refusals, in the person's language)
    ├── errors             the last resort when a handler fails
    └── fallback           whatever nobody handled: a kind hint, never silence

`notification_renderers()` collects the renderers of pushed messages, one table per capability,
for the outbox sender.

Every call builds new routers, so a second Dispatcher in one process (tests, the sandbox)
gets its own tree. `print_router_tree(setup())` shows the tree.
"""

from __future__ import annotations

from aiogram import F, Router

from handlers.forms import Form, FormRegistry
from handlers.notifications import NotificationRenderers


def setup() -> Router:
    from handlers import errors, fallback, family, navigation, onboarding, staff_invites, start
    from handlers import requests as service_requests
    from handlers.activities import setup as activities_setup

    private = Router(name="private")
    private.message.filter(F.chat.type == "private")
    private.include_routers(
        navigation.setup(),
        start.setup(),
        *_attachable([onboarding.router, family.router]),
        staff_invites.setup(),
    )
    root = Router(name="handlers")
    root.include_routers(
        private,
        service_requests.setup(),
        activities_setup(),
        errors.setup(),  # errors only: the last resort when a handler fails
        fallback.setup(),
    )
    return root


def forms() -> FormRegistry:
    """Every form of the bot, for navigation (hints, resuming after /language)."""
    from handlers import requests as service_requests
    from handlers.activities import FORMS as ACTIVITY_FORMS

    all_forms: list[Form] = [*service_requests.FORMS, *ACTIVITY_FORMS]
    return FormRegistry(all_forms)


def notification_renderers() -> NotificationRenderers:
    """Every capability's notification renderers, for the outbox sender. A kind listed twice
    is refused here; a kind without a renderer is caught by tests/test_notification_renderers.py."""
    from handlers import family, system_notifications
    from handlers.activities import renderers as activities
    from handlers.requests import renderers as service_requests

    return NotificationRenderers(
        system_notifications.renderers(),
        service_requests.renderers(),
        activities.renderers(),
        family.renderers(),
        # other capabilities' renderer tables go here
    )


def print_router_tree(router: Router, indent: int = 0) -> str:
    """The router tree as text, one router a line (for docs and debugging)."""
    lines = ["    " * indent + router.name]
    for child in router.sub_routers:
        lines.append(print_router_tree(child, indent + 1))
    return "\n".join(lines)


def _attachable(routers: list[Router]) -> list[Router]:
    # Transitional, until every capability builds its routers in a setup() factory: module
    # singletons can be attached to one parent only, so a second Dispatcher in the process
    # forgets the previous parent (aiogram keeps it in the private `_parent_router`).
    for router in routers:
        router._parent_router = None
    return routers
