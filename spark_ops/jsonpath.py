"""A dotted path into a JSON document (``slo.latencyP95``, ``items.0.name``), shared by the check kinds
and the PM2 client: ``MISSING`` when nothing is there, never an exception."""

from __future__ import annotations

from typing import Any

MISSING = object()


def lookup(document: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``slo.latencyP95``, ``items.0.name``) or ``MISSING``."""
    found = document
    for part in dotted.split("."):
        if isinstance(found, dict) and part in found:
            found = found[part]
        # ASCII digits only: "²".isdigit() holds but int() refuses it, and "٢" is no JSON array index.
        elif isinstance(found, list) and part.isascii() and part.isdigit() and int(part) < len(found):
            found = found[int(part)]
        else:
            return MISSING
    return found
