"""Family relations are stored as codes and worded from the reader's side, in the reader's
language: the family member's "My family" reads "陈淑珍（母亲）", the retiree is asked "Mei
Chen 说她是您的女儿。…"; the family member turns the relative's activity reminders on and off
in "My family"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from handlers.family import FamilyMenu, FamilyMenuAction
from models.registration import read_relation
from models.users import FamilyLink, LinkStatus, Relation, RetireeProfile, Role
from tests.chat import Chat, Person
from tests.test_family_links import add_retiree, outbox
from tests.test_onboarding_retiree import LANGUAGE_CODE, only_message, tr
from tests.test_requests_support import make_user

render = notification_renderers().render
LOCALES = ["zh_Hans", "zh_Hant", "en"]

MOTHER = Person(id=21001, first_name="淑珍", language_code="zh-hans")
DAUGHTER = Person(id=21002, first_name="Mei", last_name="Chen")

# A daughter and her mother: what the family member reads, what the retiree reads.
LIST_SIDE = {
    "zh_Hans": "陈淑珍（母亲）",
    "zh_Hant": "陈淑珍（母親）",
    "en": "陈淑珍 (mother)",
}
RETIREE_SIDE = {
    "zh_Hans": "Mei Chen 说她是您的女儿。",
    "zh_Hant": "Mei Chen 說她是您的女兒。",
    "en": "Mei Chen says she is your daughter.",
}


@pytest.fixture
def family_chat(chat: Chat, i18n: I18n) -> Chat:
    chat.i18n_for_tests = i18n  # type: ignore[attr-defined]
    return chat


def test_typed_words_become_codes_in_any_language() -> None:
    assert read_relation("女儿").relation == Relation.DAUGHTER
    assert read_relation("女兒").relation == Relation.DAUGHTER
    assert read_relation(" Son-in-law ").relation == Relation.SON_IN_LAW
    assert read_relation("侄子").relation == Relation.NEPHEW
    other = read_relation("干女儿")
    assert (other.relation, other.note) == (Relation.OTHER, "干女儿")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_retiree_reads_who_asks_in_their_words(i18n: I18n, locale: str) -> None:
    params = {
        "link_id": 1,
        "relation": "daughter",
        "relation_note": None,
        "retiree_female": True,
        "family_name": "Mei Chen",
        "retiree_name": "陈淑珍",
    }
    text = render("family.link_request", params, locale, i18n).text
    assert text.startswith(RETIREE_SIDE[locale])
    assert "TA" not in text
    son = render("family.link_request", {**params, "relation": "son"}, locale, i18n).text
    assert son.startswith(
        {"zh_Hans": "Mei Chen 说他是您的儿子。", "zh_Hant": "Mei Chen 說他是您的兒子。"}.get(
            locale, "Mei Chen says he is your son."
        )
    )
    # typed words, and a row queued before codes existed (the words in "relation")
    other = {**params, "relation": "other", "relation_note": "干女儿"}
    old = {**params, "relation": "干女儿", "relation_note": None}
    for row in (other, old):
        text = render("family.link_request", row, locale, i18n).text
        assert "干女儿" in text
    staff = render("family.link_request_staff", params, locale, i18n).text
    assert "陈淑珍" in staff and "Mei Chen" in staff


@pytest.mark.parametrize("locale", LOCALES)
async def test_family_member_links_then_reads_the_relative_from_their_side(
    family_chat: Chat, session: AsyncSession, i18n: I18n, locale: str
) -> None:
    chat = family_chat
    await add_retiree(session, telegram_id=MOTHER.id, name="陈淑珍")
    daughter = Person(
        id=DAUGHTER.id,
        first_name="Mei",
        last_name="Chen",
        language_code=LANGUAGE_CODE[locale],
    )
    t = lambda msgid: tr(i18n, locale, msgid)  # noqa: E731
    await family_asks_as(chat, daughter, locale, relation=t("Daughter"), gender=t("Mother"))
    link = await session.scalar(select(FamilyLink))
    assert link is not None
    assert (link.relation, link.retiree_female) == (Relation.DAUGHTER, True)
    await session.commit()

    # the retiree is asked in her words (Simplified Chinese), whatever the asker's language
    [ask] = await outbox(session, "family.link_request")
    text = render(ask.kind, ask.params, "zh_Hans", i18n).text
    assert text.startswith("Mei Chen 说她是您的女儿。") and "TA" not in text
    approve = f"fl:ok:{ask.params['link_id']}"
    await chat.press(MOTHER, approve)

    sent = await chat.send(daughter, "👨‍👩‍👧 " + t("My family"))
    view = only_message(sent)
    assert LIST_SIDE[locale] in view.text
    if locale != "en":
        assert "：" in view.text and ": " not in view.text  # full-width punctuation


async def family_asks_as(
    chat: Chat, person: Person, locale: str, *, relation: str, gender: str | None
) -> str:
    from tests.test_onboarding_retiree import choose_language

    await choose_language(chat, person, locale)
    t = lambda msgid: tr(chat.i18n_for_tests, locale, msgid)  # noqa: E731  # type: ignore[attr-defined]
    await chat.send(person, "👨‍👩‍👧 " + t("I am a family member"))
    sent = await chat.send(person, relation)
    if gender is not None:
        assert only_message(sent).button_texts()[:2] == [t("Mother"), t("Father")]
        # something else is refused kindly and the same question comes again
        sent = await chat.send(person, "🙂")
        assert t("Which of these is your relative to you? Please tap a button.") in (
            only_message(sent).text
        )
        await chat.send(person, gender)
    await chat.send(person, "13900002222")
    sent = await chat.send(person, "陈淑珍")
    return only_message(sent).text


async def test_typed_relation_is_kept_in_the_family_members_words(
    family_chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await add_retiree(session, telegram_id=None, name="陈淑珍")
    admin = await make_user(session, 900001, "管理员", Role.ADMIN)
    await session.commit()
    await family_asks_as(family_chat, DAUGHTER, "zh_Hans", relation="干女儿", gender=None)
    link = await session.scalar(select(FamilyLink))
    assert link is not None
    assert (link.relation, link.relation_note) == (Relation.OTHER, "干女儿")
    link.status = LinkStatus.APPROVED
    await session.commit()
    [ask] = await outbox(session, "family.link_request_staff")
    assert ask.chat_id == admin.telegram_id
    staff_text = render(ask.kind, ask.params, "zh_Hans", i18n).text
    assert "Mei Chen 说自己是 陈淑珍 的干女儿。" in staff_text
    sent = await family_chat.send(DAUGHTER, "👨‍👩‍👧 " + tr(i18n, "zh_Hans", "My family"))
    assert "陈淑珍（干女儿）" in only_message(sent).text


async def test_activity_reminders_switch_in_my_family(
    family_chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    chat = family_chat
    profile = await add_retiree(session, telegram_id=MOTHER.id, name="陈淑珍")
    member = await make_user(session, DAUGHTER.id, "Mei Chen", Role.FAMILY, language="zh_Hans")
    other_profile = RetireeProfile(full_name="别人", phone="13900009999")
    session.add(other_profile)
    await session.flush()
    link = FamilyLink(
        family_user_id=member.id,
        profile_id=profile.id,
        relation=Relation.DAUGHTER,
        retiree_female=True,
        status=LinkStatus.APPROVED,
    )
    stranger = await make_user(session, 21009, "Stranger", Role.FAMILY)
    strangers_link = FamilyLink(
        family_user_id=stranger.id,
        profile_id=other_profile.id,
        relation=Relation.SON,
        status=LinkStatus.APPROVED,
    )
    session.add_all([link, strangers_link])
    await session.commit()

    sent = await chat.send(DAUGHTER, "👨‍👩‍👧 我的家人")
    view = only_message(sent)
    assert "陈淑珍（母亲）" in view.text
    turn_on = view.callback_data("活动提醒")
    assert turn_on == FamilyMenu(action=FamilyMenuAction.REMINDERS_ON, link_id=link.id).pack()
    sent = await chat.press(DAUGHTER, turn_on)
    toast = [r for r in sent if r.method == "answerCallbackQuery"][-1]
    assert toast.params["text"] == "以后陈淑珍的活动提醒也会发给您。"
    edited = [r for r in sent if r.method == "editMessageText"][-1]
    assert "已开启" in " ".join(edited.button_texts())
    await session.refresh(link)
    assert link.activity_reminders is True
    await session.commit()

    # a forged id (someone else's link): refused, nothing changes
    forged = FamilyMenu(action=FamilyMenuAction.REMINDERS_ON, link_id=strangers_link.id).pack()
    sent = await chat.press(DAUGHTER, forged)
    assert [r.method for r in sent] == ["answerCallbackQuery"]
    await session.refresh(strangers_link)
    assert strangers_link.activity_reminders is False
    await session.commit()

    off = FamilyMenu(action=FamilyMenuAction.REMINDERS_OFF, link_id=link.id).pack()
    sent = await chat.press(DAUGHTER, off)
    await session.refresh(link)
    assert link.activity_reminders is False
    await session.commit()


def test_no_ta_in_the_chinese_catalogs() -> None:
    """ "TA" is how a form writes to nobody in particular; the bot names people or says 对方."""
    root = Path(__file__).resolve().parent.parent / "locales"
    for locale in ("zh_Hans", "zh_Hant"):
        for path in (root / locale).glob("*.po"):
            for line in path.read_text().splitlines():
                if line.startswith("msgstr"):
                    assert not re.search(r"\bTA\b", line), (path, line)
