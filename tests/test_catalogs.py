"""The translations are complete: every msgid used in the code is translated in all three
locales, nothing is fuzzy or empty, a msgid lives in exactly one file per locale, the locales
agree on their msgids, the python-format placeholders match, and the committed template
(locales/messages.pot) lists exactly the texts of the code.

The texts used in the code come from `bot.i18n_tools.extract_messages`, the same extraction
`make i18n-extract` writes to the template."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES
from bot.i18n import LOCALES_DIR, build_catalogs
from bot.i18n_tools import POT_PATH, template, template_msgids, used_in_code

PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sd]|%[sd]")


def read_catalog(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return read_po(handle, locale=path.parent.name)


def po_files(locale: str) -> list[Path]:
    return sorted((LOCALES_DIR / locale).glob("*.po"))


def msgids(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return tuple(message.id) if isinstance(message.id, tuple | list) else (message.id,)


def strings(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    if isinstance(message.string, tuple | list):
        return tuple(message.string)
    return (message.string,)


def placeholders(text: str) -> set[str]:
    # "{{" and "}}" are literal braces in str.format, not placeholders
    return set(PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "")))


def locale_messages(locale: str) -> dict[str, list[tuple[Path, object]]]:
    by_id: dict[str, list[tuple[Path, object]]] = defaultdict(list)
    for path in po_files(locale):
        for message in read_catalog(path):
            if message.id:
                by_id[msgids(message)[0]].append((path, message))
    return by_id


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_entry_is_translated_and_not_fuzzy(locale: str) -> None:
    problems = []
    for path in po_files(locale):
        for message in read_catalog(path):
            if not message.id:
                continue
            if message.fuzzy:
                problems.append(f"{path.name}: fuzzy: {msgids(message)[0]!r}")
            if not all(s and s.strip() for s in strings(message)):
                problems.append(f"{path.name}: untranslated: {msgids(message)[0]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_each_msgid_is_in_one_file_per_locale(locale: str) -> None:
    duplicates = {
        msgid: [p.name for p, _ in entries]
        for msgid, entries in locale_messages(locale).items()
        if len(entries) > 1
    }
    assert not duplicates, f"msgids in several {locale} files: {duplicates}"


def test_the_locales_have_the_same_msgids() -> None:
    ids = {locale: set(locale_messages(locale)) for locale in SUPPORTED_LOCALES}
    union = set().union(*ids.values())
    missing = {
        locale: sorted(union - present) for locale, present in ids.items() if union - present
    }
    assert not missing, f"msgids missing from some locales: {missing}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_msgid_used_in_the_code_is_translated(locale: str) -> None:
    present = {
        msgid
        for entries in locale_messages(locale).values()
        for _path, message in entries
        for msgid in msgids(message)
    }
    missing = {msgid: where for msgid, where in used_in_code().items() if msgid not in present}
    assert not missing, f"used in the code but not in locales/{locale}/*.po: " + "\n".join(
        f"{where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda i: i[1])
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_placeholders_match(locale: str) -> None:
    """A translation uses exactly the msgid's placeholders (a plural's forms: those of the
    plural msgid, and the singular form may leave the number out, as in "One reminder")."""
    problems = []
    for msgid, entries in locale_messages(locale).items():
        for path, message in entries:
            ids = msgids(message)
            expected = placeholders(ids[-1])
            allowed = set().union(*(placeholders(i) for i in ids))
            forms = strings(message)
            for index, translated in enumerate(forms):
                if not translated:
                    continue
                found = placeholders(translated)
                singular_form = len(ids) > 1 and index == 0 and len(forms) > 1
                ok = found <= allowed if singular_form else found == expected
                if not ok:
                    problems.append(
                        f"{path.name}: {msgid!r}: {sorted(found)} != {sorted(expected)}"
                    )
    assert not problems, "\n".join(problems)


def test_catalogs_compile() -> None:
    build_catalogs()
    for locale in SUPPORTED_LOCALES:
        assert (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.mo").stat().st_size > 0


def test_the_extractor_sees_the_runtime_texts() -> None:
    """Guards the check itself: if extraction silently found nothing, every check would pass."""
    used = used_in_code()
    sorry = "Sorry, something went wrong on our side. What you entered is kept — please try again."
    assert sorry in used
    assert "One moment please, I am still answering your last message." in used


def test_the_template_lists_the_texts_of_the_code() -> None:
    """locales/messages.pot is committed for translators and reviewers; it must not go stale
    (locations may: only the texts are compared)."""
    expected = {message.id for message in template() if message.id}
    committed = template_msgids(POT_PATH)
    added = sorted(map(str, expected - committed))
    removed = sorted(map(str, committed - expected))
    assert not added and not removed, (
        "locales/messages.pot is out of date: run `make i18n-extract`\n"
        f"new in the code: {added}\nno longer in the code: {removed}"
    )
