"""Train a ranker from what users did: logged searches + their events -> judgments -> model.

1. Every logged search that carries feature vectors (``query_attributes.ltr``, written by
   the search path when a ranker served it) and the events that joined it become one
   :class:`Impression` per search (what was shown, what was clicked).
2. A position-bias-aware click model (PBM by EM, or SDBN) turns the impressions into graded
   judgments per (query key, item), with a minimum evidence. Candidates a judged search
   logged but did not show become negatives (label 0, up to :data:`BELOW_PAGE_NEGATIVES`).
3. Each judged (search, item) pair becomes a training row with the feature vector the engine
   logged *at search time*: the catalog and memory may have changed since, and the model
   must learn from what it saw, not from a re-query.
4. The trainer (LambdaMART or linear) is fitted with a split by query, and the result is
   registered (not deployed: ``ltrr model deploy`` gates it). The gate's held-out judgments
   are those of query texts (keys) the model never trained on: searches of one text by many
   users are one query, and a model must beat the deployed one on queries it has not seen.
   (Split by search instead, every held-out search had its twins in training: on films,
   ``ltrr simulate judged`` watched 4 models in a row pass that gate with +0.000 to +0.015
   NDCG@10 and take never-searched queries from 0.92 to 0.56-0.70, ranking popular weak
   matches first; docs/benchmarks.md, "The learning curve on a judged set".)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.feedback.rewards import events_by_query
from ltrr_opensearch.rank import registry
from ltrr_opensearch.rank.clicks import PBM, SDBN
from ltrr_opensearch.rank.features import feature_set_for
from ltrr_opensearch.rank.judgments import DEFAULT_MIN_EVIDENCE, judgments
from ltrr_opensearch.rank.train import (
    XGBOOST_TYPE,
    TrainingResult,
    train_lambdamart,
    train_linear,
)
from ltrr_opensearch.rank.ubi import impression_from_events

CLICK_MODELS = {"pbm": PBM, "sdbn": SDBN}
TRAINERS: dict[str, Callable[..., TrainingResult]] = {"lambdamart": train_lambdamart,
                                                      "linear": train_linear}
# Refining the deployed model: a few shallow trees, each a small step, so that the clicks
# of a few hundred searches correct it without overriding what it learnt from far more.
REFINE_HYPERPARAMETERS = {"rounds": 40, "max_depth": 3, "learning_rate": 0.1,
                          "min_child_weight": 5.0}
HELDOUT_ROWS_CAP = 20_000  # rows kept with the entry for the deploy gate
BELOW_PAGE_NEGATIVES = 20  # unshown logged candidates per judged search, labelled 0
# The gate weighs query texts, not traffic: a head text searched 700 times would otherwise
# outvote the rest (and its near-identical rows fill the registry entry).
HELDOUT_SEARCHES_PER_KEY = 3


@dataclass(frozen=True)
class LoggedSearch:
    query_id: str
    query_key: str
    shown: tuple[str, ...]
    feature_set: str
    feature_names: tuple[str, ...]
    features: Mapping[str, list[float]]  # item id -> values in feature_names order


def logged_searches(client: OpenSearch, settings: Settings, since: datetime | None = None
                    ) -> list[LoggedSearch]:
    """Logged searches that carry feature vectors, oldest first."""
    query: dict[str, Any] = {"bool": {"filter": [{"exists": {"field": "q2e_key"}}]}}
    if since is not None:
        query["bool"]["filter"].append({"range": {"timestamp": {"gte": since.isoformat()}}})
    out: list[LoggedSearch] = []
    if not client.indices.exists(index=settings.ubi_queries_index):
        return out
    for hit in scan(client, settings.ubi_queries_index, query, ("timestamp", "query_id"),
                    ["query_id", "q2e_key", "query_response_hit_ids", "query_attributes.ltr"]):
        doc = hit["_source"]
        ltr = (doc.get("query_attributes") or {}).get("ltr")
        if not ltr or not doc.get("q2e_key"):
            continue
        out.append(LoggedSearch(doc["query_id"], doc["q2e_key"],
                                tuple(doc.get("query_response_hit_ids") or ()),
                                ltr.get("feature_set") or "", tuple(ltr["feature_names"]),
                                ltr["features"]))
    return out


def training_rows(client: OpenSearch, settings: Settings, searches: list[LoggedSearch], *,
                  click_model: str = "pbm", min_evidence: float = DEFAULT_MIN_EVIDENCE
                  ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Rows for the judged, shown items of the searches logged with the newest feature set."""
    if not searches:
        raise ValidationError("no logged searches carry feature vectors yet",
                              hint="searches log them once a ranker serves (`ltrr ltr init`)")
    if click_model not in CLICK_MODELS:
        raise ValidationError(f"click model must be one of {', '.join(CLICK_MODELS)}")
    newest = searches[-1].feature_names
    searches = [s for s in searches if s.feature_names == newest]
    events = events_by_query(client, settings, [s.query_id for s in searches])
    impressions = [impression_from_events(s.query_key, s.shown, events.get(s.query_id, ()),
                                          query_id=s.query_id) for s in searches if s.shown]
    model = CLICK_MODELS[click_model]().fit(impressions)
    grades = {(j.query_key, j.doc_id): j.grade for j in judgments(model, min_evidence)}
    rows = []
    for s in searches:
        judged = [(doc, grades[(s.query_key, doc)]) for doc in s.shown
                  if (s.query_key, doc) in grades and doc in s.features]
        if judged:
            judged += [(doc, 0) for doc in below_page(s, BELOW_PAGE_NEGATIVES)]
        rows += [{"query_id": s.query_id, "doc_id": doc, "label": grade,
                  "features": dict(zip(newest, s.features[doc], strict=True)),
                  "query_key": s.query_key} for doc, grade in judged]
    if not rows:
        raise ValidationError(f"no (search, item) pair has {min_evidence:g}+ examinations yet",
                              hint="wait for more traffic or lower --min-evidence")
    return rows, newest


def below_page(search: LoggedSearch, limit: int) -> list[str]:
    """Up to ``limit`` logged candidates the search did not show, a fixed pseudo-random pick
    of them: the negatives of a judged search. The serving ranker put them below the page;
    without them a model learns only to order a page of plausible items, and at serving time
    ranks the popular weak matches it never saw first (on films, with query texts held out,
    the gate still let a model through at +0.039 that took held-out attribute queries from
    0.97 to 0.29; with these negatives every such model was refused)."""
    shown = set(search.shown)
    unseen = [doc for doc in search.features if doc not in shown]
    return sorted(unseen, key=lambda doc: hashlib.sha1(
        f"{search.query_id}:{doc}".encode(), usedforsecurity=False).digest())[:limit]


def train_from_logs(client: OpenSearch, settings: Settings, *, trainer: str = "lambdamart",
                    click_model: str = "pbm", since: datetime | None = None,
                    min_evidence: float = DEFAULT_MIN_EVIDENCE, name: str | None = None,
                    seed: int = 0, refine: bool = True) -> registry.ModelEntry:
    """Train on the logged searches and register the model (not deployed). ``refine``: a
    LambdaMART model starts from the deployed one when that is a tree model over features
    that were logged (:func:`refinable`), else it learns from the clicks alone."""
    if trainer not in TRAINERS:
        raise ValidationError(f"trainer must be one of {', '.join(TRAINERS)}")
    searches = logged_searches(client, settings, since)
    rows, names = training_rows(client, settings, searches, click_model=click_model,
                                min_evidence=min_evidence)
    feature_set = _feature_set_for(client, settings, names, searches[-1].feature_set)
    trained, heldout = split_by_key(rows, seed)
    base = refinable(client, settings, names) if refine and trainer == "lambdamart" else None
    options: dict[str, Any] = {"seed": seed}
    if base is not None:
        options.update(start_from=base.definition, **REFINE_HYPERPARAMETERS)
    result = TRAINERS[trainer](trained, list(names), **options)
    heldout = few_searches_per_key(heldout, HELDOUT_SEARCHES_PER_KEY)[:HELDOUT_ROWS_CAP]
    stamp = datetime.now(timezone.utc)
    entry = registry.ModelEntry(
        name=name or f"ltrr_{trainer}_{stamp:%Y%m%d%H%M%S}_{uuid.uuid4().hex[:4]}",
        type=result.model_type, definition=result.definition,
        feature_set=feature_set["name"], feature_names=tuple(names),
        params=tuple(sorted({p for f in feature_set["features"] for p in f["params"]})),
        hyperparameters={**result.hyperparameters, "click_model": click_model,
                         "min_evidence": min_evidence,
                         **({"refines": base.name} if base is not None else {})},
        training_window={"since": since.isoformat() if since else None,
                         "until": stamp.isoformat(), "searches": len(searches),
                         "rows": len(rows)},
        metrics={k: {"model": vars(v.model), "baseline": vars(v.baseline),
                     "difference": vars(v.difference), "queries": v.queries}
                 for k, v in result.metrics.items()},
        heldout={"rows": heldout}, feature_normalizers=result.feature_normalizers)
    return registry.register(client, settings, entry, feature_set)


def refinable(client: OpenSearch, settings: Settings, names: Sequence[str]
              ) -> registry.ModelEntry | None:
    """The model retraining starts from: where the deployed model's refinements began
    (:func:`refinement_root`), when that is a tree model whose every feature was logged under
    ``names``."""
    current = registry.deployment(client, settings).model
    if current is None:
        return None
    root = refinement_root(registry.get_entry(client, settings, current),
                           lambda name: registry.get_entry(client, settings, name))
    if root is None or root.type != XGBOOST_TYPE or not set(root.feature_names) <= set(names):
        return None
    return root


def refinement_root(entry: registry.ModelEntry,
                    lookup: Callable[[str], registry.ModelEntry]) -> registry.ModelEntry | None:
    """The model ``entry``'s refinements started from (``entry`` itself if it refines none).
    Each retrain refines that one on every logged search, so a daily retrain never grows the
    model past its trees plus one refinement's. None when it was deleted from the registry."""
    seen = {entry.name}
    while (parent := entry.hyperparameters.get("refines")) and parent not in seen:
        try:
            entry = lookup(parent)
        except ValidationError:
            return None
        seen.add(entry.name)
    return entry


def few_searches_per_key(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The rows of at most ``limit`` searches (the first logged) of each query key."""
    kept: dict[str, list[str]] = {}
    out = []
    for row in rows:
        searches = kept.setdefault(row["query_key"], [])
        if row["query_id"] not in searches and len(searches) < limit:
            searches.append(row["query_id"])
        if row["query_id"] in searches:
            out.append(row)
    return out


def split_by_key(rows: list[dict[str, Any]], seed: int, fraction: float = 0.2
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to train on, the gate's held-out rows): about ``fraction`` of the query keys,
    seeded, with every search of them. With one key there is nothing to hold out (the gate
    then refuses: no held-out judgments)."""
    import random

    keys = sorted({r["query_key"] for r in rows})
    random.Random(seed).shuffle(keys)
    held = set(keys[:max(1, round(fraction * len(keys)))]) if len(keys) > 1 else set()
    return ([r for r in rows if r["query_key"] not in held],
            [r for r in rows if r["query_key"] in held])


def _feature_set_for(client: OpenSearch, settings: Settings, names: tuple[str, ...],
                     logged_set: str) -> dict[str, Any]:
    """The feature set body the logged vectors came from (the templates bound to the catalog
    in force, by version)."""
    current = feature_set_for(client, settings)
    if tuple(current.names) != names or current.store_name != logged_set:
        raise ValidationError(f"the logged vectors come from feature set {logged_set!r}, but "
                              f"the templates now give {current.store_name!r}",
                              hint="train once searches are logged with the current set")
    return current.to_store()


def scheduled_retrain(client: OpenSearch, settings: Settings, _summary: Any = None, *,
                      min_evidence: float = DEFAULT_MIN_EVIDENCE) -> dict[str, Any]:
    """The worker's retrain hook: train from the logs and deploy through the gate. Never
    raises for a model that is not ready or not better: it says so in its result."""
    from ltrr_opensearch.rank.gate import heldout_gate

    try:
        entry = train_from_logs(client, settings, min_evidence=min_evidence)
    except ValidationError as exc:
        return {"trained": None, "deployed": False, "reason": exc.message}
    try:
        current, why = registry.deploy(client, settings, entry.name, gate=heldout_gate)
    except ValidationError as exc:
        return {"trained": entry.name, "deployed": False, "reason": exc.message}
    return {"trained": entry.name, "deployed": current.model == entry.name, "reason": why}
