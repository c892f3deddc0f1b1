"""Root fixtures: a real Prometheus (/usr/bin/prometheus) scraping synthetic exporters every 1 s.

Session-scoped and lazy: started by the first test that asks, stopped at the end. The binary
missing is an error, never a skip. What Prometheus scrapes:
* `fleet`: FLEET_SIZE synthetic ISVCs (Fleet.synthetic) plus `edge/idle` (no traffic: latency
  NaN) and `edge/no-pods` (0 pods: no series); tests add their own ISVCs under their own
  namespace and must not change the synthetic ones;
* the fixture texts of /work/shared/fixtures served by TextExporter as `llm/llama` (vllm:
  names), `llm/llama-us` (vllm_ names), `llm/llama-old` (gpu_cache_usage_perc) and the
  cAdvisor / kube-state-metrics samples (no isvc label, pod llama-predictor-...).
`prometheus_ready` waits until RATE_WINDOW of samples exist, so rate() over it has samples
at both ends (exact but for Prometheus' edge extrapolation: tests/signals/test_fixtures.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator

import pytest

from scaler.config import Config, parse_config
from scaler.config.queries import DEFAULT_TEMPLATES, render_query
from scaler.devtools import Fleet, FleetServer, PrometheusProcess
from scaler.devtools.prometheus import DEFAULT_BINARY
from scaler.devtools.textfile import TextExporter
from tests.shared_paths import FIXTURES

FLEET_SIZE = 40
RATE_WINDOW = "3s"
"""Rate window of the test queries: the defaults' 1m would need a minute of samples."""


def _require_binary() -> None:
    if not os.access(DEFAULT_BINARY, os.X_OK):
        pytest.fail(f"{DEFAULT_BINARY} is missing: install the Debian package `prometheus` "
                    "(make prometheus); integration tests never skip")


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    """The shared synthetic fleet (do not mutate its ISVCs; add your own)."""
    f = Fleet.synthetic(FLEET_SIZE)
    f.add("edge", "idle", request_rate=0.0, kv_cache=0.02, pods=2)
    f.add("edge", "no-pods", pods=0)
    return f


@pytest.fixture(scope="session")
def fleet_server(fleet: Fleet) -> Iterator[FleetServer]:
    with fleet.serve() as server:
        yield server


@pytest.fixture(scope="session")
def fixture_exporters() -> Iterator[dict[str, TextExporter]]:
    """TextExporters of the shared fixture files (see the module docstring)."""
    vllm = (FIXTURES / "vllm_metrics.txt").read_text()
    texts = {
        "llama": vllm,
        "llama-us": vllm.replace("vllm:", "vllm_"),
        "llama-old": vllm.replace("kv_cache_usage_perc", "gpu_cache_usage_perc"),
        "k8s": (FIXTURES / "k8s_metrics.txt").read_text(),
    }
    exporters = {name: TextExporter(text, growth_s=100.0) for name, text in texts.items()}
    yield exporters
    for e in exporters.values():
        e.close()


@pytest.fixture(scope="session")
def prometheus(fleet_server: FleetServer,
               fixture_exporters: dict[str, TextExporter]) -> Iterator[PrometheusProcess]:
    """The shared real Prometheus (scrape interval 1 s)."""
    _require_binary()
    targets = [*fleet_server.targets()]
    for name, exporter in fixture_exporters.items():
        labels = {} if name == "k8s" else {"namespace": "llm", "isvc": name}
        targets.append(exporter.target(job=f"fixture-{name}", **labels))
    with PrometheusProcess(targets, scrape_interval_s=1.0) as prom:
        yield prom


@pytest.fixture(scope="session")
def prometheus_ready(prometheus: PrometheusProcess) -> PrometheusProcess:
    """The shared Prometheus once every target has RATE_WINDOW (+1 s) of samples."""
    prometheus.wait_scraped(scrapes=5, timeout_s=40)
    return prometheus


def short_window_queries(*, rate_window: str = RATE_WINDOW) -> dict[str, str]:
    """DEFAULT_TEMPLATES rendered with the default labels and a short rate window."""
    return {name: render_query(t, namespace_label="namespace", isvc_label="isvc",
                               rate_window=rate_window)
            for name, t in DEFAULT_TEMPLATES.items()}


@pytest.fixture(scope="session")
def make_config() -> Callable[..., Config]:
    """make_config(url, policies_yaml=..., interval="1s") → Config with short_window_queries()."""

    def make(url: str, *, policies: str = "default: {targets: {kv_cache: 0.8}}",
             interval: str = "1s", timeout: str = "2s", extra: str = "") -> Config:
        text = (f'prometheus: {{url: "{url}", timeout: {timeout}}}\ninterval: {interval}\n'
                f"policies:\n  {policies}\n{extra}")
        return dataclasses.replace(parse_config(text), queries=short_window_queries())

    return make
