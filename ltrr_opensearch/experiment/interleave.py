"""Team-draft interleaving of two rankers (two model slots) in one result list.

For each search both rankers order the candidates; the shown list is drafted from the two
rankings as in team-draft interleaving (each round a coin decides which team picks first;
each team adds its best result not already shown), and every shown result remembers its
team. A click credits the team of the clicked result; the ranker whose team got more
clicks wins the search (equal: a tie). Each user compares both rankers on the same query,
so the comparison needs far fewer searches than an A/B test, where two groups of users
see one ranker each (``benchmarks/bench_interleaving.py`` measures how many fewer).

:class:`Interleaver` serves interleaved searches through the real pipeline and logs them
as UBI queries with ``query_attributes.variant = "NAME/interleaved"`` and
``query_attributes.interleave = {"a": SLOT, "b": SLOT, "teams": [...]}``;
:func:`interleave_report` turns those and their click events into a win rate with a 95%
interval (bootstrap over users) and a sign test.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ltrr_opensearch.errors import LtrrError


def team_draft(a: Sequence[str], b: Sequence[str], k: int, rng: np.random.Generator
               ) -> tuple[list[str], list[str]]:
    """(interleaved ids, team of each: "a" or "b") of at most ``k`` results."""
    shown: list[str] = []
    teams: list[str] = []
    seen: set[str] = set()
    count = {"a": 0, "b": 0}
    lists = {"a": list(a), "b": list(b)}
    cursor = {"a": 0, "b": 0}
    while len(shown) < k:
        if count["a"] < count["b"] or (count["a"] == count["b"] and rng.random() < 0.5):
            order = ("a", "b")
        else:
            order = ("b", "a")
        picked = False
        for team in order:
            items = lists[team]
            while cursor[team] < len(items) and items[cursor[team]] in seen:
                cursor[team] += 1
            if cursor[team] < len(items):
                item = items[cursor[team]]
                shown.append(item)
                teams.append(team)
                seen.add(item)
                count[team] += 1
                picked = True
                break
        if not picked:
            break
    return shown, teams


def winner(teams: Sequence[str], clicked: Sequence[int]) -> str | None:
    """"a", "b" or None (a tie, or no click) from the clicked positions (0-based)."""
    credit = {"a": 0, "b": 0}
    for position in set(clicked):
        if 0 <= position < len(teams):
            credit[teams[position]] += 1
    if credit["a"] == credit["b"]:
        return None
    return "a" if credit["a"] > credit["b"] else "b"


class _SlotFlags:
    """The flags of one interleaved team: the service's flags without any experiment's
    overrides (kill switches, modes and budgets still apply), and its ranker slot."""

    def __init__(self, base: Any, slot: str, ranker: Any, pipeline: Any) -> None:
        self.base, self.slot, self.fixed, self.pipeline = base, slot, ranker, pipeline

    def resolve(self, client_id: str | None) -> Any:
        from ltrr_opensearch.experiment.flags import Variant

        variant = (self.base.resolve(client_id, experiments=False) if self.base is not None
                   else Variant())
        return replace(variant, ranker_model=self.slot)

    def selector(self, variant: Any, default: Any, client: Any, settings: Any) -> Any:
        return (self.base.selector(variant, default, client, settings)
                if self.base is not None else default)

    def ranker(self, variant: Any, deployed: Any, client: Any, settings: Any) -> Any:
        # "deployed" follows the service's ranker, which a deploy or rollback replaces.
        return self.pipeline.ranker if self.slot == "deployed" else self.fixed


@dataclass
class Interleaver:
    """Serves team-draft interleaved searches of two model slots through one pipeline.

    A slot is a registry model name, ``deployed`` or ``none`` (fusion), as in the
    ``ranker-model`` flag. Each search plans once (the bandit chooses the strategies for
    team a, and team b runs the same plan), runs the funnel once per slot (two
    ``_msearch`` calls) and logs one UBI record of the interleaved list. Safe to share
    between request threads: the draft's coin flips are seeded by the request id."""

    pipeline: Any
    name: str
    slot_a: str
    slot_b: str
    seed: int = 0

    def __post_init__(self) -> None:
        from ltrr_opensearch.experiment.flags import slot_ranker

        self._pipelines = {}
        for team, slot in (("a", self.slot_a), ("b", self.slot_b)):
            ranker, problem = slot_ranker(slot, self.pipeline.ranker, self.pipeline.client,
                                          self.pipeline.settings)
            if problem:
                raise LtrrError(f"interleaving {self.name!r}: {problem}")
            flags = _SlotFlags(self.pipeline.flags, slot, ranker, self.pipeline)
            self._pipelines[team] = replace(self.pipeline, flags=flags, search_log=None,
                                            ranker=ranker)

    def search(self, query: str, *, k: int = 10, client_id: str | None = None,
               session_id: str | None = None, request_id: str | None = None, now: Any = None,
               seed: int | None = None, user_features: Any = None) -> tuple[Any, list[str]]:
        """(the first slot's response with ``shown`` replaced by the interleaved list,
        the team of each shown result)."""
        import zlib

        from ltrr_opensearch.pipeline import search_record

        ra = self._pipelines["a"].search(query, k=k, client_id=client_id, session_id=session_id,
                                         request_id=request_id, now=now, seed=seed, log=False,
                                         user_features=user_features)
        rb = self._pipelines["b"].search(query, k=k, client_id=client_id, session_id=session_id,
                                         request_id=ra.request_id, now=now, seed=seed,
                                         log=False, user_features=user_features,
                                         strategies=[(c.arm, c.k) for c in ra.choices])
        rng = np.random.default_rng([self.seed, zlib.crc32(ra.request_id.encode())])
        ids, teams = team_draft([c.id for c in ra.candidates], [c.id for c in rb.candidates],
                                k, rng)
        by_id = {c.id: c for c in (*rb.candidates, *ra.candidates)}
        response = replace(ra, shown=tuple(by_id[i] for i in ids),
                           candidates=tuple({**{c.id: c for c in rb.candidates},
                                             **{c.id: c for c in ra.candidates}}.values()),
                           took_ms=ra.took_ms + rb.took_ms)
        if self.pipeline.search_log is not None:
            record = search_record(response, client_id=client_id, session_id=session_id,
                                   timestamp=now, variant=f"{self.name}/interleaved")
            record = replace(record, extra={**record.extra, "interleave": {
                "a": self.slot_a, "b": self.slot_b, "teams": teams}})
            self.pipeline.search_log(record)
        return response, teams


class Interleavers:
    """The service's interleaving experiments, by the ``interleave`` flag: one
    :class:`Interleaver` per (name, a, b), built on first use. A slot that cannot be
    served is counted as a flag problem and the user gets the ordinary search; it is
    tried again after ``retry_seconds`` (a model registered later starts serving)."""

    def __init__(self, flags: Any, retry_seconds: float = 60.0) -> None:
        self.flags = flags
        self.retry_seconds = retry_seconds
        self.built: dict[tuple[str, str, str], tuple[Interleaver | None, float]] = {}
        self._lock = threading.Lock()

    def for_request(self, pipeline: Any, client_id: str | None) -> Interleaver | None:
        import time

        spec = self.flags.interleaving(client_id)
        if spec is None:
            return None
        now = time.monotonic()
        with self._lock:
            found, when = self.built.get(spec, (None, -math.inf))
            if found is not None and found.pipeline is pipeline:
                return found
            if found is None and now - when < self.retry_seconds:
                return None
        try:
            found = Interleaver(pipeline, *spec)
        except LtrrError as exc:
            self.flags._problem("interleave", exc.message)
            found = None
        with self._lock:
            self.built[spec] = (found, now)
        return found


@dataclass(frozen=True)
class InterleaveReport:
    name: str
    slot_a: str
    slot_b: str
    searches: int
    users: int
    wins_a: int
    wins_b: int
    ties: int
    win_rate_b: float  # of decided searches, the share ranker b won
    low: float
    high: float
    p_value: float  # two-sided sign test of wins_b vs wins_a

    def to_markdown(self) -> str:
        verdict = ("b wins" if self.low > 0.5 else "a wins" if self.high < 0.5
                   else "no detectable preference")
        return "\n".join([
            f"# Interleaving `{self.name}`: a = `{self.slot_a}`, b = `{self.slot_b}`", "",
            "| searches | users | a wins | b wins | ties | b win rate | 95% CI | sign test p |",
            "|---|---|---|---|---|---|---|---|",
            f"| {self.searches} | {self.users} | {self.wins_a} | {self.wins_b} | {self.ties} | "
            f"{self.win_rate_b:.3f} | [{self.low:.3f}, {self.high:.3f}] | {self.p_value:.4f} |",
            "", f"Verdict: {verdict} (the interval excludes 0.5, users resampled).", ""])


def interleave_report(client: Any, settings: Any, name: str, rounds: int = 2000,
                      seed: int = 0) -> InterleaveReport:
    """Win rate of slot b over slot a from the logged interleaved searches and clicks."""
    from ltrr_opensearch.experiment.report import _scan

    docs = list(_scan(client, settings.ubi_queries_index,
                      {"term": {"query_attributes.variant": f"{name}/interleaved"}},
                      ["query_id", "client_id", "query_attributes.interleave"], "query_id"))
    if not docs:
        raise LtrrError(f"no interleaved search of {name!r} is logged")
    slots = docs[0]["query_attributes"]["interleave"]
    clicks: dict[str, list[int]] = defaultdict(list)
    ids = [d["query_id"] for d in docs]
    for i in range(0, len(ids), 1000):
        for e in _scan(client, settings.ubi_events_index,
                       {"bool": {"filter": [{"terms": {"query_id": ids[i:i + 1000]}},
                                            {"term": {"action_name": "click"}}]}},
                       ["query_id", "event_attributes.position.ordinal"], "event_key"):
            ordinal = ((e.get("event_attributes") or {}).get("position") or {}).get("ordinal")
            if isinstance(ordinal, int):
                clicks[e["query_id"]].append(ordinal)
    outcomes = [(str(d.get("client_id") or d["query_id"]),
                 winner(d["query_attributes"]["interleave"]["teams"], clicks[d["query_id"]]))
                for d in docs]
    return summarize_wins(name, slots["a"], slots["b"], outcomes, rounds, seed)


def summarize_wins(name: str, slot_a: str, slot_b: str,
                   outcomes: Sequence[tuple[str, str | None]], rounds: int = 2000,
                   seed: int = 0) -> InterleaveReport:
    """Win rate of b among decided searches, CI by resampling users, and a sign test."""
    from scipy.stats import binomtest

    per_user: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for user, won in outcomes:
        if won is not None:
            per_user[user][0 if won == "a" else 1] += 1
        else:
            per_user.setdefault(user, [0, 0])
    wins = np.array(list(per_user.values()), dtype=float).reshape(-1, 2)
    wa, wb = int(wins[:, 0].sum()), int(wins[:, 1].sum())
    ties = len(outcomes) - wa - wb
    rate = wb / (wa + wb) if wa + wb else math.nan
    low = high = math.nan
    if wa + wb:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(wins), (rounds, len(wins)))
        sums = wins[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = sums[:, 1] / sums.sum(axis=1)
        low, high = (float(x) for x in np.quantile(rates[np.isfinite(rates)], [0.025, 0.975]))
    p = binomtest(wb, wa + wb).pvalue if wa + wb else 1.0
    return InterleaveReport(name, slot_a, slot_b, len(outcomes), len(per_user), wa, wb, ties,
                            rate, low, high, float(p))


def sensitivity(lists: Sequence[tuple[Any, Sequence[str], Sequence[str]]], clicks: Any,
                sizes: Sequence[int], trials: int = 100, seed: int = 0,
                k: int = 10) -> dict[str, Any]:
    """How often an A/B test and interleaving tell the two rankers apart at each size.

    ``lists`` holds (simulated query, ranking a, ranking b) per query; ``clicks`` a
    :class:`~ltrr_opensearch.simulate.ClickModel`. The true direction is the sign of the
    expected clicks under b minus a (exact, from the click model). A trial draws ``n``
    searches; the A/B test shows each search ranking a or b at random and detects when a
    two-proportion z-test on click-through gives p < 0.05 in the true direction; the
    interleaved test shows the team-draft list and detects when the sign test on the
    wins does. Returns the detection rate per size and method and the smallest size with
    a rate of at least 0.8 (the searches needed)."""
    from scipy.stats import binomtest, norm

    rng = np.random.default_rng(seed)

    def expected(ids: Sequence[str], query: Any) -> float:
        return sum(clicks.click_probabilities([query.grade(i) for i in ids[:k]]))

    truth = float(np.mean([expected(b, q) - expected(a, q) for q, a, b in lists]))
    sign = 1 if truth > 0 else -1
    rates: dict[str, dict[int, float]] = {"ab": {}, "interleaving": {}}
    for n in sizes:
        hits = {"ab": 0, "interleaving": 0}
        for _ in range(trials):
            picks = rng.integers(0, len(lists), n)
            shown = {"a": [0, 0], "b": [0, 0]}  # searches, searches with a click
            wins = {"a": 0, "b": 0}
            for i in picks:
                query, a, b = lists[int(i)]
                arm = "a" if rng.random() < 0.5 else "b"
                ids = list(a if arm == "a" else b)[:k]
                events = clicks.simulate(query, ids, query_id="ab", client_id="u")
                shown[arm][0] += 1
                shown[arm][1] += any(e["action_name"] == "click" for e in events)
                mixed, teams = team_draft(a, b, k, rng)
                events = clicks.simulate(query, mixed, query_id="il", client_id="u")
                won = winner(teams, [e["event_attributes"]["position"]["ordinal"]
                                     for e in events if e["action_name"] == "click"])
                if won:
                    wins[won] += 1
            (na, ca), (nb, cb) = shown["a"], shown["b"]
            if na and nb:
                pool = (ca + cb) / (na + nb)
                se = math.sqrt(pool * (1 - pool) * (1 / na + 1 / nb)) if 0 < pool < 1 else 0
                z = (cb / nb - ca / na) / se if se else 0.0
                if 2 * norm.sf(abs(z)) < 0.05 and z * sign > 0:
                    hits["ab"] += 1
            decided = wins["a"] + wins["b"]
            if decided and binomtest(wins["b"], decided).pvalue < 0.05 \
                    and (wins["b"] - wins["a"]) * sign > 0:
                hits["interleaving"] += 1
        for method in hits:
            rates[method][n] = hits[method] / trials
    needed = {m: next((n for n in sizes if r[n] >= 0.8), None) for m, r in rates.items()}
    return {"truth_expected_clicks_b_minus_a": truth, "rates": rates, "needed": needed}
