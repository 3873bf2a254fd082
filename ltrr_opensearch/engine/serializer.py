"""opensearch-py's JSON serializer with orjson doing the work.

Every search, bulk and ``_msearch`` body goes through ``dumps`` and every response through
``loads``: with the stdlib ``json`` that was a visible share of the search path's own time
(encoding the rendered sub-searches, query vector included, and decoding up to hundreds of
hits). The output is the same JSON: what orjson does not encode natively (Decimal, numpy and
pandas values, integers beyond 64 bits) goes through opensearch-py's own ``default`` or,
failing that, its serializer unchanged; so does any body whose encoding holds a ``null``
(orjson writes NaN as null, json.dumps as NaN, which OpenSearch refuses). Behaviour never
depends on which path ran.
"""

from __future__ import annotations

from typing import Any

import orjson
from opensearchpy.exceptions import SerializationError
from opensearchpy.serializer import JSONSerializer

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonSerializer(JSONSerializer):
    """A drop-in ``JSONSerializer`` (mimetype ``application/json``) backed by orjson."""

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data  # already serialized, as opensearch-py passes strings through
        try:
            encoded = orjson.dumps(data, default=self.default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return super().dumps(data)  # same result or the same SerializationError
        if b"null" in encoded:
            # orjson writes NaN and infinities as null, where json.dumps writes NaN, which
            # OpenSearch refuses: a bad value must fail as loudly as before, not be stored
            # as a missing one. Bodies with a null anywhere take the stdlib path.
            return super().dumps(data)
        return encoded.decode("utf-8")

    def loads(self, s: Any) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)  # stdlib also accepts NaN/Infinity; else raises as before
        except TypeError as exc:
            raise SerializationError(s, exc) from None
