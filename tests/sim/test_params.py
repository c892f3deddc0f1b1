"""The `simulation:` section: defaults, profiles, overrides and the error table."""

from __future__ import annotations

import pytest

from scaler.errors import ConfigError
from scaler.sim.params import SimParams, parse_sim_params
from scaler.sim.profiles import PROFILES, capacity_rps


def test_empty_section_gives_documented_defaults() -> None:
    sim = parse_sim_params(None)
    assert sim == SimParams()
    assert sim.serving == PROFILES["a100-80gb-llama3.1-8b"]
    assert (sim.ttft_slo_s, sim.routing, sim.request_timeout_s, sim.keda_polling_interval_s,
            sim.hpa_sync_period_s, sim.hpa_tolerance) == (2.0, "least_request", 300.0, 30.0,
                                                          15.0, 0.1)
    assert sim.serving.kv_cache_tokens == 30_832 * 16


def test_overrides_and_per_isvc_profiles() -> None:
    sim = parse_sim_params({
        "profile": "h100-llama3.1-70b-tp4", "ttft_slo": "1500ms", "routing": "central",
        "serving": {"startup": "90s", "max_num_seqs": 128},
        "keda": {"polling_interval": "10s"}, "hpa": {"sync_offset": 0},
        "baselines": {"keda_signal": "kv_cache", "keda_threshold": 0.7},
        "initial_replicas": 3, "request_timeout": "none",
        "isvcs": {"prod/a": {"serving": {"startup": "10s"}},
                  "prod/b": {"profile": "a100-80gb-llama3.1-8b"}}})
    assert sim.serving.startup_s == 90.0 and sim.serving.max_num_seqs == 128
    assert sim.serving.gpus_per_replica == 4.0
    assert (sim.ttft_slo_s, sim.routing, sim.keda_polling_interval_s) == (1.5, "central", 10.0)
    assert (sim.keda_signal, sim.keda_threshold, sim.initial_replicas) == ("kv_cache", 0.7, 3)
    assert sim.request_timeout_s == float("inf")
    a, b = sim.serving_for(("prod", "a")), sim.serving_for(("prod", "b"))
    assert (a.startup_s, a.max_num_seqs, a.gpus_per_replica) == (10.0, 128, 4.0)
    assert b == PROFILES["a100-80gb-llama3.1-8b"]
    assert sim.serving_for(("other", "x")) == sim.serving


@pytest.mark.parametrize(("raw", "message"), [
    ([], "simulation = [], must be a mapping"),
    ({"profil": "x"}, 'simulation.profil: unknown key, did you mean "profile"?'),
    ({"profile": "tpu"}, "simulation.profile = tpu, must be one of"),
    ({"ttft_slo": "-2s"}, "simulation.ttft_slo = -2s, must be > 0"),
    ({"ttft_slo": "soon"}, "simulation.ttft_slo = soon, must be a duration"),
    ({"routing": "random"}, "simulation.routing = random, must be one of least_request, "
                            "round_robin, central"),
    ({"request_timeout": "0s"}, "simulation.request_timeout = 0s, must be > 0"),
    ({"serving": {"max_num_seqs": 0}}, "simulation.serving.max_num_seqs = 0, must be ≥ 1"),
    ({"serving": {"max_num_seqs": 2.5}}, "simulation.serving.max_num_seqs = 2.5, must be an "
                                         "integer"),
    ({"serving": {"prefill_tokens_per_s": True}}, "prefill_tokens_per_s = True, must be a "
                                                  "number"),
    ({"serving": {"max_num_seqs": 9000}}, "max_num_seqs = 9000, must be ≤ max_batched_tokens"),
    ({"serving": {"startup": "1x"}}, "simulation.serving.startup = 1x"),
    ({"keda": {"polling_interval": 0}}, "simulation.keda.polling_interval = 0, must be > 0"),
    ({"hpa": {"tolerance": -0.1}}, "simulation.hpa.tolerance = -0.1, must be ≥ 0"),
    ({"baselines": {"static_utilization": 1.5}}, "static_utilization = 1.5, must be in (0, 1]"),
    ({"baselines": {"keda_signal": "cpu"}}, "simulation.baselines.keda_signal = cpu"),
    ({"slo_attainment": 0}, "simulation.slo_attainment = 0, must be in (0, 1]"),
    ({"initial_replicas": -1}, "simulation.initial_replicas = -1, must be ≥ 0"),
    ({"isvcs": {"nons": {}}}, 'simulation.isvcs.nons = nons, must be of the form'),
    ({"isvcs": {"a/b": {"serving": {"startup": -1}}}},
     "simulation.isvcs.a/b.serving.startup = -1, must be ≥ 0"),
], ids=["not-mapping", "typo", "profile", "negative-slo", "bad-duration", "routing", "timeout",
        "zero-seqs", "fractional-seqs", "bool-number", "seqs-over-batch", "bad-startup",
        "zero-poll", "negative-tolerance", "utilization", "keda-signal", "attainment",
        "initial", "isvc-key", "isvc-serving"])
def test_errors_name_their_path(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_sim_params(raw, path="simulation")  # type: ignore[arg-type]
    assert any(message in e for e in err.value.errors), err.value.errors


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_sim_params({"ttft_slo": 0, "serving": {"max_num_seqs": 0, "startup": "x"},
                          "bogus": 1}, path="sim")
    assert len(err.value.errors) == 4
    assert all(e.startswith("sim.") for e in err.value.errors)


def test_capacity_estimate_matches_worked_example() -> None:
    serving = PROFILES["a100-80gb-llama3.1-8b"]
    assert capacity_rps(serving, mean_input=2048, mean_output=28) == pytest.approx(4.695, abs=0.01)
