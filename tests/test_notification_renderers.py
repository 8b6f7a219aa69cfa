"""Every notification kind has exactly one renderer, and every renderer speaks all three
languages: rendered with realistic parameters (one sample per kind, below) in zh_Hans, zh_Hant
and en, the text is non-empty, fully formatted, and every sentence it used is translated (as
tests/test_requests_i18n.py checks the request texts). Adding a kind without a renderer, or
without a sample here, fails."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiogram.utils.i18n import I18n

from bot.i18n import DOMAIN, LOCALES_DIR, merged_catalog
from handlers import notification_renderers
from handlers.notifications import NotificationRenderers, Rendered, UnknownNotification
from models.notification_kinds import NotificationKind

LOCALES = ("zh_Hans", "zh_Hant", "en")

_CARD: dict[str, Any] = {
    "request_id": 42,
    "number": "FW-2026-00042",
    "category": "home_repair",
    "urgent": True,
    "status": "new",
    "description": "厨房水龙头一直滴水，关不紧。",
    "preferred": "date",
    "preferred_date": "2026-11-25",
    "name": "王秀英",
    "phone": "13800138000",
    "address": "幸福小区3号楼2单元501",
    "grid": "幸福小区",
    "filed_by": "王军",
    "assignee": None,
    "accept_due": "2026-11-23T18:00",
    "done_due": "2026-11-26T18:00",
    "created": "2026-11-23T10:00",
    "overdue": True,
    "photos": 1,
    "voices": 1,
    "reject_reason": None,
    "rating": None,
}
_ACTIVITY: dict[str, Any] = {
    "activity_id": 7,
    "title": "书法班",
    "starts_at": "2026-12-01T01:30:00+00:00",
    "place": "社区活动室",
    "registration_id": 31,
    "name": "王秀英",
    "tz": "Asia/Shanghai",
    "self": False,
}
_LINK: dict[str, Any] = {
    "link_id": 5,
    "family_name": "王军",
    "relation": "儿子",
    "retiree_name": "王秀英",
}

# What models/ queues for each kind (see the enqueue calls there).
SAMPLES: dict[NotificationKind, dict[str, Any]] = {
    NotificationKind.SYSTEM_TEXT: {"text": "明天上午九点社区活动室有健康讲座。"},
    NotificationKind.REQUEST_STAFF_CARD: _CARD,
    NotificationKind.REQUEST_STATUS: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "category": "home_repair",
        "action": "accepted",
        "status": "accepted",
        "note": None,
        "assignee": "赵丽",
        "for_name": "王秀英",
        "is_self": False,
    },
    NotificationKind.REQUEST_MEDIA: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "kind": "voice",
        "file_id": "AwACAgUAAxkBAAIBQ2Z",
        "index": 1,
        "total": 2,
    },
    NotificationKind.REQUEST_ASSIGNED: {
        **_CARD,
        "status": "accepted",
        "assignee": "赵丽",
        "by": "李主任",
    },
    NotificationKind.REQUEST_OVERDUE: {**_CARD, "deadline": "accept", "stage": "escalate"},
    NotificationKind.REQUEST_RATE: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "category": "home_repair",
        "for_name": "王秀英",
        "is_self": True,
        "result": "已换好水龙头",
    },
    NotificationKind.REQUEST_FILED_FOR_YOU: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "category": "medical",
        "description": "周五上午去市一医院复查，需要人陪同",
        "more": False,
        "by": "陈晓燕",
        "by_staff": False,
    },
    NotificationKind.REQUEST_RATE_REMINDER: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "category": "home_repair",
        "for_name": "王秀英",
        "is_self": False,
    },
    NotificationKind.REQUEST_LOW_RATING: {
        "request_id": 42,
        "number": "FW-2026-00042",
        "category": "home_repair",
        "rating": 2,
        "comment": "师傅来晚了两个小时。",
        "voice": None,
        "name": "王秀英",
        "phone": "13800138000",
        "assignee": "赵丽",
    },
    NotificationKind.REQUEST_CANCELLED_STAFF: {"request_id": 42, "number": "FW-2026-00042"},
    NotificationKind.ACT_PROMOTED: _ACTIVITY,
    NotificationKind.ACT_REMINDER: {**_ACTIVITY, "hours": 24},
    NotificationKind.ACT_CANCELLED: {**_ACTIVITY, "waitlisted": False},
    NotificationKind.ACT_CHANGED: {**_ACTIVITY, "field": "starts_at"},
    NotificationKind.ACT_FEEDBACK: _ACTIVITY,
    NotificationKind.ACT_SIGNED_UP_FOR_YOU: {
        **_ACTIVITY,
        "by": "王军",
        "waitlisted": True,
        "position": 2,
    },
    NotificationKind.FAMILY_LINK_REQUEST: _LINK,
    NotificationKind.FAMILY_LINK_REQUEST_STAFF: _LINK,
    NotificationKind.FAMILY_LINK_DECIDED: {
        "link_id": 5,
        "approved": True,
        "retiree_name": "王秀英",
    },
}

# Text that is final when queued (typed by staff): sent as it is in every language.
UNTRANSLATED = {NotificationKind.SYSTEM_TEXT}


class RecordingI18n:
    """The bot's catalogs (a plain I18n: aiogram finds the current one by its exact class),
    remembering each text looked up: (msgid, the English text, what came back)."""

    def __init__(self) -> None:
        self.i18n = I18n(path=LOCALES_DIR, default_locale="zh_Hans", domain=DOMAIN)
        self.looked_up: list[tuple[str, str, str]] = []
        lookup = self.i18n.gettext

        def gettext(
            singular: str, plural: str | None = None, n: int = 1, locale: str | None = None
        ) -> str:
            result = lookup(singular, plural, n, locale)
            english = singular if plural is None or n == 1 else plural
            self.looked_up.append((singular, english, result))
            return result

        self.i18n.gettext = gettext  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def renderers() -> NotificationRenderers:
    return notification_renderers()


@pytest.fixture
def recording(i18n: I18n) -> RecordingI18n:  # `i18n` builds the .mo files
    return RecordingI18n()


def test_every_kind_has_one_renderer_and_a_sample(renderers: NotificationRenderers) -> None:
    missing = set(NotificationKind) - renderers.kinds()
    assert not missing, f"no renderer for {sorted(missing)}: add it to a capability's renderers()"
    assert renderers.kinds() == set(NotificationKind), "a renderer for a kind that is not queued"
    assert set(SAMPLES) == set(NotificationKind), "add a sample for the new kind to SAMPLES"


def test_a_kind_registered_twice_is_refused() -> None:
    def one(params: dict[str, Any]) -> Rendered:
        return Rendered("one")

    with pytest.raises(ValueError, match=r"system\.text"):
        NotificationRenderers(
            {NotificationKind.SYSTEM_TEXT: one}, {NotificationKind.SYSTEM_TEXT: one}
        )


def test_an_unknown_kind_is_refused(renderers: NotificationRenderers, i18n: I18n) -> None:
    with pytest.raises(UnknownNotification):
        renderers.render("request.no_such_kind", {}, "en", i18n)


@pytest.mark.parametrize("kind", list(NotificationKind), ids=str)
def test_every_kind_renders_translated_in_every_locale(
    kind: NotificationKind, renderers: NotificationRenderers, recording: RecordingI18n
) -> None:
    params = SAMPLES[kind]
    texts: dict[str, str] = {}
    for locale in LOCALES:
        recording.looked_up.clear()
        rendered = renderers.render(kind, dict(params), locale, recording.i18n)
        text = rendered.text
        assert text.strip(), (kind, locale)
        assert not re.search(r"\{\w*\}", text), (kind, locale, text)
        texts[locale] = text
        if kind in UNTRANSLATED:
            assert text == params["text"] and not recording.looked_up
            continue
        assert recording.looked_up, f"{kind} renders no translatable text"
        catalog = merged_catalog(locale)
        for msgid, english, result in recording.looked_up:
            message = catalog.get(msgid)
            assert message is not None and message.string, f"{msgid!r} missing in {locale}"
            assert not message.fuzzy, f"{msgid!r} is fuzzy in {locale}"
            if locale != "en" and re.search("[A-Za-z]", english):
                assert result != english, f"{english!r} not translated in {locale} ({kind})"
    if kind not in UNTRANSLATED:
        assert texts["zh_Hans"] != texts["en"] and texts["zh_Hant"] != texts["en"]
