"""Test PKI made with the openssl CLI: a CA, a server cert for 127.0.0.1, client certs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Pki:
    """Paths of one CA and the certificates it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path, name: str) -> Pki:
    """A CA named `name` with a server cert (SAN 127.0.0.1, localhost) and a client cert."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem", "-days", "2",
         "-subj", f"/CN={name}-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for role in ("server", "client"):
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}-{role}.key", "-out", f"{name}-{role}.csr",
             "-subj", f"/CN={name}-{role}", cwd=d)
        extra = ["-extfile", "san.ext"] if role == "server" else []
        _run("x509", "-req", "-in", f"{name}-{role}.csr", "-CA", f"{name}-ca.pem",
             "-CAkey", f"{name}-ca.key", "-CAcreateserial", "-days", "2",
             "-out", f"{name}-{role}.pem", *extra, cwd=d)
    return Pki(ca=d / f"{name}-ca.pem", server_cert=d / f"{name}-server.pem",
               server_key=d / f"{name}-server.key", client_cert=d / f"{name}-client.pem",
               client_key=d / f"{name}-client.key")
