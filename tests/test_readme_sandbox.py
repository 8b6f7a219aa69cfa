"""The README's sandbox section lists every demo person the page offers, with the id the person
picker and `?people=` use, and names the retirees who have no account; it names no id that the
demo office does not have."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.demo.seed import DEMO_STAFF_CHAT_ID, RETIREES, demo_people

README = Path(__file__).resolve().parents[1] / "README.md"


def _sandbox_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Try it without Telegram: the sandbox")
    return text[start : text.index("\n## ", start + 1)]


def test_every_demo_person_is_listed_with_their_id() -> None:
    section = _sandbox_section()
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+?) \|", section, re.MULTILINE))
    people = demo_people().people
    for person in people:
        name = " ".join(filter(None, [person.first_name, person.last_name]))
        assert str(person.telegram_id) in rows, f"{name} ({person.telegram_id}) is not listed"
        assert rows[str(person.telegram_id)].startswith(name), (person.telegram_id, name)
    assert set(rows) == {str(p.telegram_id) for p in people}, "an id the demo does not have"
    for retiree in RETIREES:
        if retiree.telegram_id is None:
            assert retiree.name in section, f"{retiree.name} (no account) is not mentioned"
    assert str(DEMO_STAFF_CHAT_ID) in section


def test_the_ids_in_examples_are_demo_people() -> None:
    section = _sandbox_section()
    known = {str(p.telegram_id) for p in demo_people().people}
    for listed in re.findall(r"\?people=([\d,]+)", section):
        assert set(listed.split(",")) <= known, listed
