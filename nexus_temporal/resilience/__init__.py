"""Resilience measurement: the virtual-time simulator, fault scenarios, metrics, the
``nexus bench resilience`` matrix and ``nexus insights`` failure correlation
(docs/resilience.md#benchmark, docs/resilience.md#insights)."""
