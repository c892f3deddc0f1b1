"""Validation of the `prometheus:`, `labels:` and `signals:` sections of policy.yaml; pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scaler.config.checks import (
    GT0,
    Errors,
    boolean,
    duration,
    join,
    string,
    unknown_key_message,
)
from scaler.config.model import TOP_KEYS, PrometheusConfig
from scaler.config.queries import (
    DEFAULT_TEMPLATES,
    INPUT_SIGNALS,
    PRESSURE_SIGNALS,
    SIGNAL_NAMES,
    missing_identity_labels,
    render_query,
)
from scaler.config.recorded import SIGNAL_QUERY_MODES, recorded_templates
from scaler.policy import KINDS, default_kind

PROMETHEUS_KEYS = ("url", "timeout", "headers", "bearer_token_file", "basic_auth", "tls",
                   "path_prefix")
BASIC_AUTH_KEYS = ("username", "password_file")
TLS_KEYS = ("ca_file", "cert_file", "key_file", "insecure_skip_verify")
LABEL_KEYS = ("namespace", "isvc")
_TOP = {k.yaml: k.default for k in TOP_KEYS}
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def parse_prometheus(raw: object, errors: Errors) -> PrometheusConfig | None:
    """`prometheus:` → PrometheusConfig (None after recording errors)."""
    section = errors.mapping(raw, "prometheus")
    if section is None:
        return None
    before = len(errors.messages)
    errors.known_keys(section, PROMETHEUS_KEYS, "prometheus")
    fields: dict[str, Any] = {
        "url": _url(section.get("url", _TOP["prometheus.url"]), errors),
        "timeout_s": duration(section.get("timeout", _TOP["prometheus.timeout"]),
                              "prometheus.timeout", errors, GT0),
        "headers": _headers(section.get("headers"), errors),
        "path_prefix": _path_prefix(section.get("path_prefix", ""), errors),
    }
    if section.get("bearer_token_file") is not None:
        fields["bearer_token_file"] = string(
            section["bearer_token_file"], "prometheus.bearer_token_file", errors)
    fields |= _basic_auth(section.get("basic_auth"), errors)
    if "bearer_token_file" in fields and "basic_auth_username" in fields:
        errors.add("prometheus.basic_auth", "cannot be combined with bearer_token_file")
    fields |= _tls(section.get("tls"), errors)
    if len(errors.messages) > before:
        return None
    return PrometheusConfig(**fields)


def _url(value: object, errors: Errors) -> str | None:
    text = string(value, "prometheus.url", errors)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        errors.bad("prometheus.url", value, "an http(s) URL with a host, e.g. http://prometheus:9090")
        return None
    return text.rstrip("/")


def _path_prefix(value: object, errors: Errors) -> str | None:
    text = string(value, "prometheus.path_prefix", errors, allow_empty=True)
    if text is None:
        return None
    if text and (not text.startswith("/") or "?" in text or "#" in text):
        errors.bad("prometheus.path_prefix", value, 'a URL path starting with "/"')
        return None
    return text.rstrip("/")


def _headers(value: object, errors: Errors) -> dict[str, str]:
    section = errors.mapping(value, "prometheus.headers") or {}
    for name, header in section.items():
        path = join("prometheus.headers", name)
        if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            errors.add(path, "not a valid HTTP header name")
        elif not isinstance(header, str):
            errors.bad(path, header, "a string (quote it)")
    return dict(section)


def _basic_auth(value: object, errors: Errors) -> dict[str, Any]:
    if value is None:
        return {}
    path = "prometheus.basic_auth"
    section = errors.mapping(value, path)
    if section is None:
        return {}
    errors.known_keys(section, BASIC_AUTH_KEYS, path)
    if not errors.required(section, BASIC_AUTH_KEYS, path):
        return {}
    return {
        "basic_auth_username": string(section["username"], join(path, "username"), errors),
        "basic_auth_password_file": string(
            section["password_file"], join(path, "password_file"), errors),
    }


def _tls(value: object, errors: Errors) -> dict[str, Any]:
    path = "prometheus.tls"
    section = errors.mapping(value, path) or {}
    errors.known_keys(section, TLS_KEYS, path)
    fields: dict[str, Any] = {}
    for key in ("ca_file", "cert_file", "key_file"):
        if section.get(key) is not None:
            fields[key] = string(section[key], join(path, key), errors)
    if section.get("insecure_skip_verify") is not None:
        fields["insecure_skip_verify"] = boolean(
            section["insecure_skip_verify"], join(path, "insecure_skip_verify"), errors)
    for key, other in (("cert_file", "key_file"), ("key_file", "cert_file")):
        if key in fields and other not in fields:
            errors.add(join(path, other), f"required with {key}")
    return fields


def parse_labels(raw: object, errors: Errors) -> tuple[str, str] | None:
    """`labels:` → (namespace label, isvc label); both keys required when the section is set."""
    if raw is None:
        return _TOP["labels.namespace"], _TOP["labels.isvc"]
    section = errors.mapping(raw, "labels")
    if section is None:
        return None
    before = len(errors.messages)
    errors.known_keys(section, LABEL_KEYS, "labels")
    if errors.required(section, LABEL_KEYS, "labels"):
        for key in LABEL_KEYS:
            name = section[key]
            if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name) \
                    or name.startswith("__"):
                errors.bad(join("labels", key), name,
                           "a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)")
        if len(errors.messages) == before and section["namespace"] == section["isvc"]:
            errors.bad("labels.isvc", section["isvc"], "different from labels.namespace")
    if len(errors.messages) > before:
        return None
    return section["namespace"], section["isvc"]


def parse_signal_queries(raw: object, errors: Errors) -> str | None:
    """`signal_queries:` → "raw" (default) or "recorded" (None after recording an error)."""
    if raw is None:
        return _TOP["signal_queries"]
    if raw not in SIGNAL_QUERY_MODES:
        errors.bad("signal_queries", raw, f"one of {', '.join(SIGNAL_QUERY_MODES)}")
        return None
    return str(raw)


_SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def parse_signals(raw: object, labels: tuple[str, str] | None, errors: Errors,
                  mode: str | None = "raw") -> tuple[dict[str, str], dict[str, str]]:
    """`signals:` → (rendered PromQL per signal, kind per pressure signal); "" disables one.

    A default signal may override its `query` and (pressure signals) its `kind`; a new signal
    needs both, e.g. `queue_time: {query: '...', kind: latency}`. Each non-empty query must
    mention both identity labels (checked only when `labels` is valid). With `mode`
    "recorded", the defaults read the recorded series (scaler.config.recorded).
    """
    section = errors.mapping(raw, "signals") or {}
    templates = recorded_templates() if mode == "recorded" else dict(DEFAULT_TEMPLATES)
    kinds = {name: default_kind(name) for name in PRESSURE_SIGNALS}
    for name, body in section.items():
        path = join("signals", name)
        spec = errors.mapping(body, path)
        if spec is None:
            continue
        if not _known_or_new_signal(name, spec, path, errors):
            continue
        errors.known_keys(spec, ("query", "kind") if name not in INPUT_SIGNALS else ("query",),
                          path)
        if "query" in spec:
            query = string(spec["query"], join(path, "query"), errors, allow_empty=True)
            if query is not None:
                templates[name] = query.strip()
        if "kind" in spec and name not in INPUT_SIGNALS:
            kind = spec["kind"]
            if kind in KINDS:
                kinds[name] = kind
            else:
                errors.bad(join(path, "kind"), kind, f"one of {', '.join(KINDS)}")
    if labels is None:
        return {}, kinds
    ns_label, isvc_label = labels
    queries = {}
    for name in (*kinds, *INPUT_SIGNALS):
        query = render_query(templates[name], namespace_label=ns_label, isvc_label=isvc_label)
        missing = missing_identity_labels(query, namespace_label=ns_label, isvc_label=isvc_label)
        if query and missing and name in section:
            errors.bad(join(join("signals", name), "query"), templates[name],
                       f"a query keeping the identity labels, {', '.join(missing)} missing "
                       "(e.g. avg by ($ns, $isvc) (...))")
        queries[name] = query
    return queries, kinds


def _known_or_new_signal(name: object, spec: Mapping[Any, Any], path: str,
                         errors: Errors) -> bool:
    """A default signal, or a new one with a valid name, a query and a kind (else an error)."""
    if name in SIGNAL_NAMES:
        return True
    if not isinstance(name, str) or not _SIGNAL_NAME.fullmatch(name):
        errors.add(path, "a signal name is lower case letters, digits and _, starting with a "
                   f"letter (default signals: {', '.join(SIGNAL_NAMES)})")
        return False
    missing = [k for k in ("query", "kind") if k not in spec]
    close = unknown_key_message(name, list(SIGNAL_NAMES))
    if missing and "did you mean" in close:
        errors.add(path, close)
        return False
    if missing:
        errors.add(path, f"a signal added to the defaults ({', '.join(SIGNAL_NAMES)}) needs "
                   f"{' and '.join(missing)}")
        return False
    return True
