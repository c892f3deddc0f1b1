"""TLS and mTLS for the gRPC server, as KEDA's enableTLS / caCert / tlsClientCert use it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.engine.store import SnapshotStore
from scaler.errors import ConfigError
from scaler.metrics import ScalerMetrics
from scaler.serving.external_scaler import ExternalScalerService, GrpcServer, start_grpc_server
from scaler.serving.tls import TlsFiles, server_credentials
from tests.fakes import FakeClock
from tests.serving.certs import Pki, make_pki
from tests.serving.conftest import StaticConfig

REF = pb.ScaledObjectRef(name="llama-predictor", namespace="prod")


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pki]:
    base = tmp_path_factory.mktemp("pki")
    return {name: make_pki(base, name) for name in ("good", "rogue", "next")}


async def _start(files: TlsFiles) -> GrpcServer:
    service = ExternalScalerService(store=SnapshotStore(clock=FakeClock()), config=StaticConfig,
                                    metrics=ScalerMetrics(CollectorRegistry()))
    return await start_grpc_server(service, address="127.0.0.1:0",
                                   credentials=server_credentials(files))


@pytest.fixture
async def mtls_server(
    pkis: dict[str, Pki], tmp_path: Path
) -> AsyncIterator[tuple[GrpcServer, TlsFiles]]:
    good = pkis["good"]
    files = TlsFiles(cert_file=tmp_path / "tls.crt", key_file=tmp_path / "tls.key",
                     client_ca_file=tmp_path / "ca.crt")
    shutil.copy(good.server_cert, files.cert_file)
    shutil.copy(good.server_key, files.key_file)
    shutil.copy(good.ca, files.client_ca_file)  # type: ignore[arg-type]
    server = await _start(files)
    yield server, files
    await server.stop(0.2)


async def _spec(port: int, *, ca: Path, cert: Path | None = None, key: Path | None = None
                ) -> pb.GetMetricSpecResponse:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None)
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", creds) as channel:
        stub = pb_grpc.ExternalScalerStub(channel)
        return await stub.GetMetricSpec(REF, timeout=5)


async def test_client_with_valid_certificate_is_served(mtls_server, pkis) -> None:  # type: ignore[no-untyped-def]
    server, _ = mtls_server
    good = pkis["good"]
    reply = await _spec(server.port, ca=good.ca, cert=good.client_cert, key=good.client_key)
    assert reply.metricSpecs[0].metricName == "desired-replicas"


@pytest.mark.parametrize("client", ["none", "rogue"], ids=["no-client-cert", "cert-from-other-ca"])
async def test_client_without_valid_certificate_is_refused(mtls_server, pkis, client) -> None:  # type: ignore[no-untyped-def]
    server, _ = mtls_server
    good, rogue = pkis["good"], pkis["rogue"]
    cert, key = (None, None) if client == "none" else (rogue.client_cert, rogue.client_key)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _spec(server.port, ca=good.ca, cert=cert, key=key)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_plaintext_client_is_refused(mtls_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = mtls_server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pb_grpc.ExternalScalerStub(channel).GetMetricSpec(REF, timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rotated_certificates_are_picked_up(mtls_server, pkis) -> None:  # type: ignore[no-untyped-def]
    server, files = mtls_server
    nxt = pkis["next"]
    for src, dst in ((nxt.server_cert, files.cert_file), (nxt.server_key, files.key_file),
                     (nxt.ca, files.client_ca_file)):
        tmp = dst.with_suffix(".new")
        shutil.copy(src, tmp)
        os.replace(tmp, dst)
    reply = await _spec(server.port, ca=nxt.ca, cert=nxt.client_cert, key=nxt.client_key)
    assert reply.metricSpecs[0].targetSize == 1
    good = pkis["good"]
    with pytest.raises(grpc.aio.AioRpcError):
        await _spec(server.port, ca=good.ca, cert=good.client_cert, key=good.client_key)


async def test_tls_without_client_ca_serves_any_client(pkis, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = pkis["good"]
    server = await _start(TlsFiles(cert_file=good.server_cert, key_file=good.server_key))
    try:
        reply = await _spec(server.port, ca=good.ca)
        assert reply.metricSpecs[0].targetSizeFloat == 1.0
    finally:
        await server.stop(0.2)


def test_missing_or_non_pem_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("hello")
    (tmp_path / "ok.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"--tls-cert \S*nope\.pem: No such file"):
        server_credentials(TlsFiles(cert_file=tmp_path / "nope.pem", key_file=tmp_path / "bad.pem"))
    with pytest.raises(ConfigError, match=r"--tls-key \S*bad\.pem: not a PEM file"):
        server_credentials(TlsFiles(cert_file=tmp_path / "ok.pem", key_file=tmp_path / "bad.pem"))
