"""Service requests (issue 4): intake, my requests and rating, the staff card and queue."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    from handlers.requests import intake, mine, staff

    return [intake.router, mine.router, staff.router]
