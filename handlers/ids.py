"""The type of every id in callback data.

Ids in buttons are database keys, INTEGER columns (PostgreSQL's int4: up to 2**31 - 1). A forged
button with an id beyond that range, or below zero, fails the callback filter like any other
garbled data and reaches the kind fallback, instead of overflowing the database driver
(OverflowError on SQLite, DataError on PostgreSQL). 0 stays valid: it means "none" where a
field is optional.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1

Id = Annotated[int, Field(ge=0, le=MAX_ID)]

__all__ = ["MAX_ID", "Id"]
