"""The scaler's exception hierarchy: every error a user can cause or meet has a class here."""

from __future__ import annotations


class ScalerError(Exception):
    """Base class of all isvc-scaler errors."""


class ConfigError(ScalerError):
    """policy.yaml (or a CLI option) is invalid; `errors` holds one message per problem."""

    def __init__(self, errors: list[str] | str, *, source: str = "") -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(self.errors))


class SignalError(ScalerError):
    """A signal query failed (transport, HTTP status, malformed answer); raised `from` the cause."""

    def __init__(self, message: str, *, signal: str = "", cause_kind: str = "error") -> None:
        self.signal = signal
        self.cause_kind = cause_kind
        super().__init__(f"{signal}: {message}" if signal else message)


class MetadataError(ScalerError):
    """ScaledObject trigger metadata is invalid; `key` names the offending metadata key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"metadata.{key}: {message}")


class StaleSnapshotError(ScalerError):
    """The latest snapshot is older than stale_after (or none exists yet): answer UNAVAILABLE."""


class DataError(ScalerError):
    """An input file (signals CSV, trace CSV) is malformed; the message names file and line."""
