"""gettext catalogs: built from the per-capability `.po` files, and the locale middleware.

Catalog sources live in `locales/<locale>/<capability>.po` (one file per capability so that
features are translated side by side without touching each other's files). `build_catalogs`
merges them into `locales/<locale>/LC_MESSAGES/messages.mo`, which is built at start-up and in
tests, never committed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18n, I18nMiddleware

from models.office import SUPPORTED_LOCALES, preferred_locale

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def locale_sources(locale: str, locales_dir: Path = LOCALES_DIR) -> list[Path]:
    return sorted((locales_dir / locale).glob("*.po"))


def merged_catalog(locale: str, locales_dir: Path = LOCALES_DIR) -> Catalog:
    """All of a locale's source catalogs as one; the first file's header wins."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    merged: Catalog | None = None
    for path in locale_sources(locale, locales_dir):
        with path.open("rb") as handle:
            part = read_po(handle, locale=locale)
        if merged is None:
            merged = part
            continue
        for message in part:
            if message.id:
                merged[message.id] = message
    return merged or Catalog(locale=locale)


def build_catalogs(locales_dir: Path = LOCALES_DIR, *, force: bool = True) -> None:
    """Compile every locale's sources into one messages.mo (atomically: several processes may
    start at once). Without `force`, a locale whose messages.mo is newer than its sources (and
    than the folder, which changes when a source is added or removed) is left as it is."""
    for locale in SUPPORTED_LOCALES:
        target_dir = locales_dir / locale / "LC_MESSAGES"
        target = target_dir / f"{DOMAIN}.mo"
        if not force and _up_to_date(target, locales_dir / locale):
            continue
        from babel.messages.mofile import write_mo  # only when compiling

        catalog = merged_catalog(locale, locales_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target_dir, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        os.replace(tmp, target)


def _up_to_date(target: Path, sources_dir: Path) -> bool:
    try:
        built = target.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    sources = [sources_dir, *locale_sources(sources_dir.name, sources_dir.parent)]
    return all(source.stat().st_mtime_ns < built for source in sources)


def create_i18n(default_locale: str, locales_dir: Path = LOCALES_DIR) -> I18n:
    """The catalogs, compiled first if a source changed since (so a restart needs no Babel)."""
    build_catalogs(locales_dir, force=False)
    return I18n(path=locales_dir, default_locale=default_locale, domain=DOMAIN)


class UserLocaleMiddleware(I18nMiddleware):
    """Stored language first, then Telegram's language_code, then the office default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        telegram_user: TelegramUser | None = data.get("event_from_user")
        return preferred_locale(
            user.language if user is not None else None,
            telegram_user.language_code if telegram_user else None,
            self.i18n.default_locale,
        )
