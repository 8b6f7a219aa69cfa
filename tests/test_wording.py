"""Words an elder uses, the same everywhere: one name for the office (服务站 / 服務站 / "service
office"), statuses that do not read like a delivery app, and a cancel confirmation that
speaks to the person ("您") unless the place is a relative's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.requests.texts import status_label
from models.activities import sign_up
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import link_family, make_activity, make_retiree, make_user

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
MOTHER = Person(7201, "陈淑珍")
DAUGHTER = Person(7202, "陈晓燕")


def msgstrs(locale: str) -> list[str]:
    return [
        line
        for path in (LOCALES_DIR / locale).glob("*.po")
        for line in path.read_text().splitlines()
        if line.startswith("msgstr")
    ]


@pytest.mark.parametrize(
    ("locale", "name", "others"),
    [
        ("zh_Hans", "服务站", ("服务中心", "服務站")),
        ("zh_Hant", "服務站", ("服務中心", "服务站")),
        ("en", "service office", ("service centre", "service center")),
    ],
)
def test_one_name_for_the_office(locale: str, name: str, others: tuple[str, ...]) -> None:
    texts = msgstrs(locale)
    assert any(name in t for t in texts)
    for other in others:
        assert not [t for t in texts if other in t], other


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_no_delivery_app_words_for_elders(locale: str) -> None:
    for words in ("等待接单", "等待接單", "受理编号", "受理編號", "已受理", "未能受理"):
        assert not [t for t in msgstrs(locale) if words in t], words


def test_statuses_in_everyday_words(i18n: I18n) -> None:
    with i18n.context(), i18n.use_locale("zh_Hans"):
        assert status_label("new") == "🆕 已收到，等待工作人员接手"
        assert status_label("accepted") == "👍 工作人员已接手"
    with i18n.context(), i18n.use_locale("zh_Hant"):
        assert status_label("new") == "🆕 已收到，等待工作人員接手"


def test_full_width_punctuation_in_the_family_texts() -> None:
    """Chinese family texts use full-width colons and brackets around Chinese words."""
    for locale in ("zh_Hans", "zh_Hant"):
        lines = (LOCALES_DIR / locale / "onboarding.po").read_text().splitlines()
        for line in lines:
            if line.startswith("msgstr") and re.search(r"[\u4e00-\u9fff][(:]", line):
                raise AssertionError(f"half-width punctuation after Chinese: {line}")


async def test_cancel_confirmation_speaks_to_the_person_or_names_the_relative(
    chat: Chat, session: AsyncSession
) -> None:
    mother = await make_retiree(session, MOTHER.id, "陈淑珍")
    daughter = await make_user(session, DAUGHTER.id, Role.FAMILY, "陈晓燕")
    await link_family(session, daughter, mother)
    own = await make_activity(session, title="书法课")
    relatives = await make_activity(session, title="合唱团")
    assert mother.user is not None
    await sign_up(session, mother.user, own.id, mother.id)
    await sign_up(session, daughter, relatives.id, mother.id)
    await session.commit()

    mine = last_message(await chat.send(MOTHER, "📅 我的活动"))
    confirm = last_message(await chat.press(MOTHER, mine.callback_data("书法课")))
    assert confirm.text.startswith("要取消您在") and "陈淑珍" not in confirm.text
    assert "是的，取消报名" in " ".join(confirm.button_texts())
    done = last_message(await chat.press(MOTHER, confirm.callback_data("是的")))
    assert done.text.startswith("“书法课”的报名已取消")

    mine = last_message(await chat.send(DAUGHTER, "📅 我的活动"))
    confirm = last_message(await chat.press(DAUGHTER, mine.callback_data("合唱团")))
    assert confirm.text.startswith("要取消陈淑珍在")
    kept = last_message(await chat.press(DAUGHTER, confirm.callback_data("不取消")))
    assert kept.text == "好的，陈淑珍的报名保留着。"
