"""The Telegram conversation: one router per capability, in an explicit order, fallbacks last;
and the renderers of pushed messages, one table per capability."""

from __future__ import annotations

from aiogram import Router

from handlers.notifications import NotificationRenderers


def get_routers() -> list[Router]:
    """Order matters: navigation (/cancel, back to menu, /help, /language) works in any state,
    so it comes first; the fallback answers whatever nobody else did, so it comes last."""
    from handlers import errors, fallback, family, navigation, onboarding, staff_invites, start
    from handlers import requests as service_requests
    from handlers.activities import routers as activity_routers

    routers = [
        navigation.router,
        start.router,
        onboarding.router,
        family.router,
        staff_invites.router,
        *service_requests.routers(),
        *activity_routers(),
        # other capabilities' routers go here, before the errors router and the fallback
        errors.router,  # errors only: the last resort when a handler fails
        fallback.router,
    ]
    return _attachable(routers)


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


def _attachable(routers: list[Router]) -> list[Router]:
    """Routers are module singletons; aiogram refuses to attach one twice. A second Dispatcher
    in the same process (tests, the sandbox, a restart simulated in a test) would fail, so the
    parent pointer is forgotten here. An earlier Dispatcher keeps its own list of sub-routers
    and goes on working; only inner middlewares registered on a Dispatcher (none are) would no
    longer be resolved for it."""
    for router in routers:
        router._parent_router = None
    return routers
