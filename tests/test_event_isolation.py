"""One update at a time per person, so two quick messages never race on their form state."""

import asyncio

from aiogram import Bot, F, Router
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.fsm_storage import SQLStorage
from tests.chat import Chat, Person
from tests.recording import RecordingSession


async def test_updates_from_one_person_are_handled_one_after_another(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot: Bot,
    recording: RecordingSession,
    i18n,  # type: ignore[no-untyped-def]
) -> None:
    storage = SQLStorage(sessionmaker)
    dispatcher = create_dispatcher(settings, sessionmaker, storage=storage, i18n=i18n)
    probe = Router(name="probe")
    inside: list[int] = []
    overlaps: list[int] = []

    @probe.message(F.text == "probe")
    async def slow(message: Message) -> None:
        if inside:
            overlaps.append(message.message_id)
        inside.append(message.message_id)
        await asyncio.sleep(0.05)
        inside.remove(message.message_id)

    # First in line, before the fallback router that would otherwise answer "probe".
    dispatcher.include_router(probe)
    dispatcher.sub_routers.insert(0, dispatcher.sub_routers.pop())
    chat = Chat(dispatcher, bot, recording)
    person = Person(id=5555, first_name="李桂兰")
    updates = [chat.message_update(person, text="probe") for _ in range(3)]
    await asyncio.gather(*(chat.feed(update) for update in updates))
    assert overlaps == []
