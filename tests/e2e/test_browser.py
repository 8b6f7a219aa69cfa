"""The one-command sandbox in a real browser: `retiree-bot sandbox` in a subprocess, headless
Chromium on its chat page.

- A brand-new user (named surname first, as Chinese names are) registers as a retiree by
  clicking and typing, and the main menu appears (test-artifacts/onboarding.png).
- At A, A+ and A++, on a 360×740 phone and a 1280×800 laptop, a retiree with the main menu and
  a list of activities: the conversation keeps at least half the height at A+ and A++, shows the
  newest message after a font change and when the keyboard appears, the composer's buttons are
  at least 44 px, inline buttons have WCAG AA contrast, and bubble times are in the office's time
  zone whatever the browser's (test-artifacts/large-text-<viewport>-<level>.png).
- A sandbox stopped and started again is noticed by the open page, which reloads.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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


async def _start_sandbox(
    tmp_path: Path, port: int | None = None, log_name: str = "sandbox.log"
) -> tuple[asyncio.subprocess.Process, str, Path]:
    port = port or free_port()
    log_path = tmp_path / log_name
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
    await dialog.get_by_test_id("new-person-last-name").fill("周")
    await dialog.get_by_test_id("new-person-name").fill("建华")
    # Chinese order: surname first, no space.
    await expect(dialog.get_by_test_id("new-person-preview")).to_contain_text("周建华")
    await dialog.get_by_test_id("new-person-language").select_option("zh-hans")
    await dialog.get_by_test_id("new-person-create").click()
    await expect(dialog).to_be_hidden(timeout=STEP_MS)
    await expect(column.get_by_test_id("person-name")).to_have_text("周建华", timeout=STEP_MS)

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


# -- large text ----------------------------------------------------------------------------

VIEWPORTS = {
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "laptop": {"viewport": {"width": 1280, "height": 800}},
}
OFFICE_TZ = ZoneInfo("Asia/Shanghai")  # the sandbox's TIMEZONE (the default)
WANG = 200001  # 王秀英, a registered demo retiree (sandbox/demo/seed.py)
MIN_TAP = 44

# The page measured from inside: the message list, its scroll position, the composer's
# buttons, the inline and reply buttons, and the contrast of the inline buttons' text.
MEASURE_JS = """
() => {
  const column = document.querySelector("[data-testid=column]");
  const list = column.querySelector("[data-testid=messages]");
  const visible = (n) => n.offsetParent !== null && getComputedStyle(n).visibility !== "hidden";
  const box = (n) => { const r = n.getBoundingClientRect(); return [r.width, r.height]; };
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const contrast = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const inline = [...list.querySelectorAll("[data-testid=inline-button]")].map((n) => {
    const s = getComputedStyle(n);
    const bg = rgb(s.backgroundColor);
    return { size: box(n), alpha: bg.length > 3 ? bg[3] : 1,
             contrast: contrast(rgb(s.color).slice(0, 3), bg.slice(0, 3)) };
  });
  const composer = [...column.querySelectorAll(".composer button, .composer label.icon-button")]
    .filter(visible).map((n) => ({ name: n.dataset.testid || n.title, size: box(n) }));
  const reply = [...column.querySelectorAll("[data-testid=reply-button]")].filter(visible)
    .map((n) => box(n));
  return {
    listHeight: list.getBoundingClientRect().height,
    viewportHeight: window.innerHeight,
    fromBottom: list.scrollHeight - list.scrollTop - list.clientHeight,
    inline, composer, reply,
    pageOverflows: document.documentElement.scrollHeight > window.innerHeight + 1,
  };
}
"""


async def _settled(page) -> None:  # type: ignore[no-untyped-def]
    """Two animation frames: the page has laid out and run its scroll-to-the-end."""
    await page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    await page.wait_for_timeout(150)


async def _scroll_list_to_top(page) -> None:  # type: ignore[no-untyped-def]
    await page.evaluate(
        "() => { const l = document.querySelector('[data-testid=messages]'); l.scrollTop = 0;"
        " l.dispatchEvent(new Event('scroll')); }"
    )
    await page.wait_for_timeout(500)  # longer than the page's own auto-scroll grace


async def _bubble_times_match_the_office(page) -> int:  # type: ignore[no-untyped-def]
    """Every bubble's time is the office's wall clock for that message, not the browser's."""
    body: dict[str, Any] = await page.evaluate(
        f"() => fetch('/sandbox/api/chats/{WANG}/messages').then((r) => r.json())"
    )
    shown: dict[str, str] = await page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('[data-testid=message]')]"
        ".map((n) => [n.dataset.messageId, n.querySelector('time').textContent]))"
    )
    assert body["messages"], "no messages to check"
    for message in body["messages"]:
        expected = datetime.fromtimestamp(message["date"], OFFICE_TZ).strftime("%H:%M")
        assert shown[str(message["message_id"])] == expected, (message["message_id"], shown)
    return len(body["messages"])


async def test_large_text_keeps_the_conversation_readable_and_tappable(tmp_path: Path) -> None:
    chromium = _chromium_or_skip()
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    process, url, log_path = await _start_sandbox(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    report: list[str] = []
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS
            )
            try:
                for name, options in VIEWPORTS.items():
                    # The browser is far from the office: times must still be the office's.
                    context = await browser.new_context(
                        **options, timezone_id="America/Los_Angeles", locale="en-US"
                    )
                    page = await context.new_page()
                    await page.goto(f"{url}?people={WANG}")
                    column = page.get_by_test_id("column").first
                    await expect(column).to_be_visible(timeout=STEP_MS)
                    await page.get_by_test_id("font-1").click()

                    await column.get_by_test_id("message-input").fill("/start")
                    await column.get_by_test_id("send").click()
                    menu = column.get_by_test_id("reply-button").filter(has_text="活动")
                    await expect(menu.first).to_be_visible(timeout=STEP_MS)
                    await menu.first.click()
                    listing = column.locator("[data-testid=message][data-from=bot]").filter(
                        has_text="近期活动"
                    )
                    await expect(listing.last).to_be_visible(timeout=STEP_MS)
                    await expect(column.get_by_test_id("inline-button").first).to_be_visible()
                    assert await _bubble_times_match_the_office(page) >= 3

                    for level in (1, 2, 3):
                        # Read the history first: the font change must bring the newest back.
                        await _scroll_list_to_top(page)
                        await page.get_by_test_id(f"font-{level}").click()
                        await _settled(page)
                        m = await page.evaluate(MEASURE_JS)
                        shot = ARTIFACTS / f"large-text-{name}-{level}.png"
                        await page.screenshot(path=str(shot))
                        share = m["listHeight"] / m["viewportHeight"]
                        report.append(f"{name} A{'+' * (level - 1)}: {share:.0%}")
                        where = f"{name} at font {level} ({shot.name})"
                        if level > 1:
                            assert share >= 0.5, f"{where}: the conversation has {share:.0%}"
                        assert m["fromBottom"] <= 2, f"{where}: not at the newest message"
                        assert not m["pageOverflows"], f"{where}: the page itself scrolls"
                        small = [c for c in m["composer"] if min(c["size"]) < MIN_TAP]
                        assert not small, f"{where}: composer buttons under 44 px: {small}"
                        assert m["reply"], f"{where}: no reply keyboard"
                        assert all(h >= MIN_TAP for _, h in m["reply"]), where
                        assert m["inline"], f"{where}: no inline buttons"
                        for button in m["inline"]:
                            assert button["alpha"] == 1, f"{where}: see-through inline button"
                            assert button["contrast"] >= 4.5, f"{where}: contrast {button}"
                            assert button["size"][1] >= MIN_TAP, f"{where}: {button}"

                    # At A++: the keyboard hidden and shown again, read from the top meanwhile:
                    # it comes back with the newest message in sight above it.
                    toggle = column.get_by_test_id("keyboard-toggle")
                    await toggle.click()
                    await expect(column.get_by_test_id("reply-keyboard")).to_be_hidden()
                    await _scroll_list_to_top(page)
                    await toggle.click()
                    await expect(column.get_by_test_id("reply-keyboard")).to_be_visible()
                    await _settled(page)
                    m = await page.evaluate(MEASURE_JS)
                    assert m["fromBottom"] <= 2, f"{name}: keyboard shown, newest out of sight"
                    # A new keyboard from the bot (the language picker) while reading history.
                    await _scroll_list_to_top(page)
                    await column.get_by_test_id("reply-button").filter(has_text="语言").click()
                    picker = column.get_by_test_id("reply-button").filter(has_text="English")
                    await expect(picker.first).to_be_visible(timeout=STEP_MS)
                    await _settled(page)
                    m = await page.evaluate(MEASURE_JS)
                    assert m["fromBottom"] <= 2, f"{name}: new keyboard, newest out of sight"
                    assert m["listHeight"] / m["viewportHeight"] >= 0.5, name
                    await page.screenshot(path=str(ARTIFACTS / f"large-text-{name}-picker.png"))

                    # The pickers are folded at A++ and open with one tap.
                    details = column.get_by_test_id("column-details")
                    await expect(details).to_be_hidden()
                    await column.get_by_test_id("toggle-details").click()
                    await expect(column.get_by_test_id("person-select")).to_be_visible()
                    await expect(details).to_contain_text(f"id {WANG}")
                    await page.get_by_test_id("font-1").click()
                    await context.close()
            finally:
                await browser.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    (ARTIFACTS / "large-text.txt").write_text(
        "Share of the window height the conversation keeps:\n" + "\n".join(report) + "\n"
    )
    output = log_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output


async def test_a_restarted_sandbox_is_noticed_by_an_open_page(tmp_path: Path) -> None:
    chromium = _chromium_or_skip()
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    port = free_port()
    process, url, _log = await _start_sandbox(tmp_path, port)
    second: asyncio.subprocess.Process | None = None
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1000, "height": 800})
                await page.goto(f"{url}?people={WANG}")
                column = page.get_by_test_id("column").first
                await column.get_by_test_id("message-input").fill("/start")
                await column.get_by_test_id("send").click()
                await expect(column.get_by_test_id("reply-button").first).to_be_visible(
                    timeout=STEP_MS
                )
                await page.evaluate("() => { window.beforeRestart = true; }")

                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), timeout=30) == 0
                # While it is away the page says so instead of going silent.
                await expect(page.get_by_test_id("connection")).to_be_visible(timeout=STEP_MS)

                second, url2, _log2 = await _start_sandbox(tmp_path, port, "sandbox2.log")
                assert url2 == url
                # The page reloads by itself: the old page's marker is gone, the new one works.
                await page.wait_for_function("() => !window.beforeRestart", timeout=STEP_MS * 2)
                column = page.get_by_test_id("column").first
                await expect(column).to_be_visible(timeout=STEP_MS)
                await expect(page.get_by_test_id("connection")).to_be_hidden(timeout=STEP_MS)
                await column.get_by_test_id("message-input").fill("/start")
                await column.get_by_test_id("send").click()
                await expect(column.get_by_test_id("reply-button").first).to_be_visible(
                    timeout=STEP_MS
                )
            finally:
                await browser.close()
    finally:
        for proc in (process, second):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), timeout=30)
