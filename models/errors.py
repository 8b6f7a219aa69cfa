"""One error vocabulary for the domain.

Every capability raises a subclass of `DomainError` carrying a code from its own enum (a
`StrEnum`, so the code is readable in logs). Handlers do not catch them one call site at a
time: each capability's router installs one error handler (handlers/errors.py,
`domain_errors`) that turns the code into the capability's kind text. Because the error
escapes the handler, the update's transaction rolls back: a refused operation changes nothing,
and the form state stays as it was before the step.
"""

from __future__ import annotations

import enum


class DomainError(Exception):
    """A rule said no. `code` names which rule; `detail` is for logs only (never shown)."""

    code: enum.StrEnum

    def __init__(self, code: enum.StrEnum, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
