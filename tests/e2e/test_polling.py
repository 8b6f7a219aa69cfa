"""The real bot process (`retiree-bot run`) in long-polling mode against the sandbox Bot API
server: a new retiree registers by tapping and typing, and the process stops cleanly."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.seed import DemoPeople
from tests.e2e.conftest import onboarding_scenario

pytestmark = pytest.mark.slow


async def test_new_retiree_registers_over_long_polling(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    bot = await start_bot(bot_env(sandbox.api_url, seeded))
    await onboarding_scenario(sandbox, bot, e2e_database_url, "deleteWebhook", seeded.staff_chat_id)
    methods = {r.method for r in sandbox.requests}
    assert "getUpdates" in methods and "setWebhook" not in methods
