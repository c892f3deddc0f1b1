"""Development tools: a real Prometheus process, synthetic vLLM/Kubernetes exporters and an
emulated Kubernetes API server (`scaler.devtools.kubeapi`, imported on its own).

Used by the integration tests, the benchmarks and `make demo`; never by the scaler itself.

    fleet = Fleet.synthetic(100, patterns=True)      # sine + bursts per ISVC
    with fleet.serve() as server, PrometheusProcess(server.targets()) as prom:
        prom.wait_scraped()                          # first scrape comes after ~5 s
        ...                                          # Config with prometheus.url = prom.url
        fleet.set(("team-0", "llm-0000"), pods=4)    # e.g. feed back the desired replicas
"""

from scaler.devtools.fleet import Fleet, FleetServer, IsvcDrive, LoadPattern, ttft_fractions
from scaler.devtools.prometheus import PrometheusProcess, ScrapeTarget, free_port
from scaler.devtools.textfile import TextExporter

__all__ = [
    "Fleet",
    "FleetServer",
    "IsvcDrive",
    "LoadPattern",
    "PrometheusProcess",
    "ScrapeTarget",
    "TextExporter",
    "free_port",
    "ttft_fractions",
]
