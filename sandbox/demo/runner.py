"""`retiree-bot sandbox`: try the bot without Telegram, with one command.

Starts the local Bot API server with its chat page, recreates a SQLite file seeded with a demo
office, shows the demo people on the page, and runs the bot in this process (the same
`run_bot` as `retiree-bot run`: handlers, outbox sender and scheduler) pointed at the local
server, by long polling or, with `--bot-port`, by webhook. Ctrl-C or SIGTERM stops it all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from bot.app import run_bot
from bot.config import ConfigError, Settings, load_settings
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.logging_setup import setup_logging
from models.base import utcnow
from sandbox.demo.seed import (
    DEMO_ADMIN_ID,
    DEMO_BOT_ID,
    DEMO_BOT_USERNAME,
    DemoPeople,
    demo_people,
    seed_demo,
)
from sandbox.server import SandboxServer

log = logging.getLogger(__name__)

DEFAULT_DATA_FILE = Path("data") / "sandbox.sqlite3"


class PortInUse(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retiree-bot sandbox",
        description=(
            "Try the bot without Telegram: a local Bot API server with a chat page in the "
            "browser, and the bot on a fresh SQLite file with demo data."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of the chat page")
    parser.add_argument("--port", type=int, default=8081, help="port of the chat page")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help=f"keep {DEFAULT_DATA_FILE} from the last run instead of starting afresh",
    )
    parser.add_argument(
        "--seed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load the demo office: grids, staff, retirees, families (default: yes)",
    )
    parser.add_argument(
        "--bot-port",
        type=int,
        default=None,
        help="run the bot in webhook mode, listening on this port (default: long polling)",
    )
    parser.add_argument(
        "--data-file",
        type=Path,
        default=DEFAULT_DATA_FILE,
        help=f"the SQLite file to use (default: {DEFAULT_DATA_FILE})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging()
    try:
        return asyncio.run(run_sandbox(args))
    except ConfigError as exc:
        print(exc.line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except PortInUse as exc:
        print(f"Sandbox could not start: {exc}; try another one with --port.", file=sys.stderr)
        return 1


def _setup_logging() -> None:
    """The runtime's logging (token redaction), with the start-up chatter of migrations and
    the scheduler turned down so the "Sandbox ready" line stays visible."""
    setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
    for name in ("alembic.runtime.migration", "apscheduler.scheduler", "aiogram.event"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def _wait_until_listening(
    server: SandboxServer, bot_task: asyncio.Task[Any], timeout: float
) -> None:
    """Until the bot has made its last start-up call (deleteWebhook before long polling,
    setWebhook in webhook mode), it has stopped, or `timeout` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not bot_task.done():
        if any(r.method in ("deleteWebhook", "setWebhook") for r in server.requests):
            return
        await asyncio.sleep(0.1)


def _banner(page: str, args: argparse.Namespace, people: DemoPeople) -> str:
    mode = f"webhook on port {args.bot_port}" if args.bot_port else "long polling"
    data = f"{args.data_file} ({'kept' if args.keep_data else 'fresh'})"
    lines = [f"Sandbox ready: open {page}", f"  bot: {mode}; data: {data}; stop with Ctrl-C"]
    if args.seed:
        lines.append("  try: a new user (button on the page), or one of the demo people:")
        for person in people.people:
            if person.telegram_id in _HIGHLIGHTS:
                name = " ".join(filter(None, (person.first_name, person.last_name)))
                lines.append(f"    {name} ({person.telegram_id}): {person.description}")
    return "\n".join(lines)


_HIGHLIGHTS = {100001, DEMO_ADMIN_ID, 200001, 200007, 300001}


def _fresh_database(path: Path, keep: bool) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not keep:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


async def prepare_database(database_url: str, *, seed: bool) -> DemoPeople:
    """Migrate, then seed (idempotent). Returns the demo people to show on the page."""
    await upgrade(database_url)
    people = demo_people()
    if not seed:
        return people
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            people = await seed_demo(session, now=utcnow())
            await session.commit()
    finally:
        await engine.dispose()
    return people


def register_people(server: SandboxServer, people: DemoPeople) -> None:
    """Put the demo people and the staff group on the page's person picker."""
    for person in people.people:
        server.add_person(
            person.telegram_id,
            person.first_name,
            last_name=person.last_name,
            username=person.username,
            language_code=person.language_code,
            role_hint=person.role_hint,
            description=person.description,
        )
    server.add_group(people.staff_chat_id, people.staff_chat_title, list(people.staff_ids))


def sandbox_settings(
    api_url: str, database_url: str, people: DemoPeople, *, bot_port: int | None
) -> Settings:
    webhook: dict[str, object] = {"webhook_url": None}
    if bot_port is not None:
        webhook = {
            "webhook_url": f"http://127.0.0.1:{bot_port}/webhook",
            "webhook_secret": secrets.token_urlsafe(24),
            "webhook_host": "127.0.0.1",
            "webhook_port": bot_port,
        }
    return load_settings(
        bot_token=f"{DEMO_BOT_ID}:sandbox",
        telegram_api_url=api_url,
        database_url=database_url,
        staff_chat_id=people.staff_chat_id,
        office_phone="010-6512 3456",
        admin_ids=[DEMO_ADMIN_ID],
        redis_url=None,
        **webhook,
    )


async def run_sandbox(args: argparse.Namespace) -> int:
    database_url = _fresh_database(args.data_file, args.keep_data)
    people = await prepare_database(database_url, seed=args.seed)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    server = SandboxServer(host=args.host, port=args.port, bot_username=DEMO_BOT_USERNAME)
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        raise PortInUse(f"port {args.port} on {args.host} is already in use") from exc
    try:
        if args.seed:
            register_people(server, people)
        settings = sandbox_settings(server.api_url, database_url, people, bot_port=args.bot_port)
        server.timezone = settings.timezone  # the page shows message times in it
        bot_task = asyncio.create_task(run_bot(settings, stop=stop), name="sandbox-bot")
        await _wait_until_listening(server, bot_task, timeout=60)
        if not bot_task.done():
            print(_banner(server.base_url.rstrip("/") + "/", args, people), flush=True)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({bot_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        if bot_task in done and not stopper.done():
            stopper.cancel()
        await asyncio.wait({bot_task}, timeout=15)
        if not bot_task.done():
            log.warning("the bot did not stop within 15 s; cancelling it")
            bot_task.cancel()
            await asyncio.wait({bot_task})
        error = None if bot_task.cancelled() else bot_task.exception()
        if error is not None:
            if isinstance(error, ConfigError):
                raise error
            log.error("the bot stopped with an error", exc_info=error)
            return 1
    finally:
        await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
