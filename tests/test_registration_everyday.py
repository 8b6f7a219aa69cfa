"""Registration as an elder does it: the birth year tapped (decade, year) and the month and day
typed as people write them, the home address, and no language question when Telegram already
told us the language."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from tests.chat import Chat, Person
from tests.test_onboarding_retiree import add_grids, load_user, only_message


async def test_telegram_told_the_language_so_it_is_not_asked(
    chat: Chat, session: AsyncSession
) -> None:
    person = Person(id=61001, first_name="Meiling", language_code="zh-hant")
    sent = await chat.send(person, "/start")
    question = only_message(sent)
    # straight to "who are you", in the language Telegram told; the others one tap away
    assert "您是哪一位" in question.text or "請點" in question.text
    buttons = question.button_texts()
    assert buttons[0].startswith("👴") and "English" in buttons and "简体中文" in buttons
    assert buttons[-1] == "🏠 返回主選單"
    # the person says otherwise: that language from now on, and the question again
    sent = await chat.send(person, "English")
    again = only_message(sent)
    assert "Who are you?" in again.text
    assert "English" not in again.button_texts()
    assert (await load_user(session, person.id)).language == "en"


async def test_unknown_telegram_language_is_still_asked(chat: Chat) -> None:
    person = Person(id=61002, first_name="Hans", language_code="de")
    sent = await chat.send(person, "/start")
    assert only_message(sent).button_texts()[:3] == ["简体中文", "繁體中文", "English"]


async def test_birth_year_by_taps_then_month_and_day_typed_and_the_address(
    chat: Chat, session: AsyncSession
) -> None:
    await add_grids(session)
    person = Person(id=61003, first_name="Guiying")  # zh-hans
    await chat.send(person, "/start")
    await chat.send(person, "👴 我是退休老人")
    await chat.send(person, "刘桂英")
    sent = await chat.send(person, "13812340000")
    birthday_question = only_message(sent)
    assert "点下面您出生的年代" in birthday_question.text
    assert "1940年代" in birthday_question.button_texts()
    assert birthday_question.button_texts()[-1] == "🏠 返回主菜单"

    sent = await chat.send(person, "1940年代")
    years = only_message(sent)
    assert "哪一年出生" in years.text
    assert years.button_texts()[:5] == ["1940", "1941", "1942", "1943", "1944"]
    sent = await chat.send(person, "1948")
    month_day = only_message(sent)
    assert "1948年出生" in month_day.text and "几月几号" in month_day.text
    # a date that cannot be: asked again, the year kept
    sent = await chat.send(person, "二月三十号")
    assert "1948年出生" in only_message(sent).text
    sent = await chat.send(person, "三月十五号")
    assert "公历" in only_message(sent).button_texts()[0]
    await chat.send(person, "☀️ 公历（阳历）")
    sent = await chat.send(person, "东区")
    assert "住址" in only_message(sent).text
    sent = await chat.send(person, "！！")  # not an address: asked again kindly
    assert "至少 4 个字" in only_message(sent).text
    sent = await chat.send(person, "东区3号楼2单元301")
    summary = only_message(sent)
    assert "1948-03-15" in summary.text and "住址：东区3号楼2单元301" in summary.text
    await chat.send(person, "✅ 对，没问题")
    user = await load_user(session, person.id)
    assert user.profile is not None
    assert user.profile.birthday == date(1948, 3, 15)
    assert user.profile.address == "东区3号楼2单元301"


async def test_birthday_typed_as_elders_write_it(chat: Chat, session: AsyncSession) -> None:
    person = Person(id=61004, first_name="Jianguo")
    await chat.send(person, "/start")
    await chat.send(person, "👴 我是退休老人")
    await chat.send(person, "赵建国")
    await chat.send(person, "13812340001")
    sent = await chat.send(person, "5月6号")  # no year: asked for it
    assert "哪一年" in only_message(sent).text
    sent = await chat.send(person, "五零年五月六号")
    assert "公历" in only_message(sent).button_texts()[0]
    await chat.send(person, "🌙 农历")
    await chat.send(person, "幸福里2号楼")
    sent = await chat.send(person, "✅ 对，没问题")
    assert "登记" in only_message(sent).text
    user = await load_user(session, person.id)
    assert user.profile is not None and user.profile.birthday == date(1950, 5, 6)
