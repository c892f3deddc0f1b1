"""Parameter grids over policy.yaml (`--sweep key=v1,v2,…`) and parallel job execution.

`policies.default.targets.kv_cache=0.6,0.8` sets that path in the YAML document (creating
mappings on the way) for each value; several --sweep options form their cartesian product.
Values are parsed as YAML scalars (`0.6` → float, `30s` stays a string, `null` unsets).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import yaml

from scaler.errors import ConfigError
from scaler.sim.jobs import Job, JobResult, run_job


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """`a.b.c=v1,v2` → ("a.b.c", [v1, v2]); raises ConfigError when malformed."""
    key, sep, values = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts) or not values.strip():
        raise ConfigError(f"--sweep {text}: expected key.path=value1,value2,...")
    try:
        parsed = [yaml.safe_load(v) for v in values.split(",")]
    except yaml.YAMLError as e:
        raise ConfigError(f"--sweep {text}: bad value: {e}") from e
    return key.strip(), parsed


def set_path(document: Mapping[str, Any] | None, path: str, value: Any) -> dict[str, Any]:
    """A copy of `document` with dotted `path` set to `value` (None removes the key)."""
    root: dict[str, Any] = dict(document or {})
    node = root
    keys = path.split(".")
    for key in keys[:-1]:
        child = node.get(key)
        if child is not None and not isinstance(child, Mapping):
            raise ConfigError(f"--sweep {path}: {key} is not a mapping in the config")
        node[key] = dict(child or {})
        node = node[key]
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return root


def expand(config_text: str, sweeps: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(label suffix, config text) for every grid point; one ("", text) without sweeps."""
    if not sweeps:
        yield "", config_text
        return
    try:
        document = yaml.safe_load(config_text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"cannot apply --sweep to an invalid YAML document: {e}") from e
    grid = [parse_sweep(s) for s in sweeps]
    for combo in itertools.product(*(values for _, values in grid)):
        doc = document
        for (key, _), value in zip(grid, combo, strict=True):
            doc = set_path(doc, key, value)
        label = ",".join(f"{key.rsplit('.', 1)[-1]}={value}"
                         for (key, _), value in zip(grid, combo, strict=True))
        yield f"[{label}]", yaml.safe_dump(doc, sort_keys=False)


def run_jobs(jobs: Sequence[Job], *, workers: int = 2,
             on_done: Callable[[int, int], None] | None = None,
             progress: Callable[[float], None] | None = None) -> list[JobResult]:
    """Run jobs (in worker processes when workers > 1 and there are several), in job order.

    `progress(fraction)` reports within a single in-process job; `on_done(done, total)`
    after each job.
    """
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for i, job in enumerate(jobs):
            results.append(run_job(job, progress if len(jobs) == 1 else None))
            if on_done:
                on_done(i + 1, len(jobs))
        return results
    out: list[JobResult | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, 2, len(jobs))) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), start=1):
            out[futures[future]] = future.result()
            if on_done:
                on_done(done, len(jobs))
    return [r for r in out if r is not None]
