"""The real bot process (`retiree-bot run`) in webhook mode: it listens on a local port, tells
the sandbox where (setWebhook with a secret), and the sandbox delivers the updates there."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from sandbox.demo.seed import DemoPeople
from tests.e2e.conftest import free_port, onboarding_scenario

pytestmark = pytest.mark.slow


async def test_new_retiree_registers_over_webhook(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    port = free_port()
    env = bot_env(
        sandbox.api_url,
        seeded,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/webhook",
        WEBHOOK_SECRET=secrets.token_urlsafe(16),
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    bot = await start_bot(env)
    await onboarding_scenario(sandbox, bot, e2e_database_url, "setWebhook", seeded.staff_chat_id)
    calls = [r for r in sandbox.requests if r.method == "setWebhook"]
    assert calls[0].params["url"] == f"http://127.0.0.1:{port}/webhook"
    assert calls[0].params.get("secret_token"), "the webhook is protected by a secret"
    assert not any(r.method == "getUpdates" for r in sandbox.requests)
