"""Replay simulated searches through the real pipeline and the real feedback loop.

For each simulated query: the pipeline searches the real node (understand -> select ->
one _msearch -> merge), the click model reacts to what was shown, and its UBI events go
through the same path production events take: every ``batch`` searches the search log is
flushed, events are ingested, the consumers update rewards and the Q2E memory, and the
bandit closes the attribution window and syncs. Nothing is shortcut in Python: what the
bandit and the memory learn is what they would learn from real users sending these events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ltrr_opensearch.evaluate.metrics import hit, ndcg, reciprocal_rank
from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline

# SimQuery -> [(strategy, k)], or None to leave the choice to the pipeline's bandit
Plan = Callable[[Any], Sequence[tuple[str, int]] | None]


@dataclass(frozen=True)
class Policy:
    """A way of choosing strategies: a fixed plan per query, or a learning bandit."""

    name: str
    plan: Plan | None = None  # fixed plans (single strategy, all, uniform, oracle)
    bandit: Any = None  # select.config.BanditConfig: learned choice

    def __post_init__(self) -> None:
        if (self.plan is None) == (self.bandit is None):
            raise ValueError("a policy has either a fixed plan or a bandit config")


def single(strategy: str, k: int) -> Policy:
    return Policy(strategy, plan=lambda q: [(strategy, k)])


def all_strategies(strategies: Sequence[str], k: int) -> Policy:
    """Every strategy with the full budget each: the costly upper bound on recall."""
    return Policy("all_full", plan=lambda q: [(s, k) for s in strategies])


def uniform_mix(strategies: Sequence[str], k: int) -> Policy:
    """Every strategy, the budget K split evenly: a fixed mix at the same total cost."""
    share = max(1, k // len(strategies))
    return Policy("uniform_mix", plan=lambda q: [(s, share) for s in strategies])


def oracle(k: int) -> Policy:
    """Knows each query's intent and runs the strategy it favours with the full budget."""
    return Policy("oracle", plan=lambda q: [(q.favours, k)])


@dataclass(frozen=True)
class Outcome:
    """One replayed search."""

    policy: str
    step: int
    intent: str
    arms: tuple[str, ...]
    subsearches: int
    candidates_requested: int
    recall: float  # the target entered the candidate set
    rr: float  # reciprocal rank of the first relevant item in the shown list
    ndcg10: float
    latency_ms: float
    engine_ms: float  # the engine's own time, summed over the sub-searches (their ``took``)
    engaged: bool  # the simulated user clicked something
    errors: int  # sub-searches that failed


@dataclass
class Replay:
    """Runs one policy over a query stream (see module docstring)."""

    pipeline: Pipeline
    policy: Policy
    clicks: Any  # simulate.ClickModel
    batch: int = 100
    k: int = 10
    follow_up: Callable[[Any], Any] | None = None  # simulate.Reformulator: retry after failure
    learner: Any = None  # set up from policy.bandit
    outcomes: list[Outcome] = field(default_factory=list)
    ingested: int = 0  # events the ingestion path acknowledged over the replay
    cycles: int = 0  # feedback cycles run
    _events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from ltrr_opensearch.select.learner import Learner

        self.log = BufferedSearchLog(self.pipeline.client, self.pipeline.settings,
                                     batch=10 ** 9)  # flushed with each feedback batch
        self.pipeline.search_log = self.log
        if self.policy.bandit is not None:
            # Simulated time runs ahead of the wall clock: no settling or attribution delay.
            config = replace(self.policy.bandit, settle_seconds=0.0, attribution_seconds=0.0)
            self.learner = Learner.load(self.pipeline.client, self.pipeline.settings, config)
            self.pipeline.selector = self.learner

    def run(self, queries: Iterable[Any], progress: Callable[[int], None] | None = None,
            start: int = 0) -> list[Outcome]:
        """Replay ``queries``; ``start`` numbers the first one (a replay run in segments
        keeps one step count, and so one seed sequence)."""
        last = None
        for step, query in enumerate(queries, start=start):
            outcome = self._search(step, query)
            self.outcomes.append(outcome)
            retry = self.follow_up(query) if self.follow_up and not outcome.engaged else None
            if retry is not None:
                self.outcomes.append(self._search(step, retry))
            last = retry or query
            if (step + 1) % self.batch == 0:
                self.feedback(last.timestamp)
            if progress:
                progress(step)
        if last is not None:
            self.feedback(last.timestamp)
        return self.outcomes

    def _search(self, step: int, query: Any) -> Outcome:
        plan = self.policy.plan(query) if self.policy.plan else None
        response = self.pipeline.search(
            query.text, k=self.k, strategies=plan, request_id=f"{self.policy.name}-{query.query_id}",
            client_id=query.user_id, session_id=query.session_id, now=query.timestamp,
            seed=step)
        shown = [c.id for c in response.shown]
        events = self.clicks.simulate(query, shown, query_id=response.request_id,
                                      client_id=query.user_id)
        self._events.extend(events)
        return Outcome(
            policy=self.policy.name, step=step, intent=query.intent,
            arms=tuple(c.arm for c in response.choices), subsearches=len(response.choices),
            candidates_requested=sum(c.k for c in response.choices),
            recall=hit({c.id for c in response.candidates}, query.target),
            rr=reciprocal_rank(shown, query.relevant), ndcg10=ndcg(shown, query.relevant),
            latency_ms=response.took_ms,
            engine_ms=float(sum(r.took_ms or 0 for r in response.results)), engaged=bool(events),
            errors=sum(1 for r in response.results if r.error))

    def feedback(self, now: Any) -> Any:
        """Deliver the batch's events, then run ONE cycle of the production feedback loop
        (``ltrr_opensearch.loop``, what ``ltrr worker`` runs) at simulated time ``now``."""
        from ltrr_opensearch.feedback.ingest import ingest_events
        from ltrr_opensearch.loop import FeedbackLoop

        client, settings = self.pipeline.client, self.pipeline.settings
        self.log.flush(refresh="wait_for")
        events, self._events = self._events, []
        if events:
            report = ingest_events(client, settings, events, source="simulation")
            if report.dead_lettered:
                raise RuntimeError(f"the simulator produced {report.dead_lettered} invalid "
                                   f"events: {dict(report.reasons)}")
            self.ingested += report.accepted
        client.indices.refresh(index=f"{settings.index_prefix}-*")
        result = FeedbackLoop(client, settings, self.learner, settle_seconds=0).cycle(now)
        self.cycles += 1
        # The memory's key set (which keys make q2e_memory available) is cached for 30 s of
        # wall-clock time; a replay covers hours of simulated traffic in that time, so the
        # bandit would never see a key the memory learned during the run: re-read it now.
        if self.pipeline.availability is not None:
            self.pipeline.availability.memory_keys.refresh()
        return result
