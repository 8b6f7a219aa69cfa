"""The real bot process (`retiree-bot run`) in long-polling mode against the sandbox Bot API
server: a new retiree registers by tapping and typing, and the process stops cleanly."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.demo.seed import DemoPeople
from tests.e2e.conftest import Person, message_text, onboarding_scenario

pytestmark = pytest.mark.slow


async def test_new_retiree_registers_over_long_polling(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    bot = await start_bot(bot_env(sandbox.api_url, seeded))

    async def daughter_follows_her_mothers_request() -> None:
        # 陈晓燕 (demo data) lives in Shenzhen and filed a request for her mother 陈淑珍.
        daughter = Person(sandbox, 300001)
        welcome = await daughter.send("/start")
        assert any("欢迎回来" in message_text(m) for m in welcome), daughter.transcript()
        answers = await daughter.tap("我的请求")
        shown = " ".join(message_text(m) for m in answers)
        assert "陈淑珍" in shown or "就医" in shown, daughter.transcript()

    await onboarding_scenario(
        sandbox,
        bot,
        e2e_database_url,
        "deleteWebhook",
        seeded.staff_chat_id,
        then=daughter_follows_her_mothers_request,
    )
    methods = {r.method for r in sandbox.requests}
    assert "getUpdates" in methods and "setWebhook" not in methods
