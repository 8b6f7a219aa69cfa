"""/cancel, back to menu, /menu, /help, /language in any state; fallbacks; the command list."""

from __future__ import annotations

from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.commands import bot_commands, set_commands
from models.runtime import FsmRecord
from tests.chat import Chat, Person
from tests.recording import RecordingSession
from tests.test_onboarding_retiree import (
    choose_language,
    conversation_database_url,
    load_user,
    only_message,
)

database_url = conversation_database_url  # PostgreSQL, and SQLite once its FSM is safe


ADMIN = Person(id=900001, first_name="Admin", language_code="zh-hans")


async def registered_admin(chat: Chat) -> None:
    await choose_language(chat, ADMIN, "zh_Hans")


async def current_state(session: AsyncSession) -> str | None:
    state = await session.scalar(select(FsmRecord.state))
    await session.commit()
    return state


async def test_back_to_menu_and_cancel_in_a_form(chat: Chat, session: AsyncSession) -> None:
    await registered_admin(chat)
    await chat.send(ADMIN, "/language")
    assert await current_state(session) is not None
    sent = await chat.send(ADMIN, "🏠 返回主菜单")
    answer = only_message(sent)
    assert "已经停下了" in answer.text and "❓ 帮助" in answer.button_texts()
    assert await current_state(session) is None
    # an old keyboard in another language still works
    await chat.send(ADMIN, "/language")
    sent = await chat.send(ADMIN, "🏠 Back to menu")
    assert "❓ 帮助" in only_message(sent).button_texts()
    sent = await chat.send(ADMIN, "/cancel")
    assert "这是主菜单" in only_message(sent).text


async def test_language_change_answers_in_the_new_language(
    chat: Chat, session: AsyncSession
) -> None:
    await registered_admin(chat)
    sent = await chat.send(ADMIN, "🌐 语言")
    question = only_message(sent)
    assert (
        "请选择您要用的语言。" in question.text and "Please choose your language." in question.text
    )
    assert question.button_texts()[-1] == "🏠 返回主菜单"
    sent = await chat.send(ADMIN, "English")
    answer = only_message(sent)
    assert answer.text == "Done. I will speak English with you from now on."
    assert "❓ Help" in answer.button_texts() and "🌐 Language" in answer.button_texts()
    assert (await load_user(session, ADMIN.id)).language == "en"
    sent = await chat.send(ADMIN, "/language")
    sent = await chat.send(ADMIN, "繁體中文")
    assert only_message(sent).text == "好的，以後我就用繁體中文和您說話。"


async def test_help_is_role_aware_and_keeps_the_form(chat: Chat, session: AsyncSession) -> None:
    await registered_admin(chat)
    sent = await chat.send(ADMIN, "/help")
    assert "🎟️ 邀请同事" in only_message(sent).text
    newcomer = Person(id=40001, first_name="New", language_code="en")
    await chat.send(newcomer, "/start")
    await chat.send(newcomer, "English")
    await chat.send(newcomer, "👴 I am a retiree")
    sent = await chat.send(newcomer, "/help")
    text = only_message(sent).text
    assert "Start" in text and "What is your full name?" in text
    sent = await chat.send(newcomer, "Zhou Min")  # the form goes on where it was
    assert "phone number" in only_message(sent).text
    sent = await chat.send(newcomer, "/menu")  # the name given is kept as a draft
    kept, menu = (r for r in sent if r.method == "sendMessage")
    assert "kept" in kept.text and menu.button_texts() == ["▶️ Start"]
    # registering again later offers what was entered
    await chat.send(newcomer, "▶️ Start")
    await chat.send(newcomer, "English")
    sent = await chat.send(newcomer, "👴 I am a retiree")
    assert "You did not finish your form last time." in sent[-1].text
    sent = await chat.send(newcomer, "▶️ Continue where I left off")
    assert "phone number" in sent[-1].text


async def test_fallbacks_are_never_silent(chat: Chat, session: AsyncSession) -> None:
    await registered_admin(chat)
    for sender, expected in (
        (chat.send(ADMIN, "随便说说"), "我没看明白"),
        (chat.send(ADMIN, "/nonsense"), "我不认识这个指令"),
        (chat.send_sticker(ADMIN), "谢谢您的表情"),
        (chat.send_voice(ADMIN), "收到您的语音"),
        (chat.send_photo(ADMIN), "收到您的文件"),
        (chat.send(ADMIN, location={"latitude": 31.2, "longitude": 121.5}), "位置"),
    ):
        answer = only_message(await sender)
        assert expected in answer.text
        assert "❓ 帮助" in answer.button_texts()
    sent = await chat.press(ADMIN, "xx:stale:1")
    assert sent[0].method == "answerCallbackQuery" and "失效" in sent[0].params["text"]
    # not registered yet: the Start button
    sent = await chat.send(Person(id=40002, first_name="Q", language_code="en"), "hello")
    assert only_message(sent).button_texts() == ["▶️ Start"]


async def test_group_messages_are_left_alone(chat: Chat) -> None:
    group = {"id": -1001234567890, "type": "supergroup", "title": "Staff"}
    sent = await chat.feed(chat.message_update(ADMIN, chat=group, text="hello all"))
    assert sent == []


def test_bot_commands_are_translated(i18n: I18n) -> None:
    zh = {c.command: c.description for c in bot_commands("zh_Hans", i18n)}
    en = {c.command: c.description for c in bot_commands("en", i18n)}
    assert set(zh) == set(en) == {"start", "menu", "help", "language", "cancel"}
    assert zh["language"] == "更换语言" and en["language"] == "Change the language"


async def test_set_commands_sends_valid_requests(
    bot: Bot, recording: RecordingSession, i18n: I18n
) -> None:
    await set_commands(bot, i18n)
    sent = recording.take()
    assert [r.method for r in sent] == ["setMyCommands"] * 3  # each checked against the spec
    assert [r.params.get("language_code") for r in sent] == [None, "zh", "en"]
    default, zh, en = (r.params["commands"] for r in sent)
    assert default == zh and default[0] == {"command": "start", "description": "开始 / 打开主菜单"}
    assert en[0]["description"] == "Start or open the menu"


async def test_admins_also_get_invite_in_their_chat(
    bot: Bot, recording: RecordingSession, i18n: I18n
) -> None:
    await set_commands(bot, i18n, admin_ids=[900001])
    sent = recording.take()
    assert len(sent) == 6
    for request in sent[3:]:
        assert request.params["scope"] == {"type": "chat", "chat_id": 900001}
        assert request.params["commands"][-1]["command"] == "invite"


async def test_language_change_mid_registration_keeps_the_answers(
    chat: Chat, session: AsyncSession
) -> None:
    person = Person(id=40003, first_name="Wu", language_code="zh-hans")
    await choose_language(chat, person, "zh_Hans")
    await chat.send(person, "👴 我是退休老人")
    await chat.send(person, "吴玉珍")
    await chat.send(person, "13600001111")
    await chat.send(person, "1950-02-03")
    sent = await chat.send(person, "/language")
    assert only_message(sent).button_texts() == ["简体中文", "繁體中文", "English"]
    sent = await chat.send(person, "English")
    done, question = (r for r in sent if r.method == "sendMessage")
    assert done.text == "Done. I will speak English with you from now on."
    assert "solar or by the lunar" in question.text
    assert question.button_texts()[:2] == ["☀️ Solar calendar (Gregorian)", "🌙 Lunar calendar"]
    sent = await chat.send(person, "☀️ Solar calendar (Gregorian)")
    assert "home address" in only_message(sent).text
    sent = await chat.send(person, "东区3号楼2单元301")
    summary = only_message(sent)
    assert "吴玉珍" in summary.text and "13600001111" in summary.text
    assert "1950-02-03 (solar calendar)" in summary.text


async def test_language_mid_family_form_and_invite_code_resumes(
    chat: Chat, session: AsyncSession
) -> None:
    son = Person(id=40004, first_name="Son", language_code="en")
    await choose_language(chat, son, "en")
    await chat.send(son, "👨‍👩‍👧 I am a family member")
    await chat.send(son, "Nephew")
    await chat.send(son, "/language")
    sent = await chat.send(son, "繁體中文")
    question = [r for r in sent if r.method == "sendMessage"][-1]
    assert question.text == "請輸入您家長者的電話號碼。"
    assert question.button_texts() == ["🏠 返回主選單"]
    sent = await chat.send(son, "13900002222")
    assert only_message(sent).text == "請輸入您家長者的姓名。"  # on to the name

    newcomer = Person(id=40005, first_name="New", language_code="en")
    await choose_language(chat, newcomer, "en")
    await chat.send(newcomer, "🧑‍💼 I work at the service office")
    await chat.send(newcomer, "/language")
    sent = await chat.send(newcomer, "简体中文")
    question = [r for r in sent if r.method == "sendMessage"][-1]
    assert "邀请码" in question.text


async def test_language_in_a_state_of_no_form_leaves_it(chat: Chat, session: AsyncSession) -> None:
    """A capability whose forms are not tables yet: its keyboards are its own, so the
    conversation is left, as before."""
    from aiogram.fsm.storage.base import StorageKey

    await registered_admin(chat)
    key = StorageKey(bot_id=chat.bot.id, chat_id=ADMIN.id, user_id=ADMIN.id)
    assert chat.dispatcher.storage is not None
    await chat.dispatcher.storage.set_state(key, "SomeOldForm:step")
    await chat.send(ADMIN, "/language")
    sent = await chat.send(ADMIN, "English")
    answer = only_message(sent)
    assert answer.text == "Done. I will speak English with you from now on."
    assert "❓ Help" in answer.button_texts()
    assert await current_state(session) is None
