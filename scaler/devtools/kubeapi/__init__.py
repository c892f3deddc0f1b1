"""An emulated Kubernetes API server over real HTTP on 127.0.0.1, for the real `kubernetes`
client (through a generated kubeconfig).

Emulated: the REST paths of the resources below (core `/api/v1`, groups `/apis/G/V`),
namespaced and all-namespaces collections; list with `resourceVersion`, `labelSelector`
(`key`, `key=value`, comma = and), `fieldSelector` (`metadata.name`, `metadata.namespace`),
`limit` + `continue` (410 when the continue token's version was compacted); watch
(`?watch=1`) as a chunked stream of JSON lines from a resourceVersion (ADDED for everything
without one), BOOKMARK events with `allowWatchBookmarks`, `timeoutSeconds`, and an ERROR
event with a 410 Status for a compacted resourceVersion (`compact()`); create (409
AlreadyExists), update (PUT) and JSON merge patch (RFC 7386) with resourceVersion
preconditions (409 Conflict), delete with uid/resourceVersion preconditions; uid,
resourceVersion, generation, creationTimestamp; garbage collection of dependents through
ownerReferences (background, immediate); Leases as plain objects; `pause()` / `resume()`
(the server goes away: listener closed, every connection cut; comes back on the same port,
state kept). Every request is logged (verb, group, resource, namespace, name, user agent)
for the RBAC test.

Not emulated: authentication and authorization (the token is not checked; RBAC is checked
by the test against the log), admission, validation against schemas (ScaledObjects are
checked against KEDA's schema separately), strategic-merge and server-side apply, JSON
patch, subresources (`/status`, `/scale`), field managers, finalizers and foreground
deletion, watch cache semantics of `resourceVersionMatch`, protobuf, HTTP/2, TLS.
"""

from scaler.devtools.kubeapi.server import ApiServer
from scaler.devtools.kubeapi.store import RESOURCES, ApiError, Request, Store, merge_patch

__all__ = ["RESOURCES", "ApiError", "ApiServer", "Request", "Store", "merge_patch"]
