"""Error collection and scalar checks shared by the policy.yaml validators; pure.

Messages follow one pattern (Knative-like), each naming its path:
  `policies.batch.targets.kv_cache = -1, must be > 0`
  `policies.batch.scale_down_windw: unknown key, did you mean "scale_down_window"?`
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from scaler.durations import parse_duration

Bound = tuple[str, Callable[[float], bool]]
"""(text shown after "must be ", predicate) for a numeric value."""

GE0: Bound = ("≥ 0", lambda v: v >= 0)
GT0: Bound = ("> 0", lambda v: v > 0)
GT1: Bound = ("> 1", lambda v: v > 1)
UNIT_INTERVAL: Bound = ("in (0, 1]", lambda v: 0 < v <= 1)


def join(path: str, key: object) -> str:
    """Dotted path of `key` under `path` (root path is "")."""
    return f"{path}.{key}" if path else str(key)


def show(value: object) -> str:
    """A value as written in the message: strings bare unless YAML would read them as another
    type (`"0.5"`, `""`), the rest as JSON; at most 60 characters."""
    if isinstance(value, str):
        text = value if _reads_as_string(value) else json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _reads_as_string(text: str) -> bool:
    try:
        return isinstance(yaml.safe_load(text), str)
    except yaml.YAMLError:
        return True


class Errors:
    """Collects every problem found (validation never stops at the first)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, path: str, message: str) -> None:
        """Record `path: message`."""
        self.messages.append(f"{path or '(top level)'}: {message}")

    def bad(self, path: str, value: object, must: str) -> None:
        """Record `path = value, must be …`."""
        self.messages.append(f"{path or '(top level)'} = {show(value)}, must be {must}")

    def mapping(self, value: object, path: str) -> Mapping[Any, Any] | None:
        """`value` if it is a mapping (None counts as empty), else record an error → None."""
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return value
        self.bad(path, value, "a mapping")
        return None

    def known_keys(self, raw: Mapping[Any, Any], allowed: Iterable[str], path: str) -> None:
        """Record every key of `raw` not in `allowed`, with a "did you mean" hint."""
        allowed = list(allowed)
        for key in raw:
            if key not in allowed:
                self.add(join(path, key), unknown_key_message(key, allowed))

    def required(self, raw: Mapping[Any, Any], keys: Iterable[str], path: str) -> bool:
        """Record each missing key; True when none is missing."""
        missing = [k for k in keys if raw.get(k) is None]
        for key in missing:
            self.add(join(path, key), "required")
        return not missing


def unknown_key_message(key: object, allowed: list[str], *, what: str = "key") -> str:
    """`unknown key, did you mean "x"?` or, without a close match, the list of valid keys."""
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f'unknown {what}, did you mean "{close[0]}"?'
    return f"unknown {what} (expected one of: {', '.join(allowed)})"


def number(value: object, path: str, errors: Errors, bound: Bound, *,
           allow_inf: bool = False) -> float | None:
    """A float satisfying `bound`, or None after recording why not (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.bad(path, value, "a number")
        return None
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    inf_ok = allow_inf and isinstance(value, float)
    if math.isnan(result) or (math.isinf(result) and not inf_ok):
        errors.bad(path, value, "a finite number")
        return None
    return _bounded(result, value, path, errors, bound)


def integer(value: object, path: str, errors: Errors, bound: Bound) -> int | None:
    """An int (integral floats accepted) satisfying `bound`, or None after an error."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.bad(path, value, "an integer")
        return None
    result = _bounded(value, value, path, errors, bound)
    return None if result is None else value


def duration(value: object, path: str, errors: Errors, bound: Bound) -> float | None:
    """Seconds in a duration (`15s`, `1h30m`, plain seconds) satisfying `bound`, or None."""
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        errors.bad(path, value, str(e).removeprefix("must be "))
        return None
    return _bounded(seconds, value, path, errors, bound)


def string(value: object, path: str, errors: Errors, *, allow_empty: bool = False) -> str | None:
    """A string (non-empty unless allowed), or None after an error."""
    if not isinstance(value, str) or (not value and not allow_empty):
        errors.bad(path, value, "a non-empty string" if not allow_empty else "a string")
        return None
    return value


def boolean(value: object, path: str, errors: Errors) -> bool | None:
    """A YAML boolean, or None after an error."""
    if not isinstance(value, bool):
        errors.bad(path, value, "true or false")
        return None
    return value


def _bounded(result: float, raw: object, path: str, errors: Errors, bound: Bound) -> float | None:
    text, ok = bound
    if not ok(result):
        errors.bad(path, raw, text)
        return None
    return result
