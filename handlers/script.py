"""Text typed by staff, shown in the reader's Chinese script.

Staff type an activity's title, place and description in one script; a reader of Traditional
Chinese sees it in Traditional characters, a reader of Simplified Chinese in Simplified. The
conversion is OpenCC's (the `opencc` package, its own dictionaries), never a table of our own:
`s2tw` (Simplified to the Taiwan standard characters, the ones our zh_Hant catalog uses, e.g.
裡, 為 — characters only, no phrase replacement, so 社区 stays 社區 and is not "localised" to
社群) and `tw2s` (Traditional, Taiwan or Hong Kong variants included, to Simplified). Other
readers (English) see the original: a name or place written in Chinese is not translated.
"""

from __future__ import annotations

from functools import cache
from typing import overload

import opencc
from aiogram.utils.i18n import get_i18n

_CONFIGS = {"zh_Hant": "s2tw", "zh_Hans": "tw2s"}


def script_of(locale: str | None) -> str | None:
    """`zh_Hant` or `zh_Hans` for a Chinese locale (`zh_Hant`, `zh-TW`, `zh-hk`, `zh_CN`,
    `zh`), None for any other language."""
    if not locale:
        return None
    tag = locale.replace("-", "_").lower()
    if tag != "zh" and not tag.startswith("zh_"):
        return None
    if any(part in tag for part in ("hant", "_tw", "_hk", "_mo")):
        return "zh_Hant"
    return "zh_Hans"


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@overload
def to_reader_script(text: str, locale: str | None) -> str: ...
@overload
def to_reader_script(text: None, locale: str | None) -> None: ...
def to_reader_script(text: str | None, locale: str | None) -> str | None:
    """`text` in the script of `locale`'s readers; unchanged for a non-Chinese locale."""
    script = script_of(locale)
    if not text or script is None:
        return text
    return str(_converter(_CONFIGS[script]).convert(text))


@overload
def for_reader(text: str) -> str: ...
@overload
def for_reader(text: None) -> None: ...
def for_reader(text: str | None) -> str | None:
    """`text` in the script of the language being spoken now: the update's person in a handler,
    the recipient in a renderer (the sender renders inside the recipient's locale)."""
    if not text:
        return text
    return to_reader_script(text, get_i18n().current_locale)
