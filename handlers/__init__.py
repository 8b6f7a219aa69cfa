"""The Telegram conversation: one router per capability, built by factories, in an explicit
order, fallbacks last.

    root
    ├── private            (messages: private chats only, the filter set once here)
    │   ├── navigation     /cancel, 🏠, /menu, /help: work in any state
    │   ├── start, language (/language too, in any state)
    │   ├── onboarding (its forms), family screens, staff invites
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

from functools import cache

from aiogram import F, Router

from handlers.forms import Form, FormRegistry
from handlers.menu import MenuItem
from handlers.notifications import NotificationRenderers


def setup() -> Router:
    from handlers import (
        errors,
        fallback,
        family,
        language,
        menu_words,
        navigation,
        onboarding,
        staff_invites,
        start,
    )
    from handlers import requests as service_requests
    from handlers.activities import setup as activities_setup
    from handlers.onboarding import errors as onboarding_errors

    private = Router(name="private")
    private.message.filter(F.chat.type == "private")
    private.include_routers(
        navigation.setup(),
        start.setup(),
        language.setup(),
        onboarding.setup(),
        family.setup(),
        staff_invites.setup(),
        menu_words.setup(),  # 活动, 帮忙, 取消, 投诉 typed at the main menu
    )
    root = Router(name="handlers")
    # a menu button, /menu or /start in the middle of a form keeps it as a draft, before any
    # router looks at the state
    root.message.outer_middleware(navigation.KeepDraftOnTheWayOut())
    root.include_routers(
        private,
        service_requests.setup(),
        activities_setup(),
        onboarding_errors.setup(),  # refused registrations, family links, invite codes
        errors.setup(),  # errors only: the last resort when a handler fails
        fallback.setup(),
    )
    return root


def forms() -> FormRegistry:
    """Every form of the bot, for navigation (hints, resuming after /language), and the
    questions asked outside a form."""
    from handlers import language, onboarding, staff_invites
    from handlers import requests as service_requests
    from handlers.activities import FORMS as ACTIVITY_FORMS
    from handlers.activities.importing import ImportForm, q_file
    from handlers.requests.quick_help import QuickHelp, offer_question

    all_forms: list[Form] = [
        *onboarding.FORMS,
        *staff_invites.FORMS,
        *service_requests.FORMS,
        *ACTIVITY_FORMS,
    ]
    questions = {
        str(language.LanguageChoice.language.state): language.q_language,
        str(ImportForm.file.state): q_file,
        str(QuickHelp.offer.state): offer_question,
    }
    return FormRegistry(all_forms, questions)


@cache
def menu_items() -> dict[str, MenuItem]:
    """Every button of the main menu, declared by its capability; the order on screen is each
    item's `order`. Built once: the same for every dispatcher."""
    from handlers import family, language, navigation, staff_invites
    from handlers.activities import ACTIVITIES_ITEM, MANAGE_ACTIVITIES_ITEM, MY_ACTIVITIES_ITEM
    from handlers.requests.intake import REQUEST_HELP_ITEM
    from handlers.requests.mine import MY_REQUESTS_ITEM
    from handlers.requests.queue import REQUEST_QUEUE_ITEM

    items = [
        REQUEST_HELP_ITEM,
        MY_REQUESTS_ITEM,
        REQUEST_QUEUE_ITEM,
        ACTIVITIES_ITEM,
        MY_ACTIVITIES_ITEM,
        MANAGE_ACTIVITIES_ITEM,
        family.FAMILY_ITEM,
        staff_invites.INVITE_ITEM,
        navigation.HELP_ITEM,
        language.LANGUAGE_ITEM,
    ]
    by_key = {item.key: item for item in items}
    if len(by_key) != len(items):
        raise ValueError("two menu items share a key")
    return by_key


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
