"""What query understanding reads of the learned vocabulary (``feedback/vocab.py`` writes
it): the eligible phrases, the version that changes whenever they do, and the stored
decisions for `ltrr vocab show`.

    gazetteer = follow_learned(client, settings, gazetteer)   # one mget when nothing changed
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.feedback.config import VocabConfig
from ltrr_opensearch.feedback.indices import vocab_index
from ltrr_opensearch.understand.gazetteer import LearnedPhrase

if TYPE_CHECKING:
    from ltrr_opensearch.understand import Gazetteer

VERSION_ID = "version"  # the doc rewritten whenever what is learned changes


def learned_version(client: OpenSearch, settings: Settings) -> str | None:
    """The version of the learned vocabulary (None: nothing learned yet); one ``mget``."""
    try:
        doc = client.mget(index=vocab_index(settings), body={"ids": [VERSION_ID]})["docs"][0]
    except os_exc.NotFoundError:
        return None
    if "error" in doc:  # mget answers 200 with a per-document error
        error = doc["error"] if isinstance(doc["error"], dict) else {"reason": doc["error"]}
        if error.get("type") == "index_not_found_exception":
            return None  # nothing learned yet
        raise LtrrError(f"reading the learned vocabulary failed: {error.get('reason')}")
    return doc["_source"].get("version") if doc.get("found") else None


def read_learned(client: OpenSearch, settings: Settings,
                 config: VocabConfig | None = None) -> tuple[str | None, tuple[LearnedPhrase, ...]]:
    """``(version, learned phrases)``: the eligible phrases, most engaged first, at most
    ``[vocab] max_phrases`` (one search)."""
    config = config or VocabConfig.from_settings(settings)
    if not config.learn:
        return None, ()
    version = learned_version(client, settings)
    if version is None:
        return None, ()
    response = client.search(index=vocab_index(settings), body={
        "size": config.max_phrases, "track_total_hits": False,
        "_source": ["phrase", "kind", "value", "share", "engagement", "clients"],
        "sort": [{"engagement": "desc"}, {"phrase": "asc"}],
        "query": {"bool": {"filter": [{"term": {"record": "phrase"}},
                                      {"term": {"eligible": True}}]}}})
    return version, tuple(
        LearnedPhrase(doc["phrase"], doc["kind"], doc["value"], float(doc["share"]),
                      float(doc["engagement"]), int(doc["clients"]))
        for doc in (h["_source"] for h in response["hits"]["hits"]))


def follow_learned(client: OpenSearch, settings: Settings, gazetteer: Gazetteer) -> Gazetteer:
    """``gazetteer`` with the learned phrases of now: the same object when nothing changed
    since it was built (one ``mget``), else a copy sharing its base vocabulary."""
    version = learned_version(client, settings) if VocabConfig.from_settings(settings).learn \
        else None
    if version == gazetteer.learned_version:
        return gazetteer
    version, phrases = read_learned(client, settings)
    return gazetteer.with_learned(phrases, version)


def phrase_decisions(client: OpenSearch, settings: Settings,
                     phrases: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Stored decisions: of the given phrases (normalised), else every eligible one."""
    from ltrr_opensearch.understand.normalize import normalize_query

    wanted = [normalize_query(p) for p in phrases]
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"record": "phrase"}}]}}
    query["bool"]["filter"].append({"terms": {"phrase": wanted}} if wanted
                                   else {"term": {"eligible": True}})
    try:
        return [h["_source"] for h in scan(client, vocab_index(settings), query, ("phrase",))]
    except os_exc.NotFoundError:
        return []
