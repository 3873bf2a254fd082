"""``ltrr simulate judged``: the learning curve of the whole product on a judged query set.

1. The judged file is read and checked (every bad line at once), ids the catalog lacks are
   dropped and counted, and about ``holdout`` of the queries of each kind are set aside:
   no simulated session ever searches them, so nothing is learned from them.
2. A scratch copy of the product's state is made (:mod:`evaluate.scratch`); the shipped
   default ranker and a fresh serving bandit start there, as on a new installation.
3. Held-out queries are evaluated on day one: ``Pipeline.search`` exactly as served (the
   bandit's choice, the deployed model), with ``log=False``, so evaluating teaches nothing.
4. Sessions replay the other queries through the replay harness (the real pipeline, search
   log, click events through ``ingest_events``, one production feedback cycle of
   ``loop.py`` per worker interval of simulated time: rewards, memory, training rows,
   bandit). At the ranker's cadence, the worker's retrain hook (``rank/learn.py``:
   clicks -> PBM judgments -> LambdaMART) trains a model and the deploy gate
   (``rank/gate.py``) decides whether it serves.
5. At checkpoints, and after the last session, the held-out queries are evaluated again.
   At the end, the held-out queries are also evaluated with the day-one ranker and with a
   day-one bandit under everything else learned, to tell which mechanism moved them, and
   the training queries searched most are evaluated before/after (what per-query learning
   such as the memory does).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError, EngineBusy, LtrrError, ValidationError
from ltrr_opensearch.evaluate.judged import JudgedQuery, UnknownIds
from ltrr_opensearch.evaluate.metrics import ndcg, reciprocal_rank
from ltrr_opensearch.rank.judgments import DEFAULT_MIN_EVIDENCE

TOP = 10


@dataclass(frozen=True)
class CurveOptions:
    sessions: int
    holdout: float = 0.2
    seed: int = 0
    noise: float = 0.05  # see simulate.judged_traffic.click_params
    skew: float = 1.0  # Zipf exponent of how often each query is searched
    per_day: float = 1000.0  # sessions per simulated day
    worker_minutes: float = 60.0  # simulated minutes between feedback cycles
    retrain_hours: float = 24.0  # simulated hours between ranker retrains (0: never)
    min_evidence: float = DEFAULT_MIN_EVIDENCE  # examinations a judged pair needs to train
    checkpoints: int = 5  # evaluations of the held-out queries after day one
    seen: int = 200  # most-searched session queries evaluated before and after
    policy_file: str | None = None  # the bandit policy (default: the serving one)
    keep: bool = False  # keep the scratch indices and trained models

    def check(self) -> None:
        problems = []
        if self.sessions < 1:
            problems.append(f"--sessions must be >= 1, got {self.sessions}")
        if not 0 <= self.noise < 1:
            problems.append(f"--noise must be in [0, 1), got {self.noise}")
        if not 1 <= self.checkpoints <= 100:
            problems.append(f"--checkpoints must be 1..100, got {self.checkpoints}")
        for name, value, low in (("--per-day", self.per_day, 1e-9),
                                 ("--worker-minutes", self.worker_minutes, 1e-9),
                                 ("--retrain-hours", self.retrain_hours, 0.0),
                                 ("--skew", self.skew, 0.0), ("--min-evidence", self.min_evidence,
                                                               1e-9)):
            if not (math.isfinite(value) and value >= low):
                problems.append(f"{name} must be a number >= {low:g}, got {value}")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def cycle_sessions(self) -> int:
        """Sessions between two feedback cycles (one worker interval of simulated time)."""
        return max(1, round(self.per_day * self.worker_minutes / 1440.0))


@dataclass(frozen=True)
class Evaluation:
    """One pass over a query set: per judged line, reciprocal rank and NDCG@10."""

    label: str
    sessions: int
    rr: dict[int, float]
    ndcg: dict[int, float]
    errors: int = 0  # sub-searches that failed during the pass
    seconds: float = 0.0


@dataclass
class CurveResult:
    judged: str
    catalog: str
    scratch: str
    scratch_note: str
    options: CurveOptions
    train: list[JudgedQuery]
    heldout: list[JudgedQuery]
    unknown: UnknownIds
    checkpoints: list[Evaluation] = field(default_factory=list)
    seen_queries: list[JudgedQuery] = field(default_factory=list)
    seen: list[Evaluation] = field(default_factory=list)  # day one, after the last session
    ablations: dict[str, Evaluation] = field(default_factory=dict)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    ranked: bool = False  # a model ranked day one (else fusion: nothing to log or retrain)
    learning: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def evaluate(pipeline: Any, queries: Sequence[JudgedQuery], *, label: str, sessions: int,
             now: datetime) -> Evaluation:
    """Each query through ``pipeline`` as served, logging nothing (ties broken by id:
    :func:`untied`)."""
    started = time.perf_counter()
    rr, gains, errors = {}, {}, 0
    for i, q in enumerate(queries):
        response = pipeline.search(q.query, k=TOP, log=False, now=now, seed=i)
        shown = untied(response.candidates)[:TOP]
        rr[q.line] = reciprocal_rank(shown, q.relevant, TOP)
        gains[q.line] = ndcg(shown, q.relevant, TOP)
        errors += sum(1 for r in response.results if r.error)
    return Evaluation(label, sessions, rr, gains, errors, time.perf_counter() - started)


def untied(candidates: Sequence[Any]) -> list[str]:
    """The served order's ids with each run of equal scores sorted by id.

    The engine orders equal scores by internal document position, which changes whenever a
    document is rewritten (each memory update rewrites one): two checkpoints could then
    differ by a coin flip that no learning caused. Candidates never move across a score."""
    out: list[str] = []
    run: list[str] = []
    previous: Any = object()
    for c in candidates:
        if c.score is None or c.score != previous:
            out.extend(sorted(run))
            run = []
        run.append(c.id)
        previous = c.score
    return out + sorted(run)


def checkpoint_marks(sessions: int, count: int) -> list[int]:
    """Session counts after which the held-out queries are evaluated (the last is all)."""
    return sorted({max(1, round(sessions * k / count)) for k in range(1, count + 1)})


def load_judged(client: OpenSearch, settings: Settings,
                judged: str | Path | Sequence[JudgedQuery], holdout: float, seed: int
                ) -> tuple[list[JudgedQuery], list[JudgedQuery], UnknownIds, str]:
    """(session queries, held-out queries, unknown ids, catalog): the file (or the queries
    already read from it) checked, its ids checked against the catalog in force (read
    only), the held-out queries set aside."""
    from ltrr_opensearch.catalog.description import ID_FROM_DOCUMENT, bound_catalog, description_for
    from ltrr_opensearch.evaluate.judged import (
        catalog_ids,
        drop_unknown_ids,
        read_judged,
        split_holdout,
    )

    queries = list(judged) if isinstance(judged, Sequence) and not isinstance(judged, str) \
        else read_judged(judged)
    description = description_for(settings)
    catalog = description.target(settings)
    bound_catalog(client, settings, description)  # the catalog exists and fits its description
    by_id = description.managed or description.id == ID_FROM_DOCUMENT
    known = catalog_ids(client, catalog, None if by_id else description.id,
                        (i for q in queries for i in q.relevant))
    kept, unknown = drop_unknown_ids(queries, known)
    if not kept:
        raise ValidationError(f"none of the judged ids is in the catalog {catalog}",
                              hint="is the config naming the catalog the file was judged on?")
    train, held = split_holdout(kept, holdout, seed)
    return train, held, unknown, catalog


def run_curve(client: OpenSearch, settings: Settings, judged: str | Path,
              options: CurveOptions, say: Callable[[str], None] = print,
              progress: Callable[[int, int], None] | None = None,
              queries: Sequence[JudgedQuery] | None = None) -> CurveResult:
    """The whole run (module docstring). Nothing is written before the judged file, its ids
    and the options are checked; the scratch state is discarded afterwards unless ``keep``."""
    from ltrr_opensearch.evaluate import scratch as scratch_state
    from ltrr_opensearch.feedback.memory import forget_memory_cache
    from ltrr_opensearch.retrieve import resources

    options.check()
    train, held, unknown, catalog = load_judged(client, settings, queries or judged,
                                                options.holdout, options.seed)
    scratch = scratch_state.scratch_settings(settings)
    result: CurveResult | None = None
    try:
        made = scratch_state.prepare(client, settings, scratch)
        result = CurveResult(str(judged), catalog, scratch.index_prefix, made.note, options,
                             train, held, unknown)
        say(header_line(result))
        _replay(client, made.settings, result, say, progress)
        return result
    except os_exc.TransportError as exc:  # an engine refusal mid-run (a breaker, a 5xx...)
        done = result.checkpoints[-1].sessions if result and result.checkpoints else 0
        raise EngineBusy(f"OpenSearch failed a request of the simulation ({exc.status_code} "
                         f"{exc.error}) after the checkpoint at {done} sessions: the run stopped",
                         hint="run it again when the cluster has room (its scratch state is "
                              "deleted, production was only read)") from None
    finally:
        resources.clear()
        forget_memory_cache()
        if not options.keep:
            scratch_state.discard(client, scratch)


def _replay(client: OpenSearch, settings: Settings, result: CurveResult,
            say: Callable[[str], None], progress: Callable[[int, int], None] | None) -> None:
    replay, sessions = _day_one(client, settings, result, say)
    day_one_ranker = replay.pipeline.ranker
    _sessions(client, settings, result, replay, sessions, say, progress)
    now = sessions[-1].timestamp
    result.seen.append(evaluate(replay.pipeline, result.seen_queries, sessions=len(sessions),
                                label=f"after {len(sessions)} sessions", now=now))
    _attribute(client, settings, result, replay, day_one_ranker, now)
    result.learning = _learned(client, settings, replay, result)


def _day_one(client: OpenSearch, settings: Settings, result: CurveResult,
             say: Callable[[str], None]) -> tuple[Any, list[Any]]:
    """A new installation under ``settings`` (the shipped ranker, a bandit with nothing
    observed), the replay that will drive it, the sessions, and the day-one evaluation."""
    from ltrr_opensearch.evaluate.harness import Policy, Replay
    from ltrr_opensearch.feedback.config import FeedbackConfig
    from ltrr_opensearch.loop import serving_config
    from ltrr_opensearch.pipeline import Pipeline
    from ltrr_opensearch.retrieve import resources
    from ltrr_opensearch.simulate.judged_traffic import (
        JudgedSessions,
        JudgedUsers,
        click_params,
        event_vocabulary,
    )

    options = result.options
    resources.clear()
    result.notes.append(_init_ranker(client, settings))
    say(made_note(result))
    pipeline = Pipeline.from_cluster(client, settings)
    result.ranked = pipeline.ranker is not None
    users = JudgedUsers(click_params(options.noise),
                        event_vocabulary(FeedbackConfig.from_settings(settings)), options.seed)
    replay = Replay(pipeline, Policy("judged", bandit=serving_config(settings, options.policy_file)),
                    users, batch=10 ** 9)  # one feedback cycle per run() call: see _sessions
    span = timedelta(days=options.sessions / options.per_day)
    start = (datetime.now(timezone.utc) - span - timedelta(hours=1)).replace(microsecond=0)
    sessions = JudgedSessions(result.train, seed=options.seed, start=start,
                              per_day=options.per_day, skew=options.skew).take(options.sessions)
    result.seen_queries = _most_searched(result.train, sessions, options.seen)
    first = evaluate(pipeline, result.heldout, label="day one", sessions=0, now=start)
    result.checkpoints.append(first)
    result.seen.append(evaluate(pipeline, result.seen_queries, label="day one", sessions=0,
                                now=start))
    say(checkpoint_line(first, result.heldout))
    return replay, sessions


def _sessions(client: OpenSearch, settings: Settings, result: CurveResult, replay: Any,
              sessions: Sequence[Any], say: Callable[[str], None],
              progress: Callable[[int, int], None] | None) -> None:
    """Every session, a worker cycle per worker interval, retrains at their cadence, and
    the held-out queries evaluated at each checkpoint."""
    from ltrr_opensearch.feedback.learned import follow_learned
    from ltrr_opensearch.feedback.memory import forget_memory_cache
    from ltrr_opensearch.rank.registry import deployed_ranker

    options, pipeline = result.options, replay.pipeline
    retrain_every = timedelta(hours=options.retrain_hours)
    last_retrain = sessions[0].timestamp
    done = 0
    for mark in checkpoint_marks(options.sessions, options.checkpoints):
        while done < mark:
            end = min(done + options.cycle_sessions, mark)
            replay.run(sessions[done:end], start=done)  # ends with one feedback cycle
            forget_memory_cache()  # an own index's memory: read what the cycle learned
            # Learned phrases reach understanding as on `ltrr serve`'s resync.
            pipeline.gazetteer = follow_learned(client, settings, pipeline.gazetteer)
            done = end
            now = sessions[end - 1].timestamp
            if result.ranked and options.retrain_hours > 0 \
                    and now - last_retrain >= retrain_every:
                result.retrains.append(_retrain(client, settings, options, done))
                say(retrain_line(result.retrains[-1]))
                pipeline.ranker = deployed_ranker(client, settings)  # as serving's resync does
                last_retrain = now
            if progress is not None:
                progress(done, options.sessions)
        point = evaluate(pipeline, result.heldout, label=f"after {mark} sessions", sessions=mark,
                         now=sessions[mark - 1].timestamp)
        result.checkpoints.append(point)
        say(checkpoint_line(point, result.heldout))


def _attribute(client: OpenSearch, settings: Settings, result: CurveResult, replay: Any,
               day_one_ranker: Any, now: datetime) -> None:
    """The held-out queries with one mechanism put back to day one, everything else as
    learned: what each mechanism's learning is worth on queries nobody searched."""
    from ltrr_opensearch.select.learner import Learner

    pipeline = replay.pipeline
    day_one_bandit = Learner(client, settings, replay.learner.config)  # nothing observed
    variants: dict[str, Any] = {
        "day-one bandit": dataclasses.replace(pipeline, selector=day_one_bandit)}
    if _model(pipeline.ranker) != _model(day_one_ranker):
        variants["day-one ranker"] = dataclasses.replace(pipeline, ranker=day_one_ranker)
        variants["day-one ranker and bandit"] = dataclasses.replace(
            pipeline, ranker=day_one_ranker, selector=day_one_bandit)
    done = result.checkpoints[-1].sessions
    for name, variant in variants.items():
        result.ablations[name] = evaluate(variant, result.heldout, label=name, sessions=done,
                                          now=now)


def _model(ranker: Any) -> str | None:
    return getattr(ranker, "model", None)


def _init_ranker(client: OpenSearch, settings: Settings) -> str:
    """The shipped default model, as ``ltrr ltr init`` deploys it on a new installation."""
    from ltrr_opensearch.rank.setup import ltr_init

    try:
        report = ltr_init(client, settings)
    except LtrrError as exc:
        return (f"no ranker ({exc.message}): results are ordered by fusion and no model is "
                "trained")
    return f"day-one ranker: {report.deployed or 'none (fusion)'}"


def _retrain(client: OpenSearch, settings: Settings, options: CurveOptions, sessions: int
             ) -> dict[str, Any]:
    """The worker's retrain hook at this point of simulated time: train, then the gate."""
    from ltrr_opensearch.rank.learn import scheduled_retrain

    started = time.perf_counter()
    outcome = scheduled_retrain(client, settings, min_evidence=options.min_evidence)
    return {**outcome, "sessions": sessions,
            "seconds": round(time.perf_counter() - started, 1)}


def retrain_line(retrain: dict[str, Any]) -> str:
    verdict = "deployed by the gate" if retrain.get("deployed") else "not deployed"
    return (f"retrain after {retrain['sessions']} sessions: {retrain.get('trained') or 'no model'}"
            f" {verdict}: {retrain.get('reason')}")


def _most_searched(train: Sequence[JudgedQuery], sessions: Sequence[Any], limit: int
                   ) -> list[JudgedQuery]:
    counts = Counter(s.attributes["line"] for s in sessions)
    by_line = {q.line: q for q in train}
    return [by_line[line] for line, _ in counts.most_common(limit)]


def _learned(client: OpenSearch, settings: Settings, replay: Any, result: CurveResult
             ) -> dict[str, Any]:
    """What the learning mechanisms hold after the run, read from the scratch indices."""
    from ltrr_opensearch.feedback.indices import memory_index
    from ltrr_opensearch.understand import understand

    client.indices.refresh(index=f"{settings.index_prefix}-*")
    actions: dict[str, int] = {}
    try:
        found = client.search(index=settings.ubi_events_index, body={
            "size": 0, "aggs": {"a": {"terms": {"field": "action_name", "size": 50}}}})
        actions = {b["key"]: b["doc_count"] for b in found["aggregations"]["a"]["buckets"]}
    except os_exc.NotFoundError:
        pass
    learned = {"bool": {"filter": [{"term": {"eligible": True}},
                                   {"term": {"source": "observed"}}]}}
    held_keys = sorted({q.key for q in result.heldout})
    try:
        pairs = client.count(index=memory_index(settings), body={"query": learned})["count"]
        keyed = client.search(index=memory_index(settings), body={
            "size": 0, "query": {"bool": {"filter": [learned, {"terms": {"key": held_keys}}]}},
            "aggs": {"k": {"cardinality": {"field": "key"}}}})["aggregations"]["k"]["value"]
    except os_exc.NotFoundError:
        pairs, keyed = 0, 0
    searched = client.count(index=settings.ubi_queries_index)["count"]
    phrases = learned_phrases(client, settings)
    understood = [understand(q.query, replay.pipeline.gazetteer) for q in result.heldout]
    with_phrase = sum(1 for u in understood if any(s.source == "learned" for s in u.slots))
    return {"sessions": len(replay.outcomes), "searches_logged": searched,
            "learned_phrases": phrases, "heldout_with_learned_phrase": with_phrase,
            "events_ingested": replay.ingested, "events_by_action": actions,
            "engaged_sessions": sum(1 for o in replay.outcomes if o.engaged),
            "cycles": replay.cycles, "bandit_observations": replay.learner.bandit.observations,
            "memory_pairs": pairs, "heldout_keys_with_memory": keyed}


def learned_phrases(client: OpenSearch, settings: Settings) -> dict[str, str]:
    """Eligible learned phrases -> "kind=value" (feedback/vocab.py's decisions)."""
    from ltrr_opensearch.feedback.learned import phrase_decisions

    return {d["phrase"]: f"{d.get('kind')}={d.get('value')}"
            for d in phrase_decisions(client, settings) if d.get("eligible")}


# --------------------------------------------------------------------------- figures


def means(evaluation: Evaluation, queries: Sequence[JudgedQuery]) -> dict[str, dict[str, float]]:
    """kind (and "all") -> {"n", "mrr@10", "ndcg@10"}."""
    groups: dict[str, list[int]] = {"all": [q.line for q in queries]}
    for q in queries:
        groups.setdefault(q.kind, []).append(q.line)
    return {kind: {"n": len(lines),
                   "mrr@10": sum(evaluation.rr[i] for i in lines) / len(lines),
                   "ndcg@10": sum(evaluation.ndcg[i] for i in lines) / len(lines)}
            for kind, lines in groups.items() if lines}


def header_line(result: CurveResult) -> str:
    from ltrr_opensearch.evaluate.judged import kinds_of

    held = ", ".join(f"{k} {n}" for k, n in sorted(kinds_of(result.heldout).items()))
    return (f"judged: {len(result.train) + len(result.heldout)} queries on {result.catalog}; "
            f"{len(result.heldout)} held out ({held}), {len(result.train)} searched in "
            f"sessions; {result.unknown.describe()}")


def made_note(result: CurveResult) -> str:
    o = result.options
    retrain = (f"the ranker retrained every {o.retrain_hours:g} simulated hours through the "
               "deploy gate" if o.retrain_hours > 0 else "the ranker never retrained")
    return (f"scratch {result.scratch}: {result.scratch_note}; {'; '.join(result.notes)}; "
            f"{o.sessions} sessions at {o.per_day:g}/simulated day, a worker cycle every "
            f"{o.cycle_sessions} sessions, {retrain}, click noise {o.noise:g}")


def checkpoint_line(evaluation: Evaluation, queries: Sequence[JudgedQuery]) -> str:
    """``day one: NDCG@10 0.712 MRR@10 0.801 | known_item 0.950/0.970 | ...`` (kinds:
    NDCG@10/MRR@10)."""
    m = means(evaluation, queries)
    kinds = " | ".join(f"{k} {v['ndcg@10']:.3f}/{v['mrr@10']:.3f}"
                       for k, v in sorted(m.items()) if k != "all")
    failed = f" ({evaluation.errors} failed sub-searches)" if evaluation.errors else ""
    return (f"{evaluation.label}: NDCG@10 {m['all']['ndcg@10']:.3f} MRR@10 "
            f"{m['all']['mrr@10']:.3f}" + (f" | {kinds}" if len(m) > 2 else "") + failed)


def difference(after: Evaluation, before: Evaluation, lines: Sequence[int], metric: str,
               seed: int = 0) -> Any:
    """Paired bootstrap over queries of ``after - before`` (rank.offline.compare)."""
    from ltrr_opensearch.rank.offline import compare

    values = {"ndcg@10": (after.ndcg, before.ndcg), "mrr@10": (after.rr, before.rr)}[metric]
    return compare([values[0][i] for i in lines], [values[1][i] for i in lines], seed=seed)
