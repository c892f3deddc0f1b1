"""InferenceService annotations → a validated per-ISVC policy override (DESIGN §8); pure.

    isvc-scaler.io/policy: batch              → {"policy": "batch"}
    isvc-scaler.io/max-replicas: "16"         → {"max_replicas": 16}
    isvc-scaler.io/scale-down-window: "10m"   → {"scale_down_window_s": 600.0}
    isvc-scaler.io/target-kv-cache: "0.85"    → {"targets": {"kv_cache": 0.85}}

Values are checked by policy.yaml's own validator (`scaler.config.policies.parse_isvcs`, the
checks of an `isvcs:` override), one annotation at a time so that a bad one costs the ISVC
only that setting; then all together for what involves two keys (min_replicas ≤
max_replicas: on a conflict both are dropped). Numbers are read as a YAML number would be
(`"16"` → 16, `".inf"` is not, `"inf"` → ∞ where ∞ is allowed); durations as in policy.yaml.
Errors name the annotation, its value and the ISVC:
    isvc-scaler.io/max-replicas = "abc" on team-a/llama: must be an integer
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.config.checks import Errors, unknown_key_message
from scaler.config.model import POLICY_KEYS, FrozenMap, PolicySpec
from scaler.config.policies import apply_override, parse_isvcs
from scaler.keys import IsvcKey

PREFIX = "isvc-scaler.io/"
SCALEDOBJECT = PREFIX + "scaledobject"
"""Opt-in to a provisioned ScaledObject: "true" or "false"."""
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
"""KServe's annotation; `external` keeps KServe from creating its own HPA."""

_KINDS = {k.yaml: k.kind for k in POLICY_KEYS if k.kind != "targets"}
_KNOWN = sorted([PREFIX + "policy", SCALEDOBJECT, PREFIX + "target-<signal>",
                 *(PREFIX + y.replace("_", "-") for y in _KINDS)])


@dataclass(frozen=True, slots=True)
class AnnotationError:
    """One rejected annotation: which ISVC, which annotation, and the full message."""

    key: IsvcKey
    annotation: str
    message: str


@dataclass(frozen=True)
class Overrides:
    """What an ISVC's annotations set: `fields` is a `Config.isvcs`-style override (PolicySpec
    field names, `policy`, `targets`); `scaledobject` the opt-in; `errors` the rejected ones."""

    fields: Mapping[str, Any] = field(default_factory=FrozenMap)
    scaledobject: bool = False
    errors: tuple[AnnotationError, ...] = ()


def annotation_name(field_path: str) -> str:
    """`max_replicas` → `isvc-scaler.io/max-replicas`; `targets.kv_cache` →
    `isvc-scaler.io/target-kv-cache`."""
    if field_path.startswith("targets."):
        return PREFIX + "target-" + field_path[len("targets."):].replace("_", "-")
    return PREFIX + field_path.replace("_", "-")


class _Errors(Errors):
    """policy.yaml's error collector, speaking in annotations instead of YAML paths."""

    def __init__(self, key: IsvcKey, annotations: Mapping[str, str]) -> None:
        super().__init__()
        self.key = key
        self._prefix = f"isvcs.{key[0]}/{key[1]}"
        self._annotations = annotations
        self.found: list[AnnotationError] = []

    def _name(self, path: str) -> str:
        rest = path.removeprefix(self._prefix).lstrip(".")
        if rest == "targets":
            return PREFIX + "target-*"
        return annotation_name(rest) if rest else f"{self.key[0]}/{self.key[1]}"

    def _record(self, path: str, text: str) -> None:
        self.annotation(self._name(path), text)

    def annotation(self, name: str, text: str) -> None:
        """Record `text` about annotation `name`."""
        value = self._annotations.get(name)
        shown = f" = {json.dumps(value)}" if value is not None else ""
        message = f"{name}{shown} on {self.key[0]}/{self.key[1]}: {text}"
        self.messages.append(message)
        self.found.append(AnnotationError(self.key, name, message))

    def add(self, path: str, message: str) -> None:
        self._record(path, message)

    def bad(self, path: str, value: object, must: str) -> None:
        self._record(path, f"must be {must}")


def parse_annotations(key: IsvcKey, annotations: Mapping[str, str], *,
                      policies: Mapping[str, PolicySpec],
                      pinned: Mapping[str, Any] | None = None) -> Overrides:
    """The override that `annotations` (all of an ISVC's; others are ignored) set, validated
    against `policies` (those of the config in force) and under `pinned`, the ISVC's
    policy.yaml `isvcs:` override (which wins over annotations: an annotated min_replicas
    above its max_replicas, say, is rejected)."""
    errors = _Errors(key, annotations)
    raw: dict[str, Any] = {}
    scaledobject = False
    for name in sorted(annotations):
        if not name.startswith(PREFIX):
            continue
        value = annotations[name]
        suffix = name[len(PREFIX):]
        if name == SCALEDOBJECT:
            if value not in ("true", "false"):
                errors.annotation(name, 'must be "true" or "false"')
            scaledobject = value == "true"
        elif suffix == "policy":
            raw["policy"] = value
        elif suffix.startswith("target-"):
            raw.setdefault("targets", {})[suffix[7:].replace("-", "_")] = _number(value)
        elif suffix.replace("-", "_") in _KINDS and "_" not in suffix:
            yaml_key = suffix.replace("-", "_")
            raw[yaml_key] = value if _KINDS[yaml_key] == "duration" else _number(value)
        else:
            errors.annotation(name, unknown_key_message(name, _KNOWN, what="annotation"))
    fields = _validate(key, raw, policies, errors)
    if pinned and fields:
        fields = _under_pinned(fields, pinned, policies, errors)
    return Overrides(FrozenMap(fields), scaledobject, tuple(errors.found))


def _under_pinned(fields: dict[str, Any], pinned: Mapping[str, Any],
                  policies: Mapping[str, PolicySpec], errors: _Errors) -> dict[str, Any]:
    """Drop annotated min/max replicas that conflict with the `isvcs:` override on top."""
    name = str(pinned.get("policy") or fields.get("policy") or "")
    candidates = [policies[name]] if name in policies else list(policies.values())
    for spec in candidates:
        both = apply_override(apply_override(spec, fields), pinned)
        if both.min_replicas <= both.max_replicas:
            continue
        mine = "min_replicas" if "min_replicas" in fields else "max_replicas"
        other = "max_replicas" if mine == "min_replicas" else "min_replicas"
        relation = "≤" if mine == "min_replicas" else "≥"
        errors.annotation(annotation_name(mine), f"must be {relation} {other} "
                          f"({getattr(both, other)}, from policy.yaml isvcs:)")
        return {k: v for k, v in fields.items() if k not in ("min_replicas", "max_replicas")}
    return fields


def _validate(key: IsvcKey, raw: Mapping[str, Any], policies: Mapping[str, PolicySpec],
              errors: _Errors) -> dict[str, Any]:
    """Each key alone (under the annotated policy, if valid), then all together."""
    path = f"{key[0]}/{key[1]}"
    base: dict[str, Any] = {}
    if "policy" in raw and parse_isvcs({path: {"policy": raw["policy"]}}, policies, errors):
        base["policy"] = raw["policy"]
    good: dict[str, Any] = dict(base)
    for yaml_key, value in raw.items():
        if yaml_key == "policy":
            continue
        items = value.items() if yaml_key == "targets" else [(None, value)]
        for signal, v in items:
            one = {yaml_key: {signal: v}} if signal is not None else {yaml_key: v}
            parsed = parse_isvcs({path: {**base, **one}}, policies, errors)
            if parsed and signal is not None:
                good.setdefault("targets", {})[signal] = v
            elif parsed:
                good[yaml_key] = v
    if not good:
        return {}
    together = parse_isvcs({path: good}, policies, errors)
    if not together:   # only min_replicas > max_replicas can fail here: drop both
        good = {k: v for k, v in good.items() if k not in ("min_replicas", "max_replicas")}
        together = parse_isvcs({path: good}, policies, Errors()) if good else {}
    return dict(together.get(path, {}))


def _number(text: str) -> Any:
    """`"16"` → 16, `"0.85"` → 0.85, `"inf"` → ∞; anything else stays text (and the
    validator then says "must be a number")."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
