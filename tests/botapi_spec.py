"""Checks requests against Telegram's Bot API specification (`tests/botapi/api.json`).

Used by the recording session in unit tests and on requests captured by the sandbox in
end-to-end tests: the method must exist, no unknown field, every required field present,
declared types respected, documented length limits ("1-4096 characters", "1-64 bytes") kept.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parent / "botapi" / "api.json"  # see botapi/README.md
_LIMIT = re.compile(r"(\d+)-(\d+) (characters|bytes)")


class SpecViolation(AssertionError):
    pass


@cache
def load_spec() -> dict[str, Any]:
    """The specification; it is part of the repository, so a missing file is an error (the
    checks must never quietly turn themselves off)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def _limits(description: str) -> tuple[int, int, str] | None:
    match = _LIMIT.search(description)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3)


def _matches_scalar(type_name: str, value: Any) -> bool:
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "InputFile":
        return True  # an upload or an attach:// reference
    return False


def _check_value(where: str, types: list[str], value: Any, spec: dict[str, Any]) -> None:
    errors: list[str] = []
    for type_name in types:
        try:
            _check_one(where, type_name, value, spec)
            return
        except SpecViolation as exc:
            errors.append(str(exc))
    raise SpecViolation(f"{where}: {value!r:.120} is none of {types}: {'; '.join(errors)}")


def _check_one(where: str, type_name: str, value: Any, spec: dict[str, Any]) -> None:
    if type_name.startswith("Array of "):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise SpecViolation(f"{where}: not JSON") from exc
        if not isinstance(value, list):
            raise SpecViolation(f"{where}: expected an array")
        inner = type_name.removeprefix("Array of ")
        for index, item in enumerate(value):
            _check_value(f"{where}[{index}]", [inner], item, spec)
        return
    if type_name in ("Integer", "Float", "Boolean", "String", "InputFile"):
        if type_name in ("Integer", "Float", "Boolean") and isinstance(value, str):
            # form-encoded requests carry numbers and booleans as text
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise SpecViolation(f"{where}: {value!r} is not {type_name}") from exc
        if not _matches_scalar(type_name, value):
            raise SpecViolation(f"{where}: expected {type_name}")
        return
    type_spec = spec["types"].get(type_name)
    if type_spec is None:
        raise SpecViolation(f"{where}: unknown type {type_name}")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise SpecViolation(f"{where}: {type_name} is not JSON") from exc
    if "subtypes" in type_spec and type_spec.get("subtypes"):
        _check_value(where, type_spec["subtypes"], value, spec)
        return
    if not isinstance(value, dict):
        raise SpecViolation(f"{where}: expected a {type_name} object")
    _check_fields(where, type_spec.get("fields", []), value, spec)


def _check_fields(
    where: str, fields: list[dict[str, Any]], params: dict[str, Any], spec: dict[str, Any]
) -> None:
    known = {field["name"]: field for field in fields}
    for name in params:
        if name not in known:
            raise SpecViolation(f"{where}: unknown field {name!r}")
    for field in fields:
        name = field["name"]
        if name not in params or params[name] is None:
            if field.get("required"):
                raise SpecViolation(f"{where}: required field {name!r} is missing")
            continue
        value = params[name]
        _check_value(f"{where}.{name}", field["types"], value, spec)
        limits = _limits(field.get("description", ""))
        if limits and isinstance(value, str) and field["types"] == ["String"]:
            low, high, unit = limits
            size = len(value.encode("utf-8")) if unit == "bytes" else len(value)
            if not low <= size <= high:
                raise SpecViolation(f"{where}.{name}: {size} {unit}, allowed {low}-{high}")


def check_request(method: str, params: dict[str, Any]) -> None:
    """Raise SpecViolation if the request does not conform."""
    spec = load_spec()
    method_spec = spec["methods"].get(method)
    if method_spec is None:
        raise SpecViolation(f"unknown Bot API method {method!r}")
    _check_fields(method, method_spec.get("fields", []), params, spec)


def returns_of(method: str) -> list[str]:
    spec = load_spec()
    if method not in spec["methods"]:
        return []
    return list(spec["methods"][method].get("returns", []))
