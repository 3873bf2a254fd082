"""Tables and learning-curve plots from replayed searches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import mean, median

from ltrr_opensearch.evaluate.harness import Outcome

METRICS = ("recall", "rr", "ndcg10")


def summarise(outcomes: Iterable[Outcome], by_intent: bool = True,
              last: int | None = None) -> list[dict[str, object]]:
    """One row per policy (and intent): mean recall/MRR/NDCG@10, latency, cost.

    ``last`` restricts each policy to its last N searches (after learning)."""
    per_policy: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        per_policy[outcome.policy].append(outcome)
    rows = []
    for policy, items in per_policy.items():
        items = items[-last:] if last else items
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for item in items:
            if item.intent != "reformulation":  # follow-ups are cost, not extra successes
                groups["all"].append(item)
            if by_intent:
                groups[item.intent].append(item)
        for group, members in sorted(groups.items(), key=lambda g: (g[0] != "all", g[0])):
            rows.append({
                "policy": policy, "intent": group, "searches": len(members),
                "recall": mean(m.recall for m in members),
                "mrr": mean(m.rr for m in members),
                "ndcg10": mean(m.ndcg10 for m in members),
                "latency_p50_ms": median(m.latency_ms for m in members),
                "latency_p99_ms": _quantile([m.latency_ms for m in members], 0.99),
                "engine_ms": mean(m.engine_ms for m in members),
                "subsearches": mean(m.subsearches for m in members),
                "candidates": mean(m.candidates_requested for m in members),
                "errors": sum(m.errors for m in members),
            })
    return rows


def recall_matrix(outcomes: Iterable[Outcome]) -> tuple[list[str], list[str], dict]:
    """policy x intent -> recall of the target in the candidate set."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for o in outcomes:
        sums[(o.policy, o.intent)].append(o.recall)
    policies = sorted({p for p, _ in sums})
    intents = sorted({i for _, i in sums})
    return policies, intents, {key: mean(vals) for key, vals in sums.items()}


def format_table(rows: Sequence[dict[str, object]], columns: Sequence[str]) -> str:
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    widths = [max(len(c), *(len(cell(r[c])) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return "\n".join(lines)


def format_recall_matrix(outcomes: Iterable[Outcome]) -> str:
    policies, intents, cells = recall_matrix(outcomes)
    rows = [{"policy": p, **{i: cells.get((p, i), float("nan")) for i in intents}}
            for p in policies]
    return format_table(rows, ["policy", *intents])


def learning_curves(outcomes: Sequence[Outcome], path: str | Path, window: int = 200,
                    title: str = "") -> Path:
    """PNG: rolling recall, cumulative regret against the oracle (if run), and engine cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_policy: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        per_policy[o.policy].append(o)
    oracle = per_policy.get("oracle")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for policy, items in sorted(per_policy.items()):
        steps = [o.step for o in items]
        recall = [o.recall for o in items]
        axes[0].plot(steps, _rolling(recall, window), label=policy)
        if oracle and len(oracle) == len(items):
            regret, total = [], 0.0
            for mine, best in zip(items, oracle, strict=True):
                total += best.recall - mine.recall
                regret.append(total)
            axes[1].plot(steps, regret, label=policy)
        axes[2].plot(steps, _rolling([float(o.subsearches) for o in items], window),
                     label=f"{policy} ({sum(o.candidates_requested for o in items) / len(items):.0f}"
                           " candidates)")
    axes[0].set(title=f"recall of the target in the candidates (rolling {window})",
                xlabel="search", ylim=(0, 1))
    axes[1].set(title="cumulative regret vs the per-intent oracle (recall)", xlabel="search")
    axes[2].set(title=f"engine cost: sub-searches per search (rolling {window})",
                xlabel="search")
    axes[2].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _rolling(values: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
