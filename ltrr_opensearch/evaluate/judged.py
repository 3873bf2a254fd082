"""A judged query set: what a team knows is relevant for the searches it cares about.

One JSON object per line (blank lines are skipped)::

    {"query": "trade schools in ohio", "kind": "attribute", "relevant": {"u-123": 3, "u-9": 1}}

``query`` is the text a user types, ``kind`` an optional label results are broken down by
(``known_item``, ``typo``...; default :data:`NO_KIND`), ``relevant`` maps catalog ids to
grades (integers 0..:data:`MAX_GRADE`, at least one above 0). Other keys are ignored, so
the files ``evaluate/querysets.py`` writes are judged files as they are.

:func:`read_judged` reports every problem of a file at once, with its line, before anything
runs. :func:`drop_unknown_ids` removes ids the catalog does not hold (and queries left with
nothing relevant). :func:`split_holdout` sets queries aside that the simulated sessions
never search, per kind, keeping queries with the same memory key on one side (the memory
learns per key: a held-out query sharing a key with a trained one would not be held out).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.errors import ConfigError, ValidationError

NO_KIND = "any"
MAX_GRADE = 10
MAX_KIND_CHARS = 64
MIN_SIDE = 5  # fewer held-out (or session) queries than this make no curve worth reading
SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class JudgedQuery:
    line: int  # 1-based line of the file
    query: str
    kind: str
    relevant: Mapping[str, int]
    key: str  # the memory's key of the query (normalised text)

    @property
    def best(self) -> str:
        """The id with the highest grade (ties: the first listed)."""
        return max(self.relevant, key=lambda i: self.relevant[i])


def read_judged(path: str | Path) -> list[JudgedQuery]:
    """Every query of the file, or a ValidationError listing each bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"judged file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"judged file {str(path)!r} cannot be read: {exc}") from None
    queries, problems = parse_judged(text.splitlines())
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS \
            else ""
        raise ValidationError(f"{path}: {len(problems)} bad line(s): {shown}{more}",
                              hint='each line: {"query": "...", "kind": "...", '
                                   '"relevant": {"<id>": <grade 0-10>, ...}}')
    if not queries:
        raise ValidationError(f"{path} holds no judged query")
    return queries


def parse_judged(lines: Iterable[str]) -> tuple[list[JudgedQuery], list[str]]:
    """(queries, problems), each problem naming its line."""
    from ltrr_opensearch.feedback.keys import query_key

    queries: list[JudgedQuery] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        problem = line_problem(raw)
        if problem is None:
            try:
                key = query_key(raw["query"])[1]
            except ValueError:
                problem = f"query {raw['query'][:80]!r} has no searchable word"
        if problem is not None:
            problems.append(f"line {number}: {problem}")
            continue
        kind = raw.get("kind") or NO_KIND
        relevant = {str(k): int(v) for k, v in raw["relevant"].items()}
        queries.append(JudgedQuery(number, raw["query"], kind, relevant, key))
    return queries, problems


def line_problem(raw: Any, max_grade: int = MAX_GRADE) -> str | None:
    """What is wrong with one parsed line of a judged file (None: nothing); grades run
    from 0 to ``max_grade``."""
    if not isinstance(raw, dict):
        return f"expected a JSON object, got {type(raw).__name__}"
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        return '"query" must be a non-empty string'
    kind = raw.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind.strip()
                             or len(kind) > MAX_KIND_CHARS):
        return f'"kind" must be a short non-empty string, got {kind!r}'
    relevant = raw.get("relevant")
    if not isinstance(relevant, dict) or not relevant:
        return '"relevant" must be a non-empty object of id -> grade'
    for doc, grade in relevant.items():
        if not doc.strip():
            return '"relevant" has an empty id'
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= max_grade:
            return f'grade of {doc!r} must be an integer from 0 to {max_grade}, got {grade!r}'
    if not any(g > 0 for g in relevant.values()):
        return '"relevant" has no id with a grade above 0'
    return None


@dataclass(frozen=True)
class UnknownIds:
    """What :func:`drop_unknown_ids` removed."""

    ids: tuple[str, ...]  # judged ids the catalog does not hold, sorted
    dropped_lines: tuple[int, ...]  # queries left with nothing relevant

    def describe(self) -> str:
        if not self.ids:
            return "every judged id is in the catalog"
        sample = ", ".join(self.ids[:5]) + (", ..." if len(self.ids) > 5 else "")
        dropped = (f"; {len(self.dropped_lines)} query(ies) left with nothing relevant were "
                   f"dropped (line(s) {', '.join(map(str, self.dropped_lines[:10]))}"
                   f"{', ...' if len(self.dropped_lines) > 10 else ''})"
                   if self.dropped_lines else "")
        return f"{len(self.ids)} judged id(s) are not in the catalog ({sample}){dropped}"


def drop_unknown_ids(queries: Sequence[JudgedQuery], known: set[str]
                     ) -> tuple[list[JudgedQuery], UnknownIds]:
    """The queries without the ids ``known`` lacks; a query left with no grade above 0 goes."""
    unknown = sorted({i for q in queries for i in q.relevant if i not in known})
    if not unknown:
        return list(queries), UnknownIds((), ())
    kept, dropped = [], []
    for q in queries:
        relevant = {i: g for i, g in q.relevant.items() if i in known}
        if any(g > 0 for g in relevant.values()):
            kept.append(replace(q, relevant=relevant))
        else:
            dropped.append(q.line)
    return kept, UnknownIds(tuple(unknown), tuple(dropped))


def catalog_ids(client: OpenSearch, index: str, id_field: str | None, ids: Iterable[str],
                chunk: int = 1000) -> set[str]:
    """Which of ``ids`` the catalog holds: document ids (``id_field`` None) or values of a
    keyword id field. Reads only."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), chunk):
        part = wanted[start:start + chunk]
        if id_field is None:
            body: dict[str, Any] = {"query": {"ids": {"values": part}}, "_source": False}
        else:
            body = {"query": {"terms": {id_field: part}}, "_source": False,
                    "docvalue_fields": [id_field]}
        body.update(size=2 * len(part), track_total_hits=False)
        for hit in client.search(index=index, body=body)["hits"]["hits"]:
            if id_field is None:
                found.add(hit["_id"])
            else:
                found.update(str(v) for v in hit.get("fields", {}).get(id_field, []))
    return found & set(wanted)


def split_holdout(queries: Sequence[JudgedQuery], fraction: float, seed: int
                  ) -> tuple[list[JudgedQuery], list[JudgedQuery]]:
    """(session queries, held-out queries): about ``fraction`` of each kind's memory keys
    held out (at least one per kind that has two keys), seeded."""
    if not 0 < fraction < 1:
        raise ConfigError(f"--holdout must be between 0 and 1 (exclusive), got {fraction}")
    by_key: dict[str, list[JudgedQuery]] = defaultdict(list)
    for q in queries:
        by_key[q.key].append(q)
    by_kind: dict[str, list[str]] = defaultdict(list)  # a key counts for its first line's kind
    for key, same in by_key.items():
        by_kind[same[0].kind].append(key)
    train: list[JudgedQuery] = []
    held: list[JudgedQuery] = []
    for kind in sorted(by_kind):
        keys = sorted(by_kind[kind])
        random.Random(f"{seed}:{kind}").shuffle(keys)
        n = round(fraction * len(keys))
        n = min(max(n, 1), len(keys) - 1) if len(keys) >= 2 else 0
        for i, key in enumerate(keys):
            (held if i < n else train).extend(by_key[key])
    if len(held) < MIN_SIDE or len(train) < MIN_SIDE:
        raise ValidationError(
            f"too few queries for --holdout {fraction:g}: {len(queries)} judged queries "
            f"({len({q.key for q in queries})} distinct) give {len(held)} held-out and "
            f"{len(train)} session queries; both need at least {MIN_SIDE}",
            hint="judge more queries, or change --holdout")
    return sorted(train, key=lambda q: q.line), sorted(held, key=lambda q: q.line)


def kinds_of(queries: Iterable[JudgedQuery]) -> Counter[str]:
    return Counter(q.kind for q in queries)
