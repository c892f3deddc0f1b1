"""`scaler explain --config policy.yaml [--isvc ns/name] [--json]` (DESIGN §6).

One evaluation now, as the live scaler would make it: the engine first warm-starts from
Prometheus history (range queries over the longest stabilisation window, on the live tick
grid), so held scale-downs and windows are those of a scaler that had been running. Prints
per ISVC the signals, pressure, current, desired, reason and why; `--json` prints a list of
IsvcStatus.as_json objects, each with an extra `why` string.

With `--kubernetes` (read-only: one list of InferenceServices and predictor Deployments, no
watch, no writes) the evaluation uses the annotation overrides and the API's replica counts
as `scaler serve --kubernetes` would, and lists every rejected annotation (JSON: per ISVC,
`annotation_errors`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from scaler.commands.serve import add_kubernetes_arguments, kube_options
from scaler.config import load_config
from scaler.durations import format_duration
from scaler.engine import Engine
from scaler.engine.explain import rows, table
from scaler.engine.store import SnapshotStore
from scaler.errors import ConfigError, ScalerError
from scaler.ticks import align_tick


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    p = sub.add_parser(
        "explain", help="one evaluation now (after a warm start): signals, pressure, decision",
        description="Evaluate every ISVC once, as the live scaler would at the latest tick "
                    "(stabilisation state rebuilt from Prometheus history first).")
    p.add_argument("--config", required=True, help="policy.yaml")
    p.add_argument("--isvc", action="append", default=[], metavar="NS/NAME",
                   help="only this ISVC (repeatable)")
    p.add_argument("--json", action="store_true", help="JSON list instead of a table")
    p.add_argument("--no-warm-start", action="store_true",
                   help="evaluate one tick without history (scale-downs are then held)")
    p.add_argument("--warm-start-timeout", type=float, default=60.0, metavar="SECONDS")
    add_kubernetes_arguments(p, serve=False)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the sub-command."""
    wanted = set()
    for item in args.isvc:
        ns, _, name = item.partition("/")
        if not ns or not name:
            raise ConfigError(f"--isvc {item!r}, must be namespace/name")
        wanted.add((ns, name))
    return asyncio.run(_explain(args, wanted))


async def _explain(args: argparse.Namespace, wanted: set[tuple[str, str]]) -> int:
    config = load_config(args.config)
    kube = _kubernetes(args, config)
    engine = Engine(config=kube.effective(config) if kube else config,
                    store=SnapshotStore(clock=time.time), overlay=kube.overlay if kube else None)
    replayed = 0 if args.no_warm_start else await engine.warm_start(
        timeout_s=args.warm_start_timeout)
    if replayed == 0:
        await engine.tick(align_tick(time.time() - engine.eval_delay_s, config.interval_s))
    ev = engine.last
    if ev is None:
        errors = "; ".join(f"{s}: {m}" for s, m in _errors(engine).items()) or "no answer"
        raise ScalerError(f"no evaluation: every signal query failed ({errors})")
    selected = [r for r in rows(ev) if not wanted or r.key in wanted]
    missing = sorted(wanted - {r.key for r in selected})
    rejected: dict[tuple[str, str], list[str]] = {}
    for error in (kube.annotation_errors(config) if kube else []):
        rejected.setdefault(error.key, []).append(error.message)
    if args.json:
        items = _as_json(engine, selected)
        if kube is not None:
            for item in items:
                item["annotation_errors"] = rejected.get((item["namespace"], item["isvc"]), [])
        print(json.dumps(items, indent=2))
    else:
        print(_preamble(engine, replayed))
        if kube is not None:
            print(_kube_lines(kube, rejected))
        print(table(selected) if selected else "(no ISVCs)")
    for ns, name in missing:
        print(f"scaler explain: {ns}/{name} has no series in Prometheus "
              "(KEDA would get its policy's min_replicas)", file=sys.stderr)
    return 1 if missing else 0


def _kubernetes(args: argparse.Namespace, config: Any) -> Any:
    """With --kubernetes: scaler.kube.Kubernetes filled by one list (no watch, no writes)."""
    options = kube_options(args)
    if options is None:
        return None
    from prometheus_client import CollectorRegistry

    from scaler.kube import Kubernetes

    kube = Kubernetes(options, registry=CollectorRegistry(), config=lambda: config)
    try:
        kube.cluster.list_once()
    except Exception as e:
        raise ScalerError(f"Kubernetes API: {e}") from e
    return kube


def _kube_lines(kube: Any, rejected: dict[tuple[str, str], list[str]]) -> str:
    isvcs, deployments = kube.cluster.isvcs(), kube.cluster.deployments()
    lines = [f"Kubernetes: {len(isvcs)} InferenceServices, {len(deployments)} predictor "
             "Deployments (replicas and spec_replicas from the API)"]
    lines += [f"Annotation rejected: {m}" for ms in rejected.values() for m in ms]
    return "\n".join(lines) + "\n"


def _errors(engine: Engine) -> dict[str, str]:
    active = getattr(engine.source, "issue_log", None)
    if active is None:
        return {}
    return {s: "; ".join(p.values()) for s, p in active.active().items()}


def _preamble(engine: Engine, replayed: int) -> str:
    config = engine.config
    assert engine.last is not None
    tick = engine.last.tick_s
    when = datetime.fromtimestamp(tick, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = getattr(getattr(engine.source, "client", None), "display_url", config.prometheus.url)
    lines = [f"Prometheus {url}; tick {when} (interval {format_duration(config.interval_s)})"]
    if replayed:
        lines.append(f"Warm start: replayed {replayed} ticks "
                     f"({format_duration((replayed - 1) * config.interval_s)}) of history, "
                     "so windows and held scale-downs are what the live scaler has now.")
    else:
        lines.append("No history replayed: every ISVC is on its first tick, so scale-downs "
                     "show as held (stabilizing) for one scale_down_window.")
    failed = engine.last.frame.errors
    lines += [f"Signal {s} failed: {m}" for s, m in failed.items()]
    return "\n".join(lines) + "\n"


def _as_json(engine: Engine, selected: list[Any]) -> list[dict[str, Any]]:
    snap = engine.store.snapshot
    assert snap is not None
    age = snap.age_s(time.time())
    out = []
    for r in selected:
        item = snap.entries[r.key].as_json(age_s=age)
        item["why"] = r.why
        out.append(item)
    return out
