"""Obvious words typed at the main menu lead to the right place, as the buttons would:

    活动 / 活動 / activities          -> 🎨 the activities
    帮忙 / 幫忙 / 修 / 买 / help      -> 🆘 asking for help (the request form)
    取消 / cancel                    -> 📋 my requests (where a request is cancelled)
    投诉 / 投訴 / complaint           -> complaints are coming; the office's phone meanwhile

Only a short message counts as a word (at most MAX_WORD_MESSAGE characters, "看看活动"); a
longer sentence says what is needed and is offered as a help request instead
(handlers/requests/quick_help.py). Asking for help must be the whole message ("帮忙", "我要
帮忙", "修"): "修水龙头" already says what is needed, so it is offered as a request with those
words kept rather than opening an empty form. For retirees and family members, at the main
menu only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import is_command
from handlers.menu import AnyMenuButton, main_menu_keyboard
from models.office import OfficeSettings
from models.users import Role, User

MAX_WORD_MESSAGE = 8
MAX_WORD_MESSAGE_LATIN = 20  # English words are longer
ASKERS = (Role.RETIREE, Role.FAMILY)

# The words of each place, in Simplified and Traditional Chinese and English (lower case).
WORDS: dict[str, tuple[str, ...]] = {
    "complaint": ("投诉", "投訴", "complaint", "complain", "complaints"),
    "my_requests": ("取消", "cancel", "my requests"),
    "activities": ("活动", "活動", "activity", "activities"),
}
# Asking for help, said without saying what for (the whole message, fillers aside).
HELP_WORDS = frozenset(
    {
        "帮忙",
        "幫忙",
        "帮帮我",
        "幫幫我",
        "帮助",
        "幫助",
        "修",
        "修理",
        "买",
        "買",
        "买东西",
        "買東西",
    }
    | {"help", "helpme", "repair", "shopping"}
)
_FILLERS = re.compile(r"我要|我想|想要|需要|请人|請人|找人|请|請|一下|please|ineed|iwant|can|you")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def place_of(text: str | None) -> str | None:
    """Which place a short message names, if any."""
    if not text or is_command(text):
        return None
    lowered = text.strip().lower()
    bare = _NOISE.sub("", lowered)
    if len(bare) > (MAX_WORD_MESSAGE_LATIN if bare.isascii() else MAX_WORD_MESSAGE):
        return None
    if _FILLERS.sub("", bare) in HELP_WORDS:
        return "request_help"
    for place, words in WORDS.items():
        if any(word in lowered for word in words):
            return place
    return None


async def _activities(message: Message, data: dict[str, Any]) -> None:
    from handlers.activities.catalogue import cmd_activities

    await cmd_activities(message, data["session"], data["office"])


async def _request_help(message: Message, data: dict[str, Any]) -> None:
    from handlers.requests.intake import cmd_request_help

    await cmd_request_help(message, **data)


async def _my_requests(message: Message, data: dict[str, Any]) -> None:
    from handlers.requests.mine import cmd_my_requests

    await cmd_my_requests(message, data["state"], data["session"], data["user"], data["office"])


async def _complaint(message: Message, data: dict[str, Any]) -> None:
    office: OfficeSettings = data["office"]
    user: User = data["user"]
    if office.phone:
        text = _(
            "Complaints and suggestions will soon be possible here. Until then, please call "
            "the service office: {phone}."
        ).format(phone=office.phone)
    else:
        text = _(
            "Complaints and suggestions will soon be possible here. Until then, please tell "
            "the service office staff."
        )
    await message.answer(text, reply_markup=main_menu_keyboard(user))


PLACES: dict[str, Callable[[Message, dict[str, Any]], Awaitable[None]]] = {
    "activities": _activities,
    "request_help": _request_help,
    "my_requests": _my_requests,
    "complaint": _complaint,
}


async def names_a_place(message: Message, user: User | None) -> bool:
    return (
        user is not None
        and user.is_onboarded
        and user.role in ASKERS
        and place_of(message.text) is not None
    )


async def word_typed(message: Message, **data: Any) -> None:
    place = place_of(message.text)
    assert place is not None  # the filter said so
    await PLACES[place](message, data)


def setup() -> Router:
    """Last among the private-chat routers: at the main menu only (no form open)."""
    router = Router(name=__name__)
    router.message.register(word_typed, StateFilter(None), F.text, ~AnyMenuButton(), names_a_place)
    return router
