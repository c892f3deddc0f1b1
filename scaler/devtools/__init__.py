"""Development tools: a real Prometheus process and synthetic vLLM/Kubernetes exporters.

Used by the integration tests, the benchmarks and `make demo`; never by the scaler itself.

    with Fleet.synthetic(100) as fleet, PrometheusProcess([fleet.target()]) as prom:
        prom.wait_scraped()
        ...  # query prom.url
"""

from scaler.devtools.fleet import Fleet, FleetServer, IsvcDrive, LoadPattern, ttft_fractions
from scaler.devtools.prometheus import PrometheusProcess, ScrapeTarget, free_port

__all__ = [
    "Fleet",
    "FleetServer",
    "IsvcDrive",
    "LoadPattern",
    "PrometheusProcess",
    "ScrapeTarget",
    "free_port",
    "ttft_fractions",
]
