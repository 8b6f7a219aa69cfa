"""Onboarding: after the language (handlers/language.py), who are you? Then a retiree's
registration, a family member's link to their relative, or a staff invite code
(handlers/staff_invites.py). Each is a form, a table of steps (handlers/forms.py):
anything unexpected at a step gets a short hint and the question again, with what was entered
kept; /language in the middle asks the same question in the new language.

    welcome.py        "Who are you?": the answer picks the next form
    registration.py   a retiree's registration, with its review
    family_link.py    a family member's link to a relative (also from "My family")
    errors.py         the capability's refusals (RegistrationError) in the person's language
"""

from __future__ import annotations

from aiogram import Router

from handlers.forms import Form
from handlers.onboarding import family_link, registration, welcome

FORMS: list[Form] = [welcome.WELCOME, registration.REGISTRATION, family_link.FAMILY_LINK]


def setup() -> Router:
    router = Router(name=__name__)
    router.include_routers(welcome.WELCOME.router(), registration.setup(), family_link.setup())
    return router
