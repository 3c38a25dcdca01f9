"""Cases that fail on purpose: each a deliberate difference from Flash, explained in docs/flash-differences.md.

A failing case listed here is reported as "difference" with this reason instead of "failed"; a listed case that
passes is reported as passed (the entry is then stale and should go).
"""

DIFFERENCES: dict[str, str] = {}
