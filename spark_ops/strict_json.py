"""The one JSON decoder of the documents spark-ops judges: a key written twice in one object, at any
level, is refused.

RFC 8259 leaves which of two equal keys wins to the parser: a proxy, the platform's own dashboard and
spark-ops may each read a different value from the same body, so such a document proves nothing.
"""

from __future__ import annotations

import json
from typing import Any


class AmbiguousJson(ValueError):
    """A JSON object holds the same key twice; ``key`` names it. A ValueError, so any handler of bad
    JSON still fails closed; handlers that say why name the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} appears twice in one object")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise AmbiguousJson(key)
            seen.add(key)
    return document


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def loads(data: bytes | str) -> Any:
    """``data`` as JSON (as ``json.loads`` reads it); AmbiguousJson when an object repeats a key,
    ValueError or RecursionError when it is not JSON."""
    if isinstance(data, bytes):  # as json.loads reads bytes: UTF-8, -16 or -32
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return _DECODER.decode(data)


def raw_decode(text: str, index: int) -> tuple[Any, int]:
    """The JSON value starting at ``index`` and where it ends, refusing repeated keys as ``loads`` does."""
    return _DECODER.raw_decode(text, index)
