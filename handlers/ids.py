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


# Other numbers in buttons, bounded the same way: a page of a list, a day (`date.toordinal()`),
# and a rating of stars. Out of range fails the filter, like a forged id.
Page = Annotated[int, Field(ge=0, le=100_000)]
Day = Annotated[int, Field(ge=0, le=3_652_059)]  # date.max.toordinal()
Stars = Annotated[int, Field(ge=0, le=5)]

__all__ = ["MAX_ID", "Day", "Id", "Page", "Stars"]
