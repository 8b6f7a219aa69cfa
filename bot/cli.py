"""The `retiree-bot` command.

    retiree-bot run [--no-sender] [--no-scheduler]   the bot (polling, or webhook if WEBHOOK_URL)
    retiree-bot sender                               only the outbox sender
    retiree-bot scheduler                            only the scheduler
    retiree-bot migrate                              apply database migrations and exit
    retiree-bot sandbox [ARGS...]                    try the bot without Telegram

Configuration comes from the environment and `.env`; a missing or wrong setting stops the
command with one line naming it. SIGTERM or Ctrl-C stops it cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from bot.config import Settings, load_settings

log = logging.getLogger("bot.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retiree-bot",
        description="Telegram bot for retiree-service offices. Settings come from the "
        "environment and .env (BOT_TOKEN, DATABASE_URL, REDIS_URL, WEBHOOK_URL, ...).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run", help="run the bot: long polling, or a webhook server when WEBHOOK_URL is set"
    )
    run.add_argument(
        "--no-sender",
        action="store_true",
        help="do not deliver the outbox here (a `retiree-bot sender` process does)",
    )
    run.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run scheduled scans here (a `retiree-bot scheduler` process does)",
    )
    commands.add_parser("sender", help="run only the outbox sender (delivers pushed messages)")
    commands.add_parser("scheduler", help="run only the scheduler (reminders, greetings, ...)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser(
        "sandbox",
        help="try the bot without Telegram: local Bot API server and chat page "
        "(`retiree-bot sandbox --help` for its options)",
        add_help=False,
    )
    return parser


def _run_until_signal(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `work(stop)`; the first SIGTERM/SIGINT sets `stop` (orderly shutdown), a second
    one cancels the work."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = (signal.SIGTERM, signal.SIGINT)

        def on_signal(sig: signal.Signals) -> None:
            if stop.is_set():
                log.warning("%s again: stopping now", sig.name)
                if task is not None:
                    task.cancel()
                return
            log.info("%s received: shutting down", sig.name)
            stop.set()

        for sig in signals:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await work(stop)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    asyncio.run(main())


def _start(settings: Settings) -> None:
    from bot.logging_setup import setup_logging

    secrets = [settings.token]
    if settings.webhook_secret is not None:
        secrets.append(settings.webhook_secret.get_secret_value())
    setup_logging(settings.log_level, secrets)


def _guard(run: Callable[[], None]) -> int:
    """Known failures at start become one line, not a traceback."""
    from aiogram.exceptions import TelegramUnauthorizedError

    try:
        run()
    except TelegramUnauthorizedError:
        raise SystemExit(
            "BOT_TOKEN was rejected by Telegram (Unauthorized): check the token from @BotFather."
        ) from None
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 1
    return 0


def _sandbox(argv: Sequence[str]) -> int:
    # Imported here, and only here: the sandbox runs the bot, the bot does not need it (and the
    # production image does not carry it).
    try:
        from sandbox.demo.runner import main as sandbox_main
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "sandbox":
            raise
        raise SystemExit(
            "The sandbox is not installed here (the production image leaves it out): "
            "run it from a source checkout with `make demo`."
        ) from None
    return sandbox_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:
        # Everything after `sandbox` belongs to the sandbox's own parser.
        return _sandbox(args_list[1:])
    args = build_parser().parse_args(args_list)

    settings = load_settings()  # ConfigError: one line naming the setting, exit status 1
    _start(settings)

    # Loading aiogram, SQLAlchemy and the handlers makes some hundred thousand objects that live
    # as long as the process; the cyclic GC would walk them over and over while they load (about
    # a second of start-up). Load with it paused, then freeze them out of later collections.
    gc.disable()
    try:
        from bot import app
        from bot.config import require_token

        if args.command == "run":
            import handlers  # noqa: F401  (the dispatcher's router tree)
    finally:
        gc.enable()
        gc.freeze()

    if args.command in ("run", "sender"):
        require_token(settings)  # before anything starts: one line if it is missing
    if args.command == "migrate":
        asyncio.run(app.migrate_or_exit(settings.database_url))
        log.info("database is up to date")
        return 0
    if args.command == "run":
        with_sender, with_scheduler = not args.no_sender, not args.no_scheduler
        return _guard(
            lambda: _run_until_signal(
                lambda stop: app.run_bot(
                    settings, stop=stop, with_sender=with_sender, with_scheduler=with_scheduler
                )
            )
        )
    if args.command == "sender":
        return _guard(
            lambda: _run_until_signal(lambda stop: app.run_sender_only(settings, stop=stop))
        )
    if args.command == "scheduler":
        return _guard(
            lambda: _run_until_signal(lambda stop: app.run_scheduler_only(settings, stop=stop))
        )
    raise AssertionError(args.command)  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
