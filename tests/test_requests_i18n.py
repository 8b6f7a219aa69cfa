"""Every text of service requests is translated in all three catalogs."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from bot.i18n import merged_catalog

HANDLERS = Path(__file__).resolve().parent.parent / "handlers" / "requests"


def _msgids() -> set[str]:
    keywords = {"_": None, "__": None, "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(HANDLERS), keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_request_text_is_translated() -> None:
    msgids = _msgids()
    assert "Request help" in msgids and len(msgids) > 100
    for locale in ("zh_Hans", "zh_Hant", "en"):
        catalog = merged_catalog(locale)
        for msgid in msgids:
            message = catalog.get(msgid)
            assert message is not None and message.string, f"{msgid!r} missing in {locale}"
            assert not message.fuzzy
            if locale != "en":
                assert message.string != msgid, f"{msgid!r} not translated in {locale}"
