"""gRPC server TLS / mTLS with certificates re-read on rotation (cert-manager, Secret updates).

KEDA connects with `enableTLS` and a TriggerAuthentication carrying `caCert`, `tlsClientCert`
and `tlsClientKey`. With `client_ca_file` set, clients must present a certificate signed by it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from scaler.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM paths: server cert and key; optionally the CA that client certificates must chain to."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def fingerprint(self) -> tuple[float, ...]:
        """mtimes and sizes of the files (changes when a Secret is rotated)."""
        parts: list[float] = []
        for path in (self.cert_file, self.key_file, self.client_ca_file):
            if path is not None:
                st = os.stat(path)
                parts += [st.st_mtime_ns, st.st_size, st.st_ino]
        return tuple(parts)


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"--{what} {path}: {e.strerror}") from e
    if b"-----BEGIN" not in data:
        raise ConfigError(f"--{what} {path}: not a PEM file")
    return data


def _certificate_config(files: TlsFiles) -> grpc.ServerCertificateConfiguration:
    cert = _read(files.cert_file, "tls-cert")
    key = _read(files.key_file, "tls-key")
    ca = _read(files.client_ca_file, "tls-client-ca") if files.client_ca_file else None
    return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


class _RotatingFetcher:
    """Called by gRPC at each handshake; returns a new configuration only when files changed."""

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._fingerprint = files.fingerprint()
        self.reloads = 0

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            current = self._files.fingerprint()
            if current == self._fingerprint:
                return None
            config = _certificate_config(self._files)
        except (OSError, ConfigError) as e:
            log.warning("TLS certificate reload failed, keeping the previous one: %s", e)
            return None
        self._fingerprint = current
        self.reloads += 1
        log.info("TLS certificates reloaded from %s", self._files.cert_file)
        return config


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials that pick up rotated files; mTLS iff `client_ca_file` is set."""
    initial = _certificate_config(files)
    return grpc.dynamic_ssl_server_credentials(
        initial, _RotatingFetcher(files),
        require_client_authentication=files.client_ca_file is not None)
