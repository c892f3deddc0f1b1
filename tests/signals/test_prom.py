"""PromClient against a scriptable fake API: auth, headers, prefix, TLS, errors, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaler.config.model import PrometheusConfig
from scaler.errors import SignalError
from scaler.signals.client import PromClient, range_chunks, redact_url
from tests.serving.certs import Pki, make_pki
from tests.signals.fakeapi import FakeApi, Reply, Seen, vector


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "prom")


def client(url: str, **kw: Any) -> PromClient:
    return PromClient(PrometheusConfig(url=url, **{"timeout_s": 2.0, **kw}))


def test_instant_query_sends_time_timeout_headers_and_prefix(api: FakeApi) -> None:
    api.behaviour = lambda seen: vector(("a", "x", "0.5"))
    c = client(api.url + "/", path_prefix="/prometheus/", headers={"X-Scope-OrgID": "team-a"})
    result = c.query("up", time_s=1_800_000_015.0)
    assert result == [{"metric": {"namespace": "a", "isvc": "x"}, "value": [0, "0.5"]}]
    seen = api.seen[-1]
    assert seen.path == "/prometheus/api/v1/query"
    assert seen.params == {"query": "up", "time": "1800000015.000", "timeout": "2"}
    assert seen.headers["x-scope-orgid"] == "team-a"
    assert "authorization" not in seen.headers


def test_bearer_token_is_reread_when_the_file_changes(api: FakeApi, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first-secret\n")
    c = client(api.url, bearer_token_file=str(token))
    c.query("up", time_s=0)
    assert api.seen[-1].headers["authorization"] == "Bearer first-secret"
    rotated = tmp_path / "token.new"
    rotated.write_text("second-secret-longer")
    rotated.replace(token)
    c.query("up", time_s=0)
    assert api.seen[-1].headers["authorization"] == "Bearer second-secret-longer"


def test_basic_auth_reads_password_file(api: FakeApi, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2")
    client(api.url, basic_auth_username="scaler", basic_auth_password_file=str(pw)).query(
        "up", time_s=0)
    assert api.seen[-1].headers["authorization"] == "Basic c2NhbGVyOmh1bnRlcjI="


def test_unreadable_token_is_a_credentials_error(api: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(SignalError) as e:
        client(api.url, bearer_token_file=str(tmp_path / "absent")).query("up", time_s=0)
    assert e.value.cause_kind == "credentials"
    assert api.seen == []


def prom_error(status: int, kind: str, message: str) -> Reply:
    return status, json.dumps({"status": "error", "errorType": kind, "error": message}).encode()


@pytest.mark.parametrize(("reply", "cause", "text"), [
    pytest.param(prom_error(400, "bad_data", 'parse error: unexpected "}"'), "http_4xx",
                 'HTTP 400: bad_data: parse error: unexpected "}"', id="400-bad-query"),
    pytest.param(prom_error(422, "execution", "many-to-many matching not allowed"), "http_4xx",
                 "many-to-many", id="422-execution"),
    pytest.param((503, b"Service Unavailable"), "http_5xx", "HTTP 503", id="503-plain"),
    pytest.param((500, b"<html>oops</html>"), "http_5xx", "HTTP 500: <html>", id="500-html"),
    pytest.param((200, b"{not json"), "malformed", "malformed", id="bad-json"),
    pytest.param((200, b'{"status": "success"}'), "malformed", "malformed", id="no-data"),
    pytest.param((200, b'{"data": {"result": {"a": 1}}}'), "malformed", "not a list",
                 id="result-not-list"),
])
def test_bad_answers_become_signal_errors(api: FakeApi, tmp_path: Path, reply: Reply,
                                          cause: str, text: str) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token")
    api.behaviour = lambda seen: reply
    with pytest.raises(SignalError) as e:
        client(api.url, bearer_token_file=str(token)).query("up", time_s=0)
    assert e.value.cause_kind == cause
    assert text in str(e.value)
    assert "s3cr3t-token" not in str(e.value)
    assert len(api.seen) == 1  # no retries within a tick


def test_slow_answer_times_out(api: FakeApi) -> None:
    def slow(seen: Seen) -> Reply:
        api.release.wait(10)
        return vector()

    api.behaviour = slow
    with pytest.raises(SignalError) as e:
        client(api.url, timeout_s=0.3).query("up", time_s=0)
    assert e.value.cause_kind == "timeout"


def test_unreachable_is_a_connection_error_without_credentials_in_url() -> None:
    from scaler.devtools import free_port

    with pytest.raises(SignalError) as e:
        client(f"http://user:pa55word@127.0.0.1:{free_port()}").query("up", time_s=0)
    assert e.value.cause_kind == "connection"
    assert "pa55word" not in str(e.value)
    assert redact_url("http://u:p@h:1/x") == "http://h:1/x"


def test_tls_with_ca_and_client_cert(pki: Pki) -> None:
    fake = FakeApi(tls=(pki.server_cert, pki.server_key, pki.ca))
    fake.behaviour = lambda seen: vector(("a", "x", "1"))
    try:
        ok = client(fake.url, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
                    key_file=str(pki.client_key))
        assert ok.query("up", time_s=0)[0]["value"] == [0, "1"]
        with pytest.raises(SignalError) as e:
            client(fake.url).query("up", time_s=0)  # system CAs do not know the test CA
        assert e.value.cause_kind == "tls"
    finally:
        fake.close()


def test_insecure_skip_verify(pki: Pki) -> None:
    fake = FakeApi(tls=(pki.server_cert, pki.server_key, None))
    try:
        assert client(fake.url, insecure_skip_verify=True).query("up", time_s=0) == []
    finally:
        fake.close()


@pytest.mark.parametrize(("start", "end", "step", "max_points", "expected"), [
    pytest.param(0, 25, 10, 2, [(0, 10), (20, 20)], id="split"),
    pytest.param(0, 20, 10, 3, [(0, 20)], id="fits"),
    pytest.param(0, 0, 10, 3, [(0, 0)], id="single-point"),
    pytest.param(10, 0, 10, 3, [], id="empty"),
    pytest.param(0, 110_000, 10, 10_000, [(0, 99_990), (100_000, 110_000)], id="11001-points"),
])
def test_range_chunks(start: float, end: float, step: float, max_points: int,
                      expected: list[tuple[float, float]]) -> None:
    assert range_chunks(start_s=start, end_s=end, step_s=step, max_points=max_points) == expected


def test_query_range_chunks_and_merges(api: FakeApi) -> None:
    def answer(seen: Seen) -> Reply:
        lo, hi, step = (float(seen.params[k]) for k in ("start", "end", "step"))
        points = [[lo + k * step, str(lo + k * step)] for k in range(int((hi - lo) / step) + 1)]
        result = [{"metric": {"namespace": "a", "isvc": "x"}, "values": points}]
        if lo > 0:
            result.append({"metric": {"namespace": "a", "isvc": "late"}, "values": points})
        return 200, json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                              "result": result}}).encode()

    api.behaviour = answer
    c = PromClient(PrometheusConfig(url=api.url), max_points=4)
    result = c.query_range("q", start_s=0.0, end_s=90.0, step_s=10.0)
    starts = [(s.params["start"], s.params["end"]) for s in api.seen]
    assert starts == [("0.000", "30.000"), ("40.000", "70.000"), ("80.000", "90.000")]
    by_isvc = {r["metric"]["isvc"]: [p[0] for p in r["values"]] for r in result}
    assert by_isvc["x"] == [float(t) for t in range(0, 100, 10)]
    assert by_isvc["late"] == [float(t) for t in range(40, 100, 10)]


def test_query_range_rejects_vector_answer(api: FakeApi) -> None:
    api.behaviour = lambda seen: vector(("a", "x", "1"))
    with pytest.raises(SignalError) as e:
        client(api.url).query_range("q", start_s=0, end_s=10, step_s=5)
    assert e.value.cause_kind == "malformed"
