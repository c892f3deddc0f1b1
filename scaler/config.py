"""policy.yaml (DESIGN §5): parsing into immutable objects, policy resolution, PolicyParams.

Public API (import everything from here):
  Config, PolicySpec, PrometheusConfig, FrozenMap,
  POLICY_KEYS, TOP_KEYS, TOP_LEVEL_KEYS, POLICY_DEFAULTS, DEFAULT_TARGETS,
  parse_config, load_config, resolve_policy, build_params, UnknownPolicyError,
  parse_duration, format_duration, defaults_markdown,
  ConfigWatcher, ReloadResult, apply_reload_metrics (from scaler.reload).
parse_config, resolve_policy and build_params are pure; load_config reads one file. The
implementation is split over config_types (objects, defaults table), config_parse (YAML, top
level), config_sections / config_schema (section validators), config_check (messages), reload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scaler.config_parse import TOP_LEVEL_KEYS, load_config, parse_config
from scaler.config_schema import apply_override
from scaler.config_types import (
    DEFAULT_TARGETS,
    POLICY_DEFAULTS,
    POLICY_KEYS,
    TOP_KEYS,
    Config,
    FrozenMap,
    PolicySpec,
    PrometheusConfig,
    defaults_markdown,
)
from scaler.durations import format_duration, parse_duration
from scaler.errors import ConfigError
from scaler.queries import PRESSURE_SIGNALS
from scaler.reload import ConfigWatcher, ReloadResult, apply_reload_metrics
from scaler.snapshot import IsvcKey

if TYPE_CHECKING:
    from scaler.policy import PolicyParams

__all__ = [
    "DEFAULT_TARGETS", "POLICY_DEFAULTS", "POLICY_KEYS", "TOP_KEYS", "TOP_LEVEL_KEYS",
    "Config", "ConfigError", "ConfigWatcher", "FrozenMap", "PolicySpec", "PrometheusConfig",
    "ReloadResult",
    "UnknownPolicyError", "apply_reload_metrics", "build_params", "defaults_markdown",
    "format_duration", "load_config", "parse_config", "parse_duration", "resolve_policy",
]


class UnknownPolicyError(ConfigError):
    """A policy name (from ScaledObject metadata) that the config does not define."""

    def __init__(self, policy: str, key: IsvcKey, defined: Sequence[str]) -> None:
        self.policy = policy
        self.key = key
        super().__init__(f'policy "{policy}" of {key[0]}/{key[1]} is not defined in policies: '
                         f"(defined: {', '.join(sorted(defined))})")


def resolve_policy(config: Config, key: IsvcKey, metadata_policy: str | None = None) -> PolicySpec:
    """The PolicySpec in force for ISVC `key` (namespace, name).

    Policy name: `isvcs["ns/name"].policy` if set, else `metadata_policy` (the ScaledObject's
    `policy` metadata), else "default"; the override's keys then apply on top. Raises
    UnknownPolicyError (a ConfigError) if that name is not defined — only possible for
    `metadata_policy`, which the server validates when KEDA calls, so check it first.
    """
    override = config.isvcs.get(f"{key[0]}/{key[1]}")
    name = (override.get("policy") if override else None) or metadata_policy or "default"
    spec = config.policies.get(name)
    if spec is None:
        raise UnknownPolicyError(name, key, list(config.policies))
    return apply_override(spec, override) if override else spec


def build_params(config: Config, keys: Sequence[IsvcKey], *,
                 metadata_policy: Mapping[IsvcKey, str] | None = None,
                 ) -> tuple[PolicyParams, tuple[PolicySpec, ...]]:
    """Per-ISVC PolicyParams (row i = keys[i]) and the PolicySpec behind each row.

    Targets cover every PRESSURE_SIGNAL (NaN where the policy has none). A metadata policy that
    the config no longer defines (e.g. removed by a reload) falls back to "default": the
    returned spec's `name` shows it, so the caller can log it.
    """
    from scaler.policy import PolicyParams

    metadata = metadata_policy or {}
    specs = tuple(_resolve_or_default(config, key, metadata.get(key)) for key in keys)
    targets = {
        signal: np.array([s.targets.get(signal, np.nan) for s in specs], dtype=np.float64)
        for signal in PRESSURE_SIGNALS
    }

    def column(attr: str, dtype: type) -> np.ndarray:
        return np.array([getattr(s, attr) for s in specs], dtype=dtype)

    params = PolicyParams.uniform(
        len(specs), targets=targets, interval_s=config.interval_s,
        tolerance=column("tolerance", np.float64),
        scale_down_utilization=column("scale_down_utilization", np.float64),
        panic_threshold=column("panic_threshold", np.float64),
        activation_threshold=column("activation_threshold", np.float64),
        scale_up_window_s=column("scale_up_window_s", np.float64),
        scale_down_window_s=column("scale_down_window_s", np.float64),
        min_replicas=column("min_replicas", np.int64),
        max_replicas=column("max_replicas", np.int64),
    )
    return params, specs


def _resolve_or_default(config: Config, key: IsvcKey, metadata_policy: str | None) -> PolicySpec:
    try:
        return resolve_policy(config, key, metadata_policy)
    except UnknownPolicyError:
        return resolve_policy(config, key, None)
