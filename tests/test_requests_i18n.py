"""Every text of service requests is translated in all three catalogs."""

from __future__ import annotations

from bot.i18n import merged_catalog
from bot.i18n_tools import extract_messages


def _msgids() -> set[str]:
    """The texts of handlers/requests/ (a plural by its singular, the catalogs' key), from the
    one extraction the catalog tests and `make i18n-extract` use."""
    return {
        entry.msgid if isinstance(entry.msgid, str) else entry.msgid[0]
        for entry in extract_messages()
        if entry.path.startswith("handlers/requests/")
    }


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
