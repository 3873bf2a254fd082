"""What ``ltrr simulate judged`` prints and writes: the difference after N sessions with its
95% interval, which mechanism moved the held-out queries, what was learned, a JSON of
every figure and a plot of NDCG@10 over sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ltrr_opensearch.evaluate.judged import kinds_of
from ltrr_opensearch.evaluate.learning_curve import CurveResult, Evaluation, difference, means


def _interval(comparison: Any) -> str:
    d = comparison.difference
    return f"{d.mean:+.3f} (95% CI {d.low:+.3f}..{d.high:+.3f})"


def summary_lines(result: CurveResult) -> list[str]:
    """Everything after the checkpoint lines."""
    first, last = result.checkpoints[0], result.checkpoints[-1]
    held = result.heldout
    lines = [q.line for q in held]
    out = [f"difference after {last.sessions} sessions - day one, {len(held)} held-out "
           f"queries: NDCG@10 {_interval(difference(last, first, lines, 'ndcg@10'))}  "
           f"MRR@10 {_interval(difference(last, first, lines, 'mrr@10'))}"]
    kinds = kinds_of(held)
    if len(kinds) > 1:
        per_kind = []
        for kind in sorted(kinds):
            mine = [q.line for q in held if q.kind == kind]
            per_kind.append(f"{kind} {_interval(difference(last, first, mine, 'ndcg@10'))}")
        out.append("  NDCG@10 by kind: " + "; ".join(per_kind))
    for name, evaluation in result.ablations.items():
        out.append(f"  what the {name.removeprefix('day-one ')} learned (after - with the "
                   f"{name}): NDCG@10 {_interval(difference(last, evaluation, lines, 'ndcg@10'))}")
    both = result.ablations.get("day-one ranker and bandit") or (
        result.ablations.get("day-one bandit") if "day-one ranker" not in result.ablations
        else None)
    if both is not None:
        out.append("  everything else (memory, learned vocabulary, index statistics as memory "
                   "writes rewrite documents; with the day-one ranker and bandit - day one): "
                   f"NDCG@10 {_interval(difference(both, first, lines, 'ndcg@10'))}")
    learning = result.learning
    out.append(f"  held-out queries whose memory key learned something: "
               f"{learning.get('heldout_keys_with_memory', 0)} of {len({q.key for q in held})} "
               "(the memory learns per query); held-out queries understood through a learned "
               f"phrase: {learning.get('heldout_with_learned_phrase', 0)}")
    if len(result.seen) == 2 and result.seen_queries:
        seen_lines = [q.line for q in result.seen_queries]
        before, after = result.seen
        out.append(f"session queries searched most ({len(seen_lines)}, learned from): NDCG@10 "
                   f"{means(before, result.seen_queries)['all']['ndcg@10']:.3f} -> "
                   f"{means(after, result.seen_queries)['all']['ndcg@10']:.3f}, "
                   f"{_interval(difference(after, before, seen_lines, 'ndcg@10'))}")
    actions = ", ".join(f"{k} {v}" for k, v in sorted(learning.get("events_by_action", {}).items()))
    out.append(f"learning: {learning.get('sessions', 0)} sessions "
               f"({learning.get('engaged_sessions', 0)} with engagement), "
               f"{learning.get('events_ingested', 0)} events ingested ({actions or 'none'}), "
               f"{learning.get('cycles', 0)} worker cycles, "
               f"{learning.get('bandit_observations', 0)} bandit observations, "
               f"{learning.get('memory_pairs', 0)} learned memory pairs, "
               f"{len(learning.get('learned_phrases', {}))} learned phrases"
               + _sample(learning.get("learned_phrases", {})))
    out.append("ranker: " + retrain_summary(result.retrains, result.options.retrain_hours,
                                            result.ranked))
    return out


def _sample(phrases: dict[str, str], shown: int = 6) -> str:
    if not phrases:
        return ""
    items = [f'"{p}" -> {v}' for p, v in sorted(phrases.items())[:shown]]
    return " (" + ", ".join(items) + (", ..." if len(phrases) > shown else "") + ")"


def retrain_summary(retrains: Sequence[dict[str, Any]], hours: float, ranked: bool = True) -> str:
    if not ranked:
        return ("not retrained: no model ranked the searches (fusion), so they logged no "
                "feature vectors to train on")
    if not retrains:
        return ("never retrained" if hours <= 0 else
                f"no retrain was due (every {hours:g} simulated hours)")
    deployed = [r for r in retrains if r.get("deployed")]
    last = retrains[-1]
    return (f"retrained {len(retrains)} time(s), {len(deployed)} deployed by the gate; last, "
            f"after {last['sessions']} sessions: {last.get('trained') or 'no model'} - "
            f"{last.get('reason')}")


def to_json(result: CurveResult) -> dict[str, Any]:
    def evaluation(e: Evaluation, queries: Sequence[Any]) -> dict[str, Any]:
        return {"label": e.label, "sessions": e.sessions, "errors": e.errors,
                "seconds": round(e.seconds, 1), "means": means(e, queries),
                "per_query": {str(q.line): {"rr": e.rr[q.line], "ndcg@10": e.ndcg[q.line]}
                              for q in queries}}

    held = result.heldout
    return {
        "judged": result.judged, "catalog": result.catalog, "scratch": result.scratch,
        "scratch_note": result.scratch_note, "options": vars(result.options),
        "queries": {"sessions": len(result.train), "heldout": len(held),
                    "heldout_by_kind": dict(kinds_of(held)),
                    "unknown_ids": list(result.unknown.ids),
                    "dropped_lines": list(result.unknown.dropped_lines)},
        "heldout": [{"line": q.line, "query": q.query, "kind": q.kind} for q in held],
        "checkpoints": [evaluation(e, held) for e in result.checkpoints],
        "ablations": {k: evaluation(e, held) for k, e in result.ablations.items()},
        "seen": [evaluation(e, result.seen_queries) for e in result.seen],
        "retrains": result.retrains, "learning": result.learning, "notes": result.notes,
        "summary": summary_lines(result),
    }


def write_outputs(result: CurveResult, out: str | Path) -> tuple[Path, Path | None]:
    """The JSON and the plot (None without matplotlib, the ``plots`` extra)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "learning-curve.json"
    data.write_text(json.dumps(to_json(result), indent=1), encoding="utf-8")
    try:
        plot: Path | None = plot_curve(result, folder / "learning-curve.png")
    except ImportError:
        plot = None
    return data, plot


def plot_curve(result: CurveResult, path: Path) -> Path:
    """NDCG@10 of the held-out queries over sessions: all of them (with its 95% interval)
    and each kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ltrr_opensearch.rank.offline import bootstrap

    held = result.heldout
    x = [e.sessions for e in result.checkpoints]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    intervals = [bootstrap([e.ndcg[q.line] for q in held]) for e in result.checkpoints]
    ax.plot(x, [i.mean for i in intervals], marker="o", linewidth=2.5, color="black",
            label=f"all held-out ({len(held)})")
    ax.fill_between(x, [i.low for i in intervals], [i.high for i in intervals], color="grey",
                    alpha=0.25, label="95% interval")
    kinds = kinds_of(held)
    if len(kinds) > 1:
        for kind in sorted(kinds):
            ax.plot(x, [means(e, held)[kind]["ndcg@10"] for e in result.checkpoints],
                    marker=".", linewidth=1, label=f"{kind} ({kinds[kind]})")
    ax.set(xlabel="simulated sessions", ylabel="held-out NDCG@10", ylim=(0, 1.02),
           title=f"learning curve: {Path(result.judged).name} on {result.catalog}")
    for r in result.retrains:
        if r.get("deployed"):
            ax.axvline(r["sessions"], color="tab:green", linestyle=":", linewidth=1)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
