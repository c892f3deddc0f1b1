"""`scaler serve` process set-up: event loop choice, heap freezing after warm start."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from scaler.commands.serve import FULL_GC_EVERY, _loop_factory, freeze_heap
from tests.e2e.harness import ServeProcess, policy_yaml, scaled_ref, write_policy


@pytest.mark.parametrize(("name", "loop_type"), [
    pytest.param("uvloop", uvloop.Loop, id="uvloop"),
    pytest.param("asyncio", asyncio.BaseEventLoop, id="asyncio"),
])
def test_loop_factory(name: str, loop_type: type) -> None:
    loop = _loop_factory(name)()
    try:
        assert isinstance(loop, loop_type)
    finally:
        loop.close()


@pytest.fixture
def gc_state() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_freeze_heap_moves_the_start_up_heap_out_of_collections(gc_state: None) -> None:
    survivor = [object() for _ in range(1000)]
    freeze_heap()
    assert gc.get_freeze_count() >= len(survivor)
    assert gc.get_threshold()[2] == FULL_GC_EVERY
    assert not any(o is survivor for o in gc.get_objects(generation=2))


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_serve_answers_on_either_event_loop(tmp_path: Path, event_loop: str) -> None:
    config = write_policy(tmp_path, policy_yaml("http://127.0.0.1:9"))   # nothing listens
    with ServeProcess(config, log_path=tmp_path / "serve.log", warm_start_timeout_s=0,
                      extra_args=("--event-loop", event_loop)) as serve:
        serve.wait_listening()
        spec = serve.stub.GetMetricSpec(scaled_ref("ns", "m"), timeout=5).metricSpecs[0]
        assert (spec.metricName, spec.targetSize) == ("desired-replicas", 1)
