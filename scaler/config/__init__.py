"""policy.yaml (DESIGN §5): typed immutable Config, parsing with field-path errors, resolution.

parse_config, resolve_policy and build_params are pure; load_config reads one file. The reload
watcher lives with the server (scaler.serving), so importing this package stays I/O-free.
"""

from scaler.config.model import (
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
from scaler.config.parse import TOP_LEVEL_KEYS, load_config, parse_config
from scaler.config.resolve import (
    UnknownPolicyError,
    build_params,
    resolve_policy,
    with_annotations,
)
from scaler.durations import format_duration, parse_duration
from scaler.errors import ConfigError

__all__ = [
    "DEFAULT_TARGETS", "POLICY_DEFAULTS", "POLICY_KEYS", "TOP_KEYS", "TOP_LEVEL_KEYS",
    "Config", "ConfigError", "FrozenMap", "PolicySpec", "PrometheusConfig",
    "UnknownPolicyError", "build_params", "defaults_markdown",
    "format_duration", "load_config", "parse_config", "parse_duration", "resolve_policy",
    "with_annotations",
]
