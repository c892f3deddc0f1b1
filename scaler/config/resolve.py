"""Policy resolution (DESIGN §5): which PolicySpec an ISVC gets, and the per-ISVC PolicyParams."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from scaler.config.model import (
    Config,
    PolicySpec,
)
from scaler.config.policies import apply_override
from scaler.errors import ConfigError
from scaler.keys import IsvcKey

if TYPE_CHECKING:
    from scaler.policy import PolicyParams



class UnknownPolicyError(ConfigError):
    """A policy name (from ScaledObject metadata) that the config does not define."""

    def __init__(self, policy: str, key: IsvcKey, defined: Sequence[str]) -> None:
        self.policy = policy
        self.key = key
        super().__init__(f'policy "{policy}" of {key[0]}/{key[1]} is not defined in policies: '
                         f"(defined: {', '.join(sorted(defined))})")


Override = Mapping[str, Any]
"""A validated per-ISVC override keyed by PolicySpec field names (as `Config.isvcs` values)."""


def resolve_policy(config: Config, key: IsvcKey, metadata_policy: str | None = None, *,
                   annotations: Override | None = None) -> PolicySpec:
    """The PolicySpec in force for ISVC `key` (namespace, name).

    Precedence (DESIGN §8): policy.yaml `isvcs:` > `annotations` (the InferenceService's,
    already validated, see scaler.kube) > `metadata_policy` (the ScaledObject's `policy`
    metadata) > "default". Policy name: `isvcs["ns/name"].policy`, else the annotations'
    `policy`, else `metadata_policy`, else "default"; the annotations' keys then apply on top
    of that policy, and the `isvcs` override's keys on top of those. Raises UnknownPolicyError
    (a ConfigError) if that name is not defined — only possible for `metadata_policy` (which
    the server validates when KEDA calls, so check it first) or stale annotations.
    """
    override = config.isvcs.get(f"{key[0]}/{key[1]}")
    name = ((override.get("policy") if override else None)
            or (annotations.get("policy") if annotations else None)
            or metadata_policy or "default")
    spec = config.policies.get(name)
    if spec is None:
        raise UnknownPolicyError(name, key, list(config.policies))
    if annotations:
        spec = apply_override(spec, annotations)
    return apply_override(spec, override) if override else spec


def with_annotations(config: Config, annotations: Mapping[IsvcKey, Override]) -> Config:
    """`config` with each ISVC's annotation override folded under its `isvcs:` override, so
    that `resolve_policy(result, key, m) == resolve_policy(config, key, m,
    annotations=annotations[key])` for every key and metadata policy `m`: the engine then
    needs no parameter beyond the Config. An annotation `policy` the config does not define
    is dropped (the ScaledObject metadata or "default" then applies). `config` itself is
    returned when `annotations` is empty."""
    if not annotations:
        return config
    merged: dict[str, Override] = dict(config.isvcs)
    for (ns, name), ann in annotations.items():
        if not ann:
            continue
        ann = {k: v for k, v in ann.items()
               if k != "policy" or v in config.policies}
        mine = config.isvcs.get(f"{ns}/{name}") or {}
        both: dict[str, Any] = {**ann, **mine}
        if "targets" in ann or "targets" in mine:
            both["targets"] = {**ann.get("targets", {}), **mine.get("targets", {})}
        merged[f"{ns}/{name}"] = both
    return replace(config, isvcs=merged)


def build_params(config: Config, keys: Sequence[IsvcKey], *,
                 metadata_policy: Mapping[IsvcKey, str] | None = None,
                 annotations: Mapping[IsvcKey, Override] | None = None,
                 ) -> tuple[PolicyParams, tuple[PolicySpec, ...]]:
    """Per-ISVC PolicyParams (row i = keys[i]) and the PolicySpec behind each row.

    Targets cover every pressure signal of the config, each with its kind (DESIGN §2; NaN
    where the policy has none). A metadata (or
    annotation) policy that the config no longer defines (e.g. removed by a reload) falls back
    to the next in precedence, then "default": the returned spec's `name` shows it, so the
    caller can log it. `annotations`: validated per-ISVC overrides (see `resolve_policy`).
    """
    from scaler.policy import PolicyParams

    metadata = metadata_policy or {}
    ann = annotations or {}
    specs = tuple(_resolve_or_default(config, key, metadata.get(key), ann.get(key))
                  for key in keys)
    targets = {
        signal: np.array([s.targets.get(signal, np.nan) for s in specs], dtype=np.float64)
        for signal in config.pressure_signals
    }

    def column(attr: str, dtype: type) -> np.ndarray:
        return np.array([getattr(s, attr) for s in specs], dtype=dtype)

    params = PolicyParams.uniform(
        len(specs), targets=targets, interval_s=config.interval_s, kinds=dict(config.kinds),
        tolerance=column("tolerance", np.float64),
        scale_down_utilization=column("scale_down_utilization", np.float64),
        panic_threshold=column("panic_threshold", np.float64),
        activation_threshold=column("activation_threshold", np.float64),
        scale_up_window_s=column("scale_up_window_s", np.float64),
        scale_down_window_s=column("scale_down_window_s", np.float64),
        min_replicas=column("min_replicas", np.int64),
        max_replicas=column("max_replicas", np.int64),
        startup_timeout_s=column("startup_timeout_s", np.float64),
        latency_sustain_window_s=column("latency_sustain_window_s", np.float64),
        latency_observe_window_s=column("latency_observe_window_s", np.float64),
        latency_min_improvement=column("latency_min_improvement", np.float64),
    )
    return params, specs


def _resolve_or_default(config: Config, key: IsvcKey, metadata_policy: str | None,
                        annotations: Override | None = None) -> PolicySpec:
    unnamed = {k: v for k, v in annotations.items() if k != "policy"} if annotations else None
    for meta, ann in ((metadata_policy, annotations), (metadata_policy, unnamed)):
        try:
            return resolve_policy(config, key, meta, annotations=ann)
        except UnknownPolicyError:
            continue
    return resolve_policy(config, key, None, annotations=unnamed)
