"""The sandbox: a local Bot API server and a chat page, so the bot can be tried without Telegram.

`SandboxServer` stands in for api.telegram.org (point the bot's TELEGRAM_API_URL at
`server.api_url`); its page at `server.base_url` lets people chat as demo retirees, family members
and staff. The `retiree-bot sandbox` command (sandbox/demo/runner.py) starts both with the bot.

It runs the bot and is not part of it: it imports bot/ (and below), bot/ imports it only inside
the `retiree-bot sandbox` command, and the production image does not carry it.
"""

from sandbox.http import FaultConfig
from sandbox.server import RecordedRequest, SandboxServer

__all__ = ["FaultConfig", "RecordedRequest", "SandboxServer"]
