"""Check a feature set against the live cluster: the LTR store accepts every template, and a
logging search on the catalog gives every feature a value for every candidate.

What ``ltrr templates validate --features`` runs. The store validates each template when the
set is uploaded (parse, render with placeholder params, parse the query); the searches then
render them with real params from sample queries, as serving will.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.rank.features import FeatureSet, sltr_params
from ltrr_opensearch.rank.ranker import LOG_NAME, Ranker

SAMPLE_QUERIES = ("love", "rock 1990s", "the best of", "beethovn")
RENDER_VAR = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
RENDER_JSON = re.compile(r"\{\{#toJson\}\}\s*([A-Za-z_]\w*)\s*\{\{/toJson\}\}")


def preview(template: str | dict, params: dict[str, Any]) -> str:
    """The template with these params spliced in, for reading: JSON-escaped strings for
    ``{{x}}``, JSON for ``{{#toJson}}x{{/toJson}}``. The engine does the real rendering."""
    import json

    text = template if isinstance(template, str) else json.dumps(template)
    text = RENDER_JSON.sub(lambda m: json.dumps(params.get(m.group(1))), text)
    return RENDER_VAR.sub(lambda m: json.dumps(str(params.get(m.group(1), "")))[1:-1], text)


def validate_feature_set(client: OpenSearch, settings: Settings, feature_set: FeatureSet,
                         understand: Callable[[str], Any],
                         embed: Callable[[str], Sequence[float]] | None,
                         queries: Sequence[str] = SAMPLE_QUERIES) -> dict[str, list[str]]:
    """Problems per feature (an empty list: ok); ``"*"`` holds problems of the whole set."""
    from ltrr_opensearch.rank.setup import ensure_feature_set, ensure_store

    problems: dict[str, list[str]] = {name: [] for name in feature_set.names}
    problems["*"] = []
    try:
        ensure_store(client)
        ensure_feature_set(client, feature_set)
    except LtrrError as exc:
        problems["*"].append(exc.message)
        return problems
    ranker = Ranker.logging_only(feature_set.store_name, tuple(feature_set.names),
                                 frozenset(feature_set.params))
    for text in queries:
        u = understand(text)
        vector = embed(u.normalized or text) if embed and "query_vector" in ranker.params else None
        if "query_vector" in ranker.params and vector is None:
            problems["*"].append("the set needs a query vector but the catalog has no embedder")
            return problems
        body = {"size": 5, "query": {"match_all": {}},
                "rescore": ranker.rescore(sltr_params(u, q2e_key=None, vector=vector,
                                                      needed=set(ranker.params)), 5),
                "ext": ranker.log_ext()}
        try:
            hits = client.search(index=settings.catalog_index, body=body)["hits"]["hits"]
        except os_exc.TransportError as exc:
            problems["*"].append(f"query {text!r}: {exc.status_code} {exc.error}: "
                                 f"{_reason(exc)}")
            continue
        for hit in hits:
            logged = {v["name"] for entry in hit.get("fields", {}).get("_ltrlog", [])
                      for v in entry.get(LOG_NAME, []) if "value" in v}
            for name in set(feature_set.names) - logged:
                problems[name].append(f"no value for {hit['_id']} on query {text!r}")
    return problems


def _reason(exc: os_exc.TransportError) -> str:
    from ltrr_opensearch.rank.registry import reason

    return reason(exc)
