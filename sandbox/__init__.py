"""The sandbox: a local Bot API server and a chat page, so the bot can be tried without Telegram.

`SandboxServer` stands in for api.telegram.org (point the bot's TELEGRAM_API_URL at
`server.api_url`); its page at `server.base_url` lets people chat as demo retirees, family members
and staff. The `retiree-bot sandbox` command (sandbox/demo/runner.py) starts both with the bot.
"""

from sandbox.server import FaultConfig, RecordedRequest, SandboxServer

__all__ = ["FaultConfig", "RecordedRequest", "SandboxServer"]
