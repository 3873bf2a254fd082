"""The description's ``[synonyms]`` against the live index: does the index have the values
they name?

A synonym names a value as the index stores it, or as it reads once normalised
("Bachelor" for a stored "bachelor"), which is how query understanding resolves it
(``understand/gazetteer.py``). One search per kind: a ``terms`` aggregation restricted to
the declared values (in the forms a keyword normaliser may have stored them) says which
exist, and the kind's most common values give the "did you mean" of the fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ltrr_opensearch.catalog.description import TYPE_KIND, CatalogDescription
from ltrr_opensearch.understand.normalize import normalize_query

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

COMMON_VALUES = 1000  # values read per kind to suggest a fix


@dataclass(frozen=True)
class SynonymProblem:
    status: str  # "error": the value is not in the index; "warn": the synonym is never used
    detail: str
    fix: str


def synonym_field(description: CatalogDescription, kind: str) -> str | None:
    return description.type if kind == TYPE_KIND else description.facets.get(kind)


def _forms(text: str) -> set[str]:
    """How a keyword field may store a value: as written, lower-cased, or folded."""
    return {text, text.lower(), normalize_query(text)} - {""}


def check_synonyms(client: OpenSearch, description: CatalogDescription,
                   target: str) -> list[SynonymProblem]:
    """One problem per synonym whose value the index does not have (error) or whose phrase
    is itself another value of its kind (warn: the value wins, the synonym is never used)."""
    kinds = [k for k in description.synonyms if synonym_field(description, k)]
    if not kinds:
        return []
    lines: list[dict[str, Any]] = []
    for kind in kinds:
        field = synonym_field(description, kind)
        table = description.synonyms[kind]
        forms = set().union(*(_forms(t) for t in [*table.values(), *table]))
        lines += [{"index": target}, {"size": 0, "track_total_hits": False, "aggs": {
            "declared": {"terms": {"field": field, "include": sorted(forms),
                                   "size": len(forms)}},
            "common": {"terms": {"field": field, "size": COMMON_VALUES}}}}]
    responses = client.msearch(body=lines)["responses"]
    problems: list[SynonymProblem] = []
    where = f"edit {description.source}"
    for kind, response in zip(kinds, responses, strict=True):
        field = synonym_field(description, kind)
        if "error" in response:
            reason = response["error"].get("reason") if isinstance(response["error"], dict) \
                else response["error"]
            problems.append(SynonymProblem("error", f"[synonyms.{kind}] cannot be checked: "
                                           f"{reason}", f"{where} (docs/catalog-description.md)"))
            continue
        aggs = response["aggregations"]
        stored = {normalize_query(b["key"]): b["key"] for b in aggs["declared"]["buckets"]}
        stored.update({b["key"]: b["key"] for b in aggs["declared"]["buckets"]})
        common = [str(b["key"]) for b in aggs["common"]["buckets"]]
        for phrase, value in description.synonyms[kind].items():
            resolved = stored.get(value) or stored.get(normalize_query(value))
            if resolved is None:
                problems.append(SynonymProblem(
                    "error", f"description {description.source}: [synonyms.{kind}] {phrase!r} "
                             f"names {value!r}, a value field {field!r} of {target!r} does "
                             "not have", _fix(where, kind, phrase, value, common)))
                continue
            itself = stored.get(normalize_query(phrase))
            if itself is not None and itself != resolved:
                problems.append(SynonymProblem(
                    "warn", f"description {description.source}: [synonyms.{kind}] {phrase!r} "
                            f"is itself the value {itself!r} of {kind}: the value wins and the "
                            "synonym is never used", f"{where}: remove {phrase!r} from "
                                                     f"[synonyms.{kind}]"))
    return problems


def _fix(where: str, kind: str, phrase: str, value: str, common: list[str]) -> str:
    by_form = {normalize_query(v): v for v in reversed(common)}
    close = difflib.get_close_matches(normalize_query(value), list(by_form), n=1, cutoff=0.6)
    if close:
        return f"{where}: did you mean {phrase!r} = {by_form[close[0]]!r}?"
    if common:
        return (f"{where}: name one of the values of {kind} (e.g. "
                f"{', '.join(map(repr, common[:8]))})")
    return f"{where}: the index has no value of {kind} at all"
