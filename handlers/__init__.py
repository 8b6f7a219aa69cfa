"""The Telegram conversation: one router per capability, in an explicit order, fallbacks last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import errors, start

    return [
        errors.router,  # errors only: the last resort when a handler fails
        start.router,
    ]
