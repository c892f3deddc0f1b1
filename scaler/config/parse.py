"""Parsing of policy.yaml text (DESIGN §5) into a validated, immutable Config; pure
(except `load_config`, which reads one file). YAML syntax errors name line and column, duplicate
keys are errors, and every problem is collected before ConfigError is raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaler.config.checks import GT0, Errors, duration
from scaler.config.model import Config, FrozenMap
from scaler.config.policies import parse_isvcs, parse_policies
from scaler.config.sections import (
    parse_labels,
    parse_prometheus,
    parse_signal_queries,
    parse_signals,
)
from scaler.durations import format_duration
from scaler.errors import ConfigError

TOP_LEVEL_KEYS = ("prometheus", "interval", "stale_after", "labels", "signals", "policies",
                  "isvcs", "simulation", "signal_queries")


def parse_config(text: str, *, source: str = "<string>") -> Config:
    """Validate policy.yaml text into a Config; raises ConfigError listing every problem.

    An empty document is valid (all defaults). YAML syntax errors name line and column.
    """
    errors = Errors()
    raw = _load_yaml(text, errors)
    if errors:
        raise ConfigError(errors.messages, source=source)
    top = errors.mapping(raw, "")
    if top is None:
        raise ConfigError(errors.messages, source=source)
    errors.known_keys(top, TOP_LEVEL_KEYS, "")
    config = _build(top, errors, source=source, digest=hashlib.sha256(text.encode()).hexdigest())
    if errors or config is None:
        raise ConfigError(errors.messages, source=source)
    return config


def _build(top: Mapping[Any, Any], errors: Errors, *, source: str, digest: str) -> Config | None:
    interval_s = _duration_key(top, "interval", errors, 15.0)
    stale_after_s = _duration_key(top, "stale_after", errors, None)
    if interval_s is not None and stale_after_s is not None and stale_after_s < interval_s:
        errors.bad("stale_after", top["stale_after"],
                   f"≥ interval ({format_duration(interval_s)})")
    prometheus = parse_prometheus(top.get("prometheus"), errors)
    labels = parse_labels(top.get("labels"), errors)
    mode = parse_signal_queries(top.get("signal_queries"), errors)
    queries, kinds = parse_signals(top.get("signals"), labels, errors, mode)
    policies = parse_policies(top.get("policies"), errors, signals=tuple(kinds))
    declared = top["policies"] if isinstance(top.get("policies"), Mapping) else {}
    isvcs = parse_isvcs(top.get("isvcs"), policies, errors, declared=list(declared),
                        signals=tuple(kinds))
    simulation = errors.mapping(top.get("simulation"), "simulation")
    if errors or None in (interval_s, prometheus, labels, simulation, mode):
        return None
    assert interval_s is not None and labels is not None and prometheus is not None
    assert mode is not None
    return Config(
        prometheus=prometheus, interval_s=interval_s,
        stale_after_s=3.0 * interval_s if stale_after_s is None else stale_after_s,
        namespace_label=labels[0], isvc_label=labels[1], signal_queries=mode, queries=queries,
        kinds=kinds,
        policies=policies,
        isvcs=isvcs, simulation=FrozenMap(simulation), source=source, digest=digest)


def _duration_key(top: Mapping[Any, Any], key: str, errors: Errors,
                  default: float | None) -> float | None:
    """A positive top-level duration, `default` when unset, None when invalid."""
    if top.get(key) is None:
        return default
    return duration(top[key], key, errors, GT0)


class _Loader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys (PyYAML silently keeps the last)."""

    duplicates: list[tuple[int, int, str]]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            continue
        if key in seen:
            mark = key_node.start_mark
            loader.duplicates.append((mark.line + 1, mark.column + 1, str(key)))
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, errors: Errors) -> Any:
    try:
        loader = _Loader(text)  # checks for unprintable characters up front
    except yaml.reader.ReaderError as e:
        line = text[:e.position].count("\n") + 1
        errors.messages.append(f"line {line}: invalid YAML: character #x{e.character:04x} "
                               "is not allowed")
        return None
    loader.duplicates = []
    try:
        raw = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        errors.messages.append(f"{where}invalid YAML: {e.problem or e.context}")
        return None
    except yaml.YAMLError as e:
        errors.messages.append(f"invalid YAML: {e}")
        return None
    finally:
        loader.dispose()
    for line, column, key in sorted(loader.duplicates):
        errors.messages.append(f'line {line}, column {column}: duplicate key "{key}"')
    return raw


def load_config(path: str | Path) -> Config:
    """Read and parse a policy.yaml file (errors carry the path as source)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", source=str(path)) from e
    return parse_config(text, source=str(path))
