"""The one-command sandbox in a real browser: `retiree-bot sandbox` in a subprocess, headless
Chromium on its chat page; a brand-new user registers as a retiree by clicking and typing, and
the main menu appears. A screenshot is left in test-artifacts/onboarding.png."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
STEP_MS = 15_000  # a step waits this long for the bot's answer to show on the page


def _chromium_or_skip() -> Path:
    path = CHROMIUM if CHROMIUM.exists() else None
    if path is None and (found := shutil.which("chromium")):
        path = Path(found)
    if path is None:
        reason = (
            "Chromium is not installed (`apt-get install -y chromium` as root); "
            "Playwright must not download its own browser"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — and CI must run the browser test")
        pytest.skip(reason)
    return path


def _sandbox_command(port: int, data_file: Path) -> list[str]:
    script = Path(sys.executable).parent / "retiree-bot"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return [*base, "sandbox", "--port", str(port), "--data-file", str(data_file)]


async def _start_sandbox(tmp_path: Path) -> tuple[asyncio.subprocess.Process, str, Path]:
    port = free_port()
    log_path = tmp_path / "sandbox.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(PYTHONUNBUFFERED="1", THROTTLE_SECONDS="0", DATABASE_URL="", TELEGRAM_API_URL="")
    env = {k: v for k, v in env.items() if v != ""}
    process = await asyncio.create_subprocess_exec(
        *_sandbox_command(port, tmp_path / "sandbox.sqlite3"),
        cwd=tmp_path,
        env=env,
        stdout=log_path.open("wb"),
        stderr=asyncio.subprocess.STDOUT,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while True:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"Sandbox ready: open (\S+)", text)
        if match:
            return process, match.group(1), log_path
        if process.returncode is not None or loop.time() > deadline:
            if process.returncode is None:
                process.kill()
            await process.wait()
            raise AssertionError(f"the sandbox did not get ready:\n{text}")
        await asyncio.sleep(0.2)


async def test_new_user_registers_as_retiree_in_the_browser(tmp_path: Path) -> None:
    chromium = _chromium_or_skip()
    playwright_api = pytest.importorskip("playwright.async_api")
    process, url, log_path = await _start_sandbox(tmp_path)
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1000, "height": 900})
                await _register_as_retiree(page, playwright_api.expect, url)
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "onboarding.png"), full_page=False)
            finally:
                await browser.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    assert "Sandbox stopped." in output and "Traceback" not in output, output


async def _register_as_retiree(page, expect, url: str) -> None:  # type: ignore[no-untyped-def]
    """What a person does on the chat page: new user, /start, then tap and type."""
    await page.goto(url)
    column = page.get_by_test_id("column").first
    await expect(column).to_be_visible(timeout=STEP_MS)

    # A brand-new user, from the person picker.
    await column.get_by_test_id("person-select").select_option("__new__")
    dialog = page.get_by_test_id("new-person-dialog")
    await expect(dialog).to_be_visible(timeout=STEP_MS)
    await dialog.get_by_test_id("new-person-name").fill("建华")
    await dialog.get_by_test_id("new-person-last-name").fill("周")
    await dialog.get_by_test_id("new-person-language").select_option("zh-hans")
    await dialog.get_by_test_id("new-person-create").click()
    await expect(dialog).to_be_hidden(timeout=STEP_MS)

    async def type_and_send(text: str) -> None:
        box = column.get_by_test_id("message-input")
        await box.fill(text)
        await column.get_by_test_id("send").click()

    async def tap(label: str) -> None:
        button = column.get_by_test_id("reply-button").filter(has_text=label)
        await expect(button.first).to_be_visible(timeout=STEP_MS)
        await button.first.click()

    async def bot_says(text: str) -> None:
        said = column.locator("[data-testid=message][data-from=bot]").filter(has_text=text)
        await expect(said.last).to_be_visible(timeout=STEP_MS)

    await type_and_send("/start")
    await tap("简体中文")
    await tap("我是退休老人")
    await bot_says("姓名")
    await type_and_send("周建华")
    await tap("发送我的手机号")  # the page shares this person's contact, as Telegram does
    await bot_says("生日")
    await type_and_send("1950-03-15")
    await tap("公历")
    await tap("幸福里社区")
    await bot_says("住址")
    await type_and_send("幸福里3号楼2单元301")
    await bot_says("核对")
    await tap("对，没问题")
    await bot_says("登记好了")

    # The main menu: big buttons under the input field.
    menu = column.get_by_test_id("reply-button")
    await expect(menu.filter(has_text="请求帮助").first).to_be_visible(timeout=STEP_MS)
    assert await menu.count() >= 4
