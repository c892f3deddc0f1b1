"""ScaledObject trigger metadata → (namespace, isvc, policy), validated (DESIGN §4); pure.

Nothing from a ScaledObject reaches PromQL: queries come only from policy.yaml, and the
identity values are checked to be Kubernetes DNS labels before they are used as keys.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from scaler.errors import MetadataError
from scaler.keys import IsvcKey

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
"""RFC 1123 label: what Kubernetes allows for namespace and InferenceService names."""
POLICY_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True)
class ScaledRef:
    """The ISVC a ScaledObject scales and the policy it asks for."""

    namespace: str
    isvc: str
    policy: str

    @property
    def key(self) -> IsvcKey:
        """(namespace, isvc)."""
        return (self.namespace, self.isvc)


def parse_ref(
    *, name: str, namespace: str, metadata: Mapping[str, str], policies: Collection[str]
) -> ScaledRef:
    """Validate a ScaledObjectRef; raise MetadataError naming the key at fault.

    Defaults: `isvc` = ScaledObject name without a trailing `-predictor`; `namespace` = the
    ScaledObject's; `policy` = `default`. Unknown keys (e.g. `scalerAddress`) are ignored.
    """
    isvc = metadata.get("isvc") or _strip_suffix(name, "-predictor")
    ns = metadata.get("namespace") or namespace
    policy = metadata.get("policy") or "default"
    _check_dns_label("isvc" if "isvc" in metadata else "name", isvc)
    _check_dns_label("namespace", ns)
    if not POLICY_NAME.fullmatch(policy):
        raise MetadataError("policy", f"{_show(policy)} is not a valid policy name")
    if policy not in policies:
        known = ", ".join(sorted(policies))
        raise MetadataError("policy", f"{_show(policy)} is not defined in policy.yaml "
                                      f"(defined: {known})")
    return ScaledRef(namespace=ns, isvc=isvc, policy=policy)


def _strip_suffix(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def _check_dns_label(key: str, value: str) -> None:
    if not value:
        raise MetadataError(key, "is empty; set it or name the ScaledObject after the ISVC")
    if not DNS_LABEL.fullmatch(value):
        raise MetadataError(
            key, f"{_show(value)} is not a Kubernetes name (RFC 1123 label: ≤ 63 characters "
                 "of a-z, 0-9 and '-', starting and ending alphanumeric)")


def _show(value: str) -> str:
    """Quote a user value for an error message, truncated and with non-printables escaped."""
    cut = value[:_SHOWN_CHARS] + ("…" if len(value) > _SHOWN_CHARS else "")
    return repr(cut) + (f" ({len(value)} characters)" if len(value) > _SHOWN_CHARS else "")
