"""Validation of `policies:` and `isvcs:` of policy.yaml, and override resolution; pure.

An override (`isvcs["ns/name"]`) may set every policy key plus `policy`; its `targets` merge
per signal into the policy's (a null target removes that signal), every other key replaces.
Overrides without `policy` are checked against every policy, since the ScaledObject's metadata
may pick any: `resolve_policy` then never fails except for an undefined policy name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from scaler.config.checks import (
    GE0,
    GT0,
    GT1,
    UNIT_INTERVAL,
    Bound,
    Errors,
    duration,
    integer,
    join,
    number,
    unknown_key_message,
)
from scaler.config.model import POLICY_DEFAULTS, POLICY_KEYS, PolicySpec
from scaler.config.queries import INPUT_SIGNALS, PRESSURE_SIGNALS
from scaler.policy import MAX_REPLICAS_LIMIT

POLICY_YAML_KEYS = tuple(k.yaml for k in POLICY_KEYS)
OVERRIDE_YAML_KEYS = ("policy", *POLICY_YAML_KEYS)
_BY_YAML = {k.yaml: k for k in POLICY_KEYS}
_BOUNDS: dict[str, Bound] = {
    "tolerance": GE0, "scale_down_utilization": UNIT_INTERVAL, "panic_threshold": GT1,
    "scale_up_window_s": GE0, "scale_down_window_s": GE0, "min_replicas": GE0,
    "max_replicas": (f"in [1, {MAX_REPLICAS_LIMIT}]", lambda v: 1 <= v <= MAX_REPLICAS_LIMIT),
    "activation_threshold": GE0, "startup_timeout_s": GE0, "latency_sustain_window_s": GE0,
    "latency_observe_window_s": GE0,
    "latency_min_improvement": ("in [0, 1)", lambda v: 0 <= v < 1),
}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def parse_policies(raw: object, errors: Errors, *,
                   signals: Collection[str] = PRESSURE_SIGNALS) -> dict[str, PolicySpec]:
    """`policies:` → valid PolicySpecs by name; "default" is added if absent. `signals`: the
    pressure signals a target may name (the defaults plus those the config adds)."""
    section = errors.mapping(raw, "policies")
    policies: dict[str, PolicySpec] = {}
    for name, body in (section or {}).items():
        path = join("policies", name)
        if not isinstance(name, str) or not name.strip():
            errors.add(path, "policy name must be a non-empty string")
            continue
        spec = _parse_policy(name, body, path, errors, signals)
        if spec is not None:
            policies[name] = spec
    if section is not None and "default" not in section:
        policies["default"] = PolicySpec("default", POLICY_DEFAULTS["targets"])
    return policies


def _parse_policy(name: str, body: object, path: str, errors: Errors,
                  signals: Collection[str]) -> PolicySpec | None:
    raw = errors.mapping(body, path)
    if raw is None:
        return None
    errors.known_keys(raw, POLICY_YAML_KEYS, path)
    fields, invalid = policy_fields(raw, path, errors, signals=signals)
    values = {**POLICY_DEFAULTS, **fields}
    if "targets" in fields:
        values["targets"] = {s: t for s, t in fields["targets"].items() if t is not None}
        if not values["targets"] and "targets" not in invalid:
            errors.add(join(path, "targets"),
                       f"no target set, set at least one of {', '.join(signals)}")
            invalid.add("targets")
    if not invalid & {"min_replicas", "max_replicas"} and \
            values["min_replicas"] > values["max_replicas"]:
        errors.bad(join(path, "min_replicas"), values["min_replicas"],
                   f"≤ max_replicas ({values['max_replicas']})")
        invalid.add("min_replicas")
    return None if invalid else PolicySpec(name=name, **values)


def policy_fields(raw: Mapping[Any, Any], path: str, errors: Errors, *,
                  signals: Collection[str] = PRESSURE_SIGNALS
                  ) -> tuple[dict[str, Any], set[str]]:
    """Validated policy keys set in `raw`, by PolicySpec field name, and the invalid fields."""
    fields: dict[str, Any] = {}
    invalid: set[str] = set()
    for yaml_key, value in raw.items():
        key = _BY_YAML.get(yaml_key)
        if key is None:
            continue
        field_path = join(path, yaml_key)
        parsed: Any
        if key.kind == "targets":
            parsed = _targets(value, field_path, errors, signals)
        elif key.kind == "int":
            parsed = integer(value, field_path, errors, _BOUNDS[key.attr])
        elif key.kind == "duration":
            parsed = duration(value, field_path, errors, _BOUNDS[key.attr])
        else:
            parsed = number(value, field_path, errors, _BOUNDS[key.attr],
                            allow_inf=key.attr == "panic_threshold")
        if parsed is None:
            invalid.add(key.attr)
        else:
            fields[key.attr] = parsed
    return fields, invalid


def _targets(value: object, path: str, errors: Errors,
             signals: Collection[str]) -> dict[str, float | None] | None:
    raw = errors.mapping(value, path)
    if raw is None:
        return None
    out: dict[str, float | None] = {}
    ok = True
    for signal, target in raw.items():
        signal_path = join(path, signal)
        if signal not in signals:
            ok = False
            if signal in INPUT_SIGNALS:
                errors.add(signal_path, "not a pressure signal, takes no target (targets: "
                           f"{', '.join(signals)})")
            else:
                errors.add(signal_path,
                           unknown_key_message(signal, list(signals), what="signal"))
        elif target is None:
            out[signal] = None
        else:
            parsed = number(target, signal_path, errors, GT0)
            ok = ok and parsed is not None
            out[signal] = parsed
    return out if ok else None


def parse_isvcs(raw: object, policies: Mapping[str, PolicySpec], errors: Errors, *,
                declared: Collection[str] = (), signals: Collection[str] = PRESSURE_SIGNALS,
                ) -> dict[str, dict[str, Any]]:
    """`isvcs:` → validated overrides by "ns/name" (see module doc for the checks).

    `policies` are the valid policies; `declared` adds names of invalid ones (already reported),
    which an override may name without a second error.
    """
    section = errors.mapping(raw, "isvcs")
    overrides: dict[str, dict[str, Any]] = {}
    for key, body in (section or {}).items():
        path = join("isvcs", key)
        key_ok = _isvc_key_ok(key)
        if not key_ok:
            errors.add(path, 'key must be "namespace/name", both DNS labels '
                       "(a-z, 0-9, '-', ≤ 63 characters, alphanumeric at both ends)")
        override = _parse_override(body, path, policies, errors, declared=declared,
                                   signals=signals)
        if key_ok and override is not None:
            overrides[key] = override
    return overrides


def _isvc_key_ok(key: object) -> bool:
    if not isinstance(key, str) or key.count("/") != 1:
        return False
    return all(_DNS_LABEL.fullmatch(part) for part in key.split("/"))


def _parse_override(body: object, path: str, policies: Mapping[str, PolicySpec],
                    errors: Errors, *, declared: Collection[str],
                    signals: Collection[str]) -> dict[str, Any] | None:
    raw = errors.mapping(body, path)
    if raw is None:
        return None
    errors.known_keys(raw, OVERRIDE_YAML_KEYS, path)
    fields, invalid = policy_fields(raw, path, errors, signals=signals)
    name = raw.get("policy")
    if name is not None:
        if not isinstance(name, str) or name not in policies:
            if name not in declared:
                _bad_policy_name(name, join(path, "policy"), policies, errors)
            return None
        fields["policy"] = name
    candidates = [policies[name]] if name is not None else list(policies.values())
    before = len(errors.messages)
    if not invalid:
        _check_override(fields, candidates, path, errors)
    return None if invalid or len(errors.messages) > before else fields


def _bad_policy_name(name: object, path: str, policies: Mapping[str, PolicySpec],
                     errors: Errors) -> None:
    hint = unknown_key_message(name, sorted(policies), what="policy")
    if "did you mean" in hint:
        errors.bad(path, name, "a policy defined under policies:, did you mean "
                   + hint.split("did you mean ", 1)[1])
    else:
        errors.bad(path, name, f"a policy defined under policies: ({', '.join(sorted(policies))})")


def _check_override(fields: Mapping[str, Any], candidates: list[PolicySpec], path: str,
                    errors: Errors) -> None:
    low, high = fields.get("min_replicas"), fields.get("max_replicas")
    if low is not None and high is not None:
        if low > high:
            errors.bad(join(path, "min_replicas"), low, f"≤ max_replicas ({high})")
        return
    for spec in candidates:
        origin = f'from policy "{spec.name}"'
        if low is not None and low > spec.max_replicas:
            errors.bad(join(path, "min_replicas"), low,
                       f"≤ max_replicas ({spec.max_replicas}, {origin})")
        if high is not None and high < spec.min_replicas:
            errors.bad(join(path, "max_replicas"), high,
                       f"≥ min_replicas ({spec.min_replicas}, {origin})")
        if "targets" in fields and not apply_override(spec, fields).targets:
            errors.add(join(path, "targets"), f"leaves no target ({origin})")


def apply_override(spec: PolicySpec, override: Mapping[str, Any]) -> PolicySpec:
    """`spec` with the override's fields on top (targets merged per signal, None removes)."""
    changes = {k: v for k, v in override.items() if k not in ("policy", "targets")}
    if "targets" in override:
        targets = dict(spec.targets)
        for signal, target in override["targets"].items():
            if target is None:
                targets.pop(signal, None)
            else:
                targets[signal] = target
        changes["targets"] = targets
    return replace(spec, **changes) if changes else spec
