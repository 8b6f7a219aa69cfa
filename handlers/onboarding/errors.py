"""Onboarding's refusals, family links' and invite codes' (one `RegistrationError`), told in
the person's language by one error handler: the update is rolled back, so nothing changed and
a form is still at its step. A handler catches a RegistrationError itself only where it does
something else than telling it (a form step that asks again)."""

from __future__ import annotations

from aiogram import Router
from aiogram.utils.i18n import gettext as _

from handlers.errors import domain_errors
from models.registration import RegistrationCode, RegistrationError


def text_of(error: RegistrationError) -> str:
    texts = {
        RegistrationCode.INVALID_CODE: _(
            "I could not find this code. Please check it and type it again."
        ),
        RegistrationCode.USED_CODE: _(
            "This code has already been used. Please ask the administrator for a new one."
        ),
        RegistrationCode.EXPIRED_CODE: _(
            "This code has expired. Please ask the administrator for a new one."
        ),
        RegistrationCode.NOT_ADMIN: _("Sorry, only an administrator can create invite codes."),
        RegistrationCode.NOT_ALLOWED: _("Sorry, only the person who was asked can answer this."),
        RegistrationCode.ALREADY_DECIDED: _("This request has already been answered."),
        RegistrationCode.NOT_FOUND: _("This request no longer exists."),
    }
    return texts.get(error.code, _("Sorry, I did not understand that."))


def setup() -> Router:
    return domain_errors(RegistrationError, text_of)
