"""Whatever the YAML, parse_config returns a Config or raises ConfigError (never crashes)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.config import TOP_LEVEL_KEYS, Config, parse_config
from scaler.config.policies import OVERRIDE_YAML_KEYS
from scaler.config.queries import SIGNAL_NAMES
from scaler.config.sections import PROMETHEUS_KEYS
from scaler.errors import ConfigError

_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["15s", "-5s", "1h30m", "0", "http://p:9090", "ns/name", "default", "$ns"]))
_KEYS = st.one_of(st.sampled_from(
    [*TOP_LEVEL_KEYS, *OVERRIDE_YAML_KEYS, *PROMETHEUS_KEYS, *SIGNAL_NAMES, "query", "namespace",
     "isvc", "username", "password_file", "ca_file", "cert_file", "default", "ns/x"]),
    st.text(max_size=8), st.integers(min_value=-3, max_value=3))
_TREE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=20)


def _check(text: str) -> None:
    try:
        result = parse_config(text)
    except ConfigError as e:
        assert e.errors and all(isinstance(m, str) and m for m in e.errors)
        return
    assert isinstance(result, Config)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(TOP_LEVEL_KEYS), _TREE, max_size=5))
def test_random_structures(tree: dict[str, Any]) -> None:
    _check(yaml.safe_dump(tree))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_random_text(text: str) -> None:
    _check(text)
