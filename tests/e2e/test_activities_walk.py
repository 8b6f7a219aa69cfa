"""Activities (issue 5) end to end: the real bot process (`retiree-bot run`, long polling)
against the sandbox Bot API server and the demo office. People read the bot's messages and tap
the buttons it sent: a retiree browses, pages, filters and signs up; the full outing's waiting
list moves when a participant cancels (the notice is pushed through the outbox by the sender in
the bot process); a son signs his mother up; a caseworker creates an activity with the
guided form (with some bad input) and a retiree finds it; stale and forged buttons get a kind
answer; every Bot API call was valid and SIGTERM stops the process cleanly."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.base import utcnow
from sandbox.demo.seed import DemoPeople
from tests.e2e.conftest import (
    STEP_TIMEOUT,
    Person,
    button_texts,
    buttons_of,
    check_all_requests,
    is_bot_message,
    message_text,
    wait_until_ready,
)

pytestmark = pytest.mark.slow

OFFICE_TZ = ZoneInfo("Asia/Shanghai")  # the bot's default TIMEZONE, as the demo data's

# The demo cast (sandbox/demo/seed.py).
STAFF_LIU = 100001  # 刘芳, caseworker of 幸福里
WANG = 200001  # 王秀英: in the tai chi series
LI = 200002  # 李建国: in the tai chi series
CHEN = 200005  # 陈淑珍: fourth for the outing, first on its waiting list
WU = 200010  # 吴振华: first confirmed participant of the outing
WANG_SON = 300002  # 王磊, approved family of 王秀英
CHEN_DAUGHTER = 300001  # 陈晓燕, approved family of 陈淑珍 (lives in another city)

OUTING = "植物园半日游"  # capacity 3: 吴振华, 楊志強, 刘德明 confirmed, 陈淑珍 waiting
CALLIGRAPHY = "书法兴趣班：写福字迎新年"  # 12 places, 2 taken
DUMPLINGS = "冬至包饺子联谊会"  # 30 places, nobody yet
NEW_TITLE = "老年合唱团排练：唱支山歌给党听"

MENU_ACTIVITIES = "🎨 活动"
MENU_MINE = "📅 我的活动"
MENU_MANAGE = "活动管理"


# --- helpers ---------------------------------------------------------------------------------


def _key(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True, default=str)


async def expect(
    person: Person, action: Awaitable[Any], *fragments: str, timeout: float = STEP_TIMEOUT
) -> dict[str, Any]:
    """Do `action` (a send or a tap), then wait for a bot message, new or edited since, whose
    text holds every fragment; return it. Pushed notices arriving meanwhile do not confuse it."""
    before = {_key(m) for m in person.bot_messages()}
    await action
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for message in reversed(person.bot_messages()):
            if _key(message) in before:
                continue
            if all(fragment in message_text(message) for fragment in fragments):
                return message
        if loop.time() > deadline:
            raise AssertionError(
                f"no bot message with {fragments} within {timeout} s; conversation so far:\n"
                + person.transcript()
            )
        await asyncio.sleep(0.05)


async def pushed(
    server: Any, chat_id: int, *fragments: str, timeout: float = STEP_TIMEOUT
) -> dict[str, Any]:
    """A message the bot pushed into a chat on its own (through the outbox)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for message in reversed(server.messages(chat_id)):
            text = message_text(message)
            if is_bot_message(message) and all(fragment in text for fragment in fragments):
                return message
        if loop.time() > deadline:
            shown = [message_text(m) for m in server.messages(chat_id)][-6:]
            raise AssertionError(f"no pushed message with {fragments} in {chat_id}: {shown}")
        await asyncio.sleep(0.1)


async def press_raw(person: Person, callback_data: str, message_id: int) -> dict[str, Any]:
    """Press a button that carries `callback_data` under `message_id` (a forged or stale one);
    return the bot's answer to the callback query (the sandbox's `answer` event)."""
    chat_id = person.chat_id
    person.note(f"USER presses raw {callback_data!r}")
    after = person.server.last_event
    query_id = await person.server.user_presses(person.user_id, chat_id, message_id, callback_data)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        for event in person.server.events(chat_id, after):
            if event["type"] == "answer" and event["callback_query_id"] == query_id:
                person.note(f"BOT answers the press: {event['text']!r}")
                return event
        if loop.time() > deadline:
            raise AssertionError(
                f"the press {callback_data!r} was never answered:\n" + person.transcript()
            )
        await asyncio.sleep(0.05)


def button_data(message: dict[str, Any], label: str) -> str:
    for button in buttons_of(message):
        if label in str(button.get("text", "")) and "callback_data" in button:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} under {message_text(message)!r}")


async def open_menu(person: Person) -> None:
    """/start as a returning user: the bot greets them and puts the main menu up."""
    await expect(person, person.send("/start"), "欢迎回来")
    assert person.keyboard(), f"no main menu:\n{person.transcript()}"


async def catalogue_by_category(person: Person, category: str) -> dict[str, Any]:
    await expect(person, person.tap(MENU_ACTIVITIES), "近期活动")
    await expect(person, person.tap("按类别看"), "您想看哪一类活动")
    return await expect(person, person.tap(category), category)


async def stored(database_url: str) -> dict[str, Any]:
    """What the bot process stored: who holds which place, and the new activity."""
    from sqlalchemy import select

    from bot.db import create_engine, create_sessionmaker
    from models.activities import Activity, Registration

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.scalars(select(Registration).order_by(Registration.seq))
            places = {
                (r.activity.title, r.profile.full_name): (
                    str(r.status),
                    r.registered_by.display_name if r.registered_by else None,
                )
                for r in rows
            }
            new = await session.scalar(select(Activity).where(Activity.title == NEW_TITLE))
            return {"places": places, "new": new}
    finally:
        await engine.dispose()


# --- the walk --------------------------------------------------------------------------------


async def a_retiree_browses_and_signs_up(sandbox: Any) -> dict[str, Any]:
    """李建国: the catalogue, its second page and back, the calligraphy filter, the details,
    sign up; "my activities" shows it. Returns the catalogue message (for the forged press)."""
    li = Person(sandbox, LI)
    await open_menu(li)
    assert MENU_ACTIVITIES in li.keyboard() and MENU_MINE in li.keyboard(), li.keyboard()

    catalogue = await expect(li, li.tap(MENU_ACTIVITIES), "近期活动", "(1/2)")
    titles = " ".join(button_texts(catalogue))
    assert CALLIGRAPHY in titles and "还剩 10 个名额" in titles, button_texts(catalogue)
    assert "已满，候补 1 人" in titles, button_texts(catalogue)  # the outing
    page_two = await expect(li, li.tap("下一页"), "(2/2)")
    assert "上一页" in " ".join(button_texts(page_two)), button_texts(page_two)
    assert "太极拳晨练" in " ".join(button_texts(page_two)), button_texts(page_two)
    await expect(li, li.tap("上一页"), "(1/2)")

    await expect(li, li.tap("按类别看"), "您想看哪一类活动")
    nothing = await expect(li, li.tap("志愿服务"), "现在暂时没有可以报名的活动")
    assert "🏷 按类别看" in button_texts(nothing), button_texts(nothing)
    await expect(li, li.tap("按类别看"), "您想看哪一类活动")
    calligraphy = await expect(li, li.tap("书画"), "书画")
    assert [t for t in button_texts(calligraphy) if CALLIGRAPHY in t], button_texts(calligraphy)

    await expect(li, li.tap(CALLIGRAPHY), "名额：12 人，已报 2 人")
    await expect(li, li.tap("回到活动列表"), "书画")  # back to the filtered list
    details = await expect(li, li.tap(CALLIGRAPHY), "名额：12 人，已报 2 人")
    text = message_text(details)
    assert "幸福里社区活动室" in text and "组织者：刘芳" in text and "老花镜" in text, text
    assert "✅ 我要报名" in button_texts(details), button_texts(details)

    signed = await expect(li, li.tap("我要报名"), f"✅ 您已报名“{CALLIGRAPHY}”")
    assert "活动开始前，我们会提醒您" in message_text(signed), message_text(signed)

    mine = await expect(li, li.tap(MENU_MINE), "您报名的活动")
    assert CALLIGRAPHY in message_text(mine) and "太极拳晨练" in message_text(mine), mine
    assert any(CALLIGRAPHY in t for t in button_texts(mine)), button_texts(mine)

    # Signing up twice from the same (now stale) detail card: the card is refreshed in place
    # with her place on it, and says so; no second place.
    answer = await press_raw(li, button_data(details, "我要报名"), details["message_id"])
    assert answer["text"] == "🔄 已更新", answer
    return catalogue


async def the_waiting_list_moves(sandbox: Any) -> None:
    """王秀英 joins the full outing's waiting list (number 2); 吴振华 cancels in "my
    activities" with the confirm step -> 陈淑珍 (number 1) is told she has a place, with an
    "I can't come" button, and so is her daughter 陈晓燕 in another city; 陈淑珍 taps it and
    confirms -> 王秀英 is told in turn, and her son 王磊 too."""
    wang = Person(sandbox, WANG)
    await open_menu(wang)
    outings = await catalogue_by_category(wang, "外出参观")
    assert any(OUTING in t and "已满" in t for t in button_texts(outings)), button_texts(outings)
    details = await expect(wang, wang.tap(OUTING), "名额：3 人，已报 3 人", "候补：1 人")
    assert "📝 排队候补" in button_texts(details), button_texts(details)
    await expect(wang, wang.tap("排队候补"), "活动名额已满，您排在候补第 2 位", "一有名额空出来")
    mine = await expect(wang, wang.tap(MENU_MINE), "您报名的活动", OUTING)
    assert "候补第 2 位" in message_text(mine), message_text(mine)

    wu = Person(sandbox, WU)
    await open_menu(wu)
    mine = await expect(wu, wu.tap(MENU_MINE), "您报名的活动", OUTING)
    assert "✅ 已报名" in message_text(mine), message_text(mine)
    ask = await expect(wu, wu.tap(f"{OUTING}"), "要取消您在", OUTING)  # his own: "您"
    assert button_texts(ask) == ["✅ 是的，取消报名", "↩️ 不取消"], button_texts(ask)
    await expect(wu, wu.tap("不取消"), "报名保留")  # second thoughts: the place is kept
    ask = await expect(wu, wu.tap(f"{OUTING}"), "要取消您在", OUTING)
    stale_confirm = (button_data(ask, "是的，取消报名"), ask["message_id"])
    await expect(wu, wu.tap("是的，取消报名"), f"“{OUTING}”的报名已取消")

    notice = await pushed(sandbox, CHEN, "好消息", OUTING)
    assert "您已经报上" in message_text(notice), message_text(notice)
    assert button_texts(notice) == ["🙅 我去不了了"], button_texts(notice)
    # her daughter, linked in "My family", is told too, naming her mother
    family_notice = await pushed(sandbox, CHEN_DAUGHTER, "好消息", "陈淑珍已经报上", OUTING)
    assert button_texts(family_notice) == ["🙅 我去不了了"], button_texts(family_notice)
    await asyncio.sleep(0.5)  # nothing else went to 王秀英: she is now first in line
    mine = await expect(wang, wang.tap(MENU_MINE), "您报名的活动", OUTING)
    assert "候补第 1 位" in message_text(mine), message_text(mine)

    # 陈淑珍 taps "I can't come after all" under the notice, then confirms.
    chen = Person(sandbox, CHEN)
    await expect(chen, chen.tap("我去不了了"), "要取消您在", OUTING)
    await expect(chen, chen.tap("是的，取消报名"), f"“{OUTING}”的报名已取消")
    promoted = await pushed(sandbox, WANG, "好消息", OUTING)
    assert button_texts(promoted) == ["🙅 我去不了了"], button_texts(promoted)
    await pushed(sandbox, WANG_SON, "好消息", "王秀英已经报上", OUTING)
    mine = await expect(wang, wang.tap(MENU_MINE), "您报名的活动", OUTING)
    assert "候补" not in message_text(mine), message_text(mine)

    # Stale: 吴振华 taps the cancel button of his old list (refreshed in place, and it says
    # so) and the confirm button again (already cancelled).
    old_list = next(m for m in wu.bot_messages() if "您报名的活动" in message_text(m))
    answer = await press_raw(wu, button_data(old_list, OUTING), old_list["message_id"])
    assert answer["text"] == "🔄 已更新", answer
    answer = await press_raw(wu, *stale_confirm)
    assert answer["text"] == "这个报名已经取消过了。", answer


async def a_son_signs_his_mother_up(sandbox: Any) -> None:
    """王磊 (family) opens the dumpling party and signs up his mother 王秀英 (choosing her if
    the bot asks who goes); she is told; his "my activities" shows it under her name."""
    son = Person(sandbox, WANG_SON)
    await open_menu(son)
    celebrations = await catalogue_by_category(son, "节日庆祝")
    assert any(DUMPLINGS in t for t in button_texts(celebrations)), button_texts(celebrations)
    await expect(son, son.tap(DUMPLINGS), DUMPLINGS, "名额：30 人，已报 0 人")
    answer = await expect(son, son.tap("我要报名"), DUMPLINGS)
    if "谁去参加" in message_text(answer):  # more than one person he may sign up
        assert "👤 王秀英" in button_texts(answer), button_texts(answer)
        answer = await expect(son, son.tap("王秀英"), "王秀英已报名")
    assert f"✅ 王秀英已报名“{DUMPLINGS}”" in message_text(answer), message_text(answer)

    told = await pushed(sandbox, WANG, "王磊帮您报名了", DUMPLINGS)
    assert button_texts(told) == ["🙅 我去不了了"], button_texts(told)
    mine = await expect(son, son.tap(MENU_MINE), "您报名的活动", DUMPLINGS)
    assert "王秀英" in message_text(mine), message_text(mine)


async def a_caseworker_creates_an_activity(sandbox: Any) -> str:
    """刘芳 (staff) creates a one-off activity with the guided form and sees it in her list;
    李建国 finds it in the catalogue. Returns the start as the list shows it."""
    liu = Person(sandbox, STAFF_LIU)
    await open_menu(liu)
    assert any(MENU_MANAGE in b for b in liu.keyboard()), liu.keyboard()
    assert MENU_ACTIVITIES not in liu.keyboard(), liu.keyboard()
    await expect(liu, liu.tap(MENU_MANAGE), "活动（即将举行的和最近两周的）")
    await expect(liu, liu.tap("新建活动"), "活动叫什么名字")
    # Bad input on the way: each gets a kind hint and the question again; nothing is lost.
    await expect(liu, liu.send("/frobnicate"), "活动叫什么名字")
    await expect(liu, liu.send("长" * 300), "太长了", "活动叫什么名字")
    await expect(liu, liu.send(NEW_TITLE), "属于哪一类")
    await expect(liu, liu.send("唱歌"), "请点下面的一个类别按钮")
    assert "🎵 歌唱音乐" in liu.keyboard(), liu.keyboard()
    await expect(liu, liu.tap("歌唱音乐"), "用几句话介绍一下")
    await expect(liu, liu.tap("跳过"), "在哪里举办")
    await expect(liu, liu.send("幸福里社区活动室（2号楼一层）"), "什么时候开始")
    day = (utcnow().astimezone(OFFICE_TZ) + timedelta(days=6)).date()
    await expect(liu, liu.send("下礼拜一下午"), "抱歉，我没看懂", "什么时候开始")
    await expect(liu, liu.send("2020-01-06 15:00"), "这个时间已经过去了", "什么时候开始")
    await expect(liu, liu.send(f"{day:%Y-%m-%d} 15:00"), "什么时候结束")
    await expect(liu, liu.tap("跳过"), "有多少个名额")
    await expect(liu, liu.send("很多"), "请写一个整数", "有多少个名额")
    await expect(liu, liu.send("25"), "报名到什么时候截止")
    await expect(liu, liu.tap("跳过"), "每周都办吗")
    summary = await expect(liu, liu.tap("只办一次"), "请核对一下")
    text = message_text(summary)
    assert NEW_TITLE in text and "名额：25 人" in text and "🎵 歌唱音乐" in text, text
    assert f"{day.month}月{day.day}日" in text and "15:00" in text, text
    assert "每周一次" not in text, text
    created = await expect(liu, liu.tap("创建"), f"已创建“{NEW_TITLE}”", "现在可以报名了")
    assert "共 1 次" not in message_text(created), liu.transcript()  # a one-off: no "1 session"
    assert any(MENU_MANAGE in b for b in liu.keyboard()), liu.keyboard()  # the menu is back

    listed = await expect(liu, liu.tap(MENU_MANAGE), "活动（即将举行的和最近两周的）")
    label = f"{day.month}/{day.day} 15:00 {NEW_TITLE} · 0/25"
    for _page in range(3):
        if label in button_texts(listed):
            break
        listed = await expect(liu, liu.tap("下一页"), "活动（即将举行的和最近两周的）")
    assert label in button_texts(listed), button_texts(listed)

    li = Person(sandbox, LI)
    songs = await catalogue_by_category(li, "歌唱音乐")
    assert any(NEW_TITLE in t and "还剩 25 个名额" in t for t in button_texts(songs)), button_texts(
        songs
    )
    details = await expect(li, li.tap(NEW_TITLE), NEW_TITLE, "组织者：刘芳", "名额：25 人")
    assert "✅ 我要报名" in button_texts(details), button_texts(details)
    return f"{day.month}/{day.day}"


async def forged_buttons_get_a_kind_answer(sandbox: Any, catalogue: dict[str, Any]) -> None:
    """Buttons nobody was sent, in the shape of the real ones: an activity that does not
    exist, a sign-up for it, someone else's registration. A kind answer; the bot carries on."""
    li = Person(sandbox, LI)
    real = button_data(catalogue, CALLIGRAPHY)  # e.g. acl:o:0::2
    assert re.fullmatch(r"acl:o:0::\d+", real), real
    forged_open = re.sub(r"\d+$", "987654", real)
    message_id = li.last()["message_id"]

    answer = await press_raw(li, forged_open, message_id)
    assert answer["text"] == "抱歉，这个活动已经没有了。" and answer["show_alert"], answer
    answer = await press_raw(li, "asu:s:987654:0", message_id)
    assert answer["text"] == "抱歉，这个活动已经没有了。", answer
    answer = await press_raw(li, "arg:c:987654", message_id)
    assert answer["text"] == "抱歉，这个活动已经没有了。", answer

    # 王秀英's registration for the dumplings, pressed by 李建国: not his to cancel.
    son = Person(sandbox, WANG_SON)
    mine = next(m for m in reversed(son.bot_messages()) if "您报名的活动" in message_text(m))
    wang_registration = button_data(mine, DUMPLINGS)  # arg:al:<id>
    answer = await press_raw(li, wang_registration.replace("arg:al:", "arg:c:"), message_id)
    assert answer["text"] == "抱歉，您不能替这位老人办理。", answer
    registration_id = wang_registration.removeprefix("arg:al:")
    answer = await press_raw(li, f"art:{registration_id}:5", message_id)  # rate her place
    assert answer["text"] == "抱歉，您不能替这位老人办理。", answer

    # A caseworker's buttons, pressed by a retiree: open a staff card, call an activity off.
    liu = Person(sandbox, STAFF_LIU)
    listed = next(m for m in liu.bot_messages() if "活动（即将举行的" in message_text(m))
    staff_open = button_data(listed, CALLIGRAPHY)  # amg:o:<id>:0
    assert re.fullmatch(r"amg:o:\d+:0", staff_open), staff_open
    for forged in (staff_open, staff_open.replace("amg:o:", "amg:c:")):
        answer = await press_raw(li, forged, message_id)
        assert answer["text"] == "这是工作人员专用的功能。" and answer["show_alert"], answer
    still = await expect(son, son.tap(MENU_MINE), "您报名的活动", DUMPLINGS)
    assert "王秀英" in message_text(still), message_text(still)

    # Nonsense in the right prefix and a prefix nobody uses: answered, nothing breaks.
    for nonsense in ("acl:zz:x", "nope:1:2"):
        answer = await press_raw(li, nonsense, message_id)
        assert answer["text"], answer  # "this button no longer works, use the menu"
    await expect(li, li.tap(MENU_MINE), "您报名的活动", CALLIGRAPHY)
    print(li.transcript())


async def test_activities_walk(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    began = time.monotonic()
    bot = await start_bot(bot_env(sandbox.api_url, seeded))
    await wait_until_ready(sandbox, bot, "deleteWebhook")
    print(f"bot ready after {time.monotonic() - began:.1f} s")

    steps = []
    step_began = time.monotonic()
    catalogue = await a_retiree_browses_and_signs_up(sandbox)
    steps.append(("browse and sign up", time.monotonic() - step_began))
    step_began = time.monotonic()
    await the_waiting_list_moves(sandbox)
    steps.append(("waiting list", time.monotonic() - step_began))
    step_began = time.monotonic()
    await a_son_signs_his_mother_up(sandbox)
    steps.append(("family sign-up", time.monotonic() - step_began))
    step_began = time.monotonic()
    await a_caseworker_creates_an_activity(sandbox)
    steps.append(("staff creates", time.monotonic() - step_began))
    step_began = time.monotonic()
    await forged_buttons_get_a_kind_answer(sandbox, copy.deepcopy(catalogue))
    steps.append(("forged buttons", time.monotonic() - step_began))
    print("steps:", ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps))

    for chat in (LI, WANG, WU, CHEN, WANG_SON, STAFF_LIU):
        print(f"--- chat {chat} ---")
        for message in sandbox.messages(chat):
            who = "BOT" if is_bot_message(message) else "USER"
            print(f"{who}: {message_text(message)} {button_texts(message)}")

    # Every callback query was answered.
    presses = [
        e for chat in (LI, WANG, WU, CHEN, WANG_SON, STAFF_LIU) for e in sandbox.events(chat)
    ]
    pressed = sum(1 for e in presses if e["type"] == "press")
    answered = sum(1 for e in presses if e["type"] == "answer")
    assert pressed == answered, (pressed, answered)

    assert check_all_requests(sandbox) > 0
    failed = [(r.method, r.status) for r in sandbox.requests if r.status not in (200, 0)]
    assert not failed, f"Bot API calls that failed: {failed}"

    stopping = time.monotonic()
    code = await bot.terminate()
    print(f"bot stopped {time.monotonic() - stopping:.1f} s after SIGTERM")
    assert code == 0, f"exit code {code} after SIGTERM:\n{bot.output()}"
    assert "Traceback" not in bot.output(), bot.output()
    data = await stored(e2e_database_url)
    places = data["places"]
    assert places[(CALLIGRAPHY, "李建国")] == ("confirmed", "李建国"), places
    assert places[(OUTING, "吴振华")][0] == "cancelled", places
    assert places[(OUTING, "陈淑珍")][0] == "cancelled", places
    assert places[(OUTING, "王秀英")] == ("confirmed", "王秀英"), places
    assert places[(DUMPLINGS, "王秀英")] == ("confirmed", "王磊"), places
    new = data["new"]
    assert new is not None and new.capacity == 25 and str(new.category) == "music", new
    assert new.ends_at is None and new.signup_deadline_at is None and new.series_id is None
    assert new.description == "" and new.organiser.display_name == "刘芳"
    print(f"walk took {time.monotonic() - began:.1f} s")


async def registration_id_of(database_url: str, title: str, full_name: str) -> int:
    from sqlalchemy import select

    from bot.db import create_engine, create_sessionmaker
    from models.activities import Activity, Registration
    from models.users import RetireeProfile

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            found = await session.scalar(
                select(Registration.id)
                .join(Activity, Activity.id == Registration.activity_id)
                .join(RetireeProfile, RetireeProfile.id == Registration.profile_id)
                .where(Activity.title == title, RetireeProfile.full_name == full_name)
                .order_by(Activity.starts_at)
                .limit(1)
            )
            assert found is not None, (title, full_name)
            return int(found)
    finally:
        await engine.dispose()


async def test_forged_cancel_question_keeps_someone_elses_place_private(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    bot = await start_bot(bot_env(sandbox.api_url, seeded))
    await wait_until_ready(sandbox, bot, "deleteWebhook")
    li = Person(sandbox, LI)
    await open_menu(li)
    mine = await expect(li, li.tap(MENU_MINE), "您报名的活动")
    own = button_data(mine, "太极拳晨练")
    assert re.fullmatch(r"arg:al:\d+", own), own  # the shape of the real button
    # 王秀英's place in the same tai chi session, in that shape.
    theirs = f"arg:al:{await registration_id_of(e2e_database_url, '太极拳晨练', '王秀英')}"
    shown = len(li.bot_messages())
    answer = await press_raw(li, theirs, mine["message_id"])
    await asyncio.sleep(1.0)  # anything the bot sends after the answer
    revealed = [message_text(m) for m in li.bot_messages()[shown:]]
    assert not any("王秀英" in text for text in revealed), revealed
    assert answer["show_alert"] and answer["text"], answer
    assert await bot.terminate() == 0
