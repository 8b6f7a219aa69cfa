"""Guards the Bot API checker itself: if the specification were missing or the checks let
everything through, every conversation test would pass without checking anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.botapi_spec import SPEC_PATH, SpecViolation, check_request, load_spec


def test_the_specification_is_in_the_repository() -> None:
    repository = Path(__file__).resolve().parent.parent
    assert SPEC_PATH.is_relative_to(repository), f"{SPEC_PATH} is outside the repository"
    spec = load_spec()
    assert spec["version"].startswith("Bot API ")
    assert "sendMessage" in spec["methods"] and "Message" in spec["types"]


def test_a_conforming_request_passes() -> None:
    check_request("sendMessage", {"chat_id": 1, "text": "您好"})


@pytest.mark.parametrize(
    ("method", "params", "complaint"),
    [
        ("sendMesage", {"chat_id": 1, "text": "hi"}, "unknown Bot API method"),
        ("sendMessage", {"chat_id": 1, "text": "hi", "colour": "red"}, "unknown field"),
        ("sendMessage", {"chat_id": 1}, "required field 'text'"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "allowed 1-4096"),
        ("sendMessage", {"chat_id": 1.5, "text": "hi"}, "chat_id"),
        (
            "sendMessage",
            {
                "chat_id": 1,
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "ok", "callback_data": "好" * 22}]]},
            },
            "bytes, allowed 1-64",
        ),
    ],
)
def test_a_nonconforming_request_is_refused(
    method: str, params: dict[str, object], complaint: str
) -> None:
    with pytest.raises(SpecViolation, match=complaint):
        check_request(method, params)
