"""The vLLM replica model: M/M/c validity (Erlang C), prefill/decode timing, admission, drain."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.sim.profiles import PROFILES, ServingParams
from scaler.sim.serving import DRAINING, GONE, Serving
from scaler.sim.trace import make_trace

BASE = PROFILES["a100-80gb-llama3.1-8b"]
STEP_S = 0.001  # decode step of the M/M/c model


def erlang_c_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c: C(c, a) / (c μ − λ), a = λ/μ."""
    a = lam / mu
    tail = a**c / math.factorial(c) / (1 - a / c)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p_wait / (c * mu - lam)


def _fleet(trace, serving: ServingParams, pods: int, routing: str = "central") -> Serving:
    s = Serving(trace, [serving], routing=routing)
    for _ in range(pods):
        s.set_ready(s.add_pod(0, 0.0), 0.0)
    return s


@pytest.mark.parametrize(("c", "rho", "n"), [
    (1, 0.5, 150_000), (2, 0.6, 150_000), (4, 0.7, 250_000), (8, 0.7, 250_000)],
    ids=["c1-rho.5", "c2-rho.6", "c4-rho.7", "c8-rho.7"])
def test_mmc_mean_wait_matches_erlang_c(c: int, rho: float, n: int) -> None:
    """No batching (max_num_seqs 1), no prefill, geometric output × constant step ≈
    exponential service (SCV 1.001), one gateway queue → M/M/c. Compared with Erlang C at the
    sample's own λ and μ; over seeds the relative error has sd ≈ 1-2 % at these sizes."""
    serving = dataclasses.replace(BASE, max_num_seqs=1, decode_step_per_seq_s=0.0,
                                  decode_step_base_s=STEP_S, max_batched_tokens=1,
                                  kv_cache_tokens=10**9, max_model_len=10**9)
    rng = np.random.default_rng(c)
    mean_tokens = 1000
    lam = rho * c / (STEP_S * (mean_tokens - 1))
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    out = rng.geometric(1 / mean_tokens, n)
    s = _fleet(make_trace(arrivals, np.zeros(n, int), out), serving, c)
    s.advance(math.inf)
    wait = np.array(s.first_token_s) - arrivals
    lam_hat = n / arrivals[-1]
    mu_hat = 1 / ((out - 1).mean() * STEP_S)
    expected = erlang_c_wait_s(lam_hat, mu_hat, c)
    assert wait.mean() == pytest.approx(expected, rel=0.05)
    assert np.all(np.isfinite(s.finish_s))


def test_single_request_timing() -> None:
    """TTFT = one chunked-prefill step; then output − 1 decode steps at batch 1."""
    s = _fleet(make_trace([1.0], [2000], [11]), BASE, 1)
    s.advance(math.inf)
    step_prefill = BASE.decode_step_base_s + 2000 / BASE.prefill_tokens_per_s
    step_decode = BASE.decode_step_base_s + BASE.decode_step_per_seq_s
    assert s.first_token_s[0] - 1.0 == pytest.approx(step_prefill)
    assert s.finish_s[0] - s.first_token_s[0] == pytest.approx(10 * step_decode)
    assert s.ttft_hist[0][8] == 1  # 0.21 s lies in (0.1, 0.25], the 9th bucket


def test_prompts_are_prefilled_first_come_first_served() -> None:
    s = _fleet(make_trace([0.0, 0.0, 0.0], [4000, 4000, 4000], [1, 1, 1]), BASE, 1)
    s.advance(math.inf)
    ttft = np.array(s.first_token_s)
    assert np.all(np.diff(ttft) > 0)
    # all 12,000 tokens go through at ≈ prefill rate (one 8192-token chunk per step)
    assert ttft[-1] == pytest.approx(12_000 / BASE.prefill_tokens_per_s, rel=0.02)


@pytest.mark.parametrize(("limit", "value"), [("kv_cache_tokens", 2500), ("max_num_seqs", 2)],
                         ids=["kv-full", "max-seqs"])
def test_admission_waits_when_full(limit: str, value: int) -> None:
    serving = dataclasses.replace(BASE, **{limit: value})
    s = _fleet(make_trace([0.0, 0.0, 0.0], [1000, 1000, 1000], [100, 100, 100]), serving, 1,
               routing="round_robin")
    s.advance(0.5)
    expected_running = 2
    assert s.nrun[0] == expected_running and len(s.local[0]) == 1
    s.advance(math.inf)
    assert s.first_token_s[2] >= min(s.finish_s[:2])
    assert s.kv[0] == 0 and s.nrun[0] == 0


def test_too_long_requests_are_rejected() -> None:
    serving = dataclasses.replace(BASE, max_model_len=5000)
    s = _fleet(make_trace([0.0, 1.0], [4000, 6000], [100, 100]), serving, 1)
    s.advance(math.inf)
    assert list(s.rejected) == [0, 1]
    assert math.isfinite(s.finish_s[0]) and math.isnan(s.first_token_s[1])


def test_round_robin_spreads_and_removed_pods_drain() -> None:
    n = 40
    s = _fleet(make_trace(np.zeros(n), np.full(n, 500), np.full(n, 200)), BASE, 4,
               routing="round_robin")
    s.advance(0.01)
    assert [s.nrun[p] for p in range(4)] == [10, 10, 10, 10]
    s.remove_pod(3, 0.01)
    assert s.state[3] == DRAINING and s.ready[0] == [0, 1, 2]
    s.advance(math.inf)
    assert s.state[3] == GONE and s.ended_s[3] == pytest.approx(max(
        s.finish_s[j] for j in range(3, n, 4)))
    assert np.all(np.isfinite(s.finish_s))


def test_requests_wait_at_the_gateway_without_ready_pods() -> None:
    s = Serving(make_trace([0.0, 1.0], [100, 100], [5, 5]), [BASE], routing="round_robin")
    p = s.add_pod(0, 0.0)
    s.advance(10.0)
    assert len(s.queue[0]) == 2 and math.isnan(s.first_token_s[0])
    s.set_ready(p, 10.0)
    s.advance(math.inf)
    assert s.first_token_s[0] > 10.0 and len(s.queue[0]) == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), pods=st.integers(1, 4),
       routing=st.sampled_from(["round_robin", "central"]),
       kv=st.integers(20_000, 200_000), seqs=st.integers(1, 64))
def test_invariants(seed: int, pods: int, routing: str, kv: int, seqs: int) -> None:
    """Every request is served once; TTFT ≥ its prefill time; KV is returned; limits hold."""
    rng = np.random.default_rng(seed)
    n = 200
    t = np.sort(rng.uniform(0, 20, n))
    inp, out = rng.integers(0, 8000, n), rng.integers(1, 400, n)
    serving = dataclasses.replace(BASE, kv_cache_tokens=kv, max_num_seqs=seqs)
    s = _fleet(make_trace(t, inp, out), serving, pods, routing)
    for stop in (5.0, 10.0, 15.0):
        s.advance(stop)
        assert all(k <= kv for k in s.kv) and all(r <= seqs for r in s.nrun)
    s.advance(math.inf)
    served = ~np.frombuffer(bytes(s.rejected), np.uint8).astype(bool)
    assert np.all(served == (inp + out <= kv))
    ft, fin = np.array(s.first_token_s), np.array(s.finish_s)
    assert np.all(ft[served] - t[served] >= inp[served] / BASE.prefill_tokens_per_s - 1e-9)
    assert np.all(fin[served] >= ft[served])
    assert s.kv == [0] * pods and s.nrun == [0] * pods
    assert sum(s.completed) == served.sum() and sum(map(sum, s.ttft_hist)) == served.sum()


def test_least_request_avoids_the_loaded_pod() -> None:
    """Power of two choices: the backlogged pod gets a new request only when drawn twice."""
    serving = dataclasses.replace(BASE, max_num_seqs=1)
    times = [0.0] * 20 + list(np.linspace(1.0, 2.0, 60))
    s = _fleet(make_trace(times, [100] * 80, [5000] * 80), serving, 1, routing="least_request")
    s.advance(0.5)
    assert s.nrun[0] + len(s.local[0]) == 20
    for _ in range(3):  # three idle pods join
        s.set_ready(s.add_pod(0, 0.5), 0.5)
    s.advance(2.5)
    loads = [s.nrun[p] + len(s.local[p]) for p in range(4)]
    assert sum(loads) == 80
    assert loads[0] - 20 <= 6  # ≈ 60 / 16 expected
    assert min(loads[1:]) >= 12  # each idle pod takes a fair share of the ≈ 57 others


def test_queued_requests_are_abandoned_after_the_timeout() -> None:
    serving = dataclasses.replace(BASE, max_num_seqs=1)
    # each request decodes 2000 tokens ≈ 20.5 s; the third waits ≈ 41 s > 30 s timeout
    s = Serving(make_trace([0.0, 0.1, 0.2], [10] * 3, [2000] * 3), [serving],
                routing="round_robin", timeout_s=30.0)
    s.set_ready(s.add_pod(0, 0.0), 0.0)
    s.advance(math.inf)
    assert list(s.timed_out) == [0, 0, 1]
    assert math.isfinite(s.finish_s[1]) and math.isnan(s.first_token_s[2])
    assert s.nrun[0] == 0 and not s.local[0]
