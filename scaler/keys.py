"""IsvcKey: how every layer names one InferenceService."""

IsvcKey = tuple[str, str]
"""(namespace, isvc name)."""
