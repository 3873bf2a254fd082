"""``ltrr experiment report NAME``: per-variant metrics from the UBI logs, with confidence.

Every logged search carries ``query_attributes.variant = "NAME/VARIANT"``; its events
join on ``query_id``. Per variant:

* searches, users;
* click-through: share of searches with at least one click;
* engagement rate: share of searches with a conversion (play or add to favorites);
* MRR: reciprocal rank of the best-placed engaged (clicked) result, 0 without one;
* zero-result rate: share of searches that showed nothing;
* recall: of searches in a session where the user engaged with an entity, the share whose
  candidate set (every strategy's hits) held that entity; it shows whether the
  retrieval found what the user was after, even when a later search of the session did;
* latency p50/p95 of the search's own ``took_ms``.

Differences against the control come with 95% bootstrap intervals, resampling users
(a user's searches are correlated, so resampling searches would be too confident).
The sample-ratio-mismatch check is a chi-square test of users per variant against the
configured split. The sample size is searches per variant for a two-sided test at
alpha 0.05 and power 0.8 to detect ``mde`` (absolute) in click-through.
"""

from __future__ import annotations

import base64
import html
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError

METRICS = ("ctr", "engagement", "mrr", "zero_result", "recall", "latency_ms")
LABELS = {"ctr": "click-through", "engagement": "engagement rate", "mrr": "MRR (engaged result)",
          "zero_result": "zero-result rate", "recall": "recall of engaged entity",
          "latency_ms": "latency ms (mean)"}
_CONVERSIONS = {"play", "add_to_favorites", "purchase", "add_to_cart"}


@dataclass
class SearchRow:
    query_id: str
    user: str
    session: str | None
    variant: str
    timestamp: str
    shown: int
    candidates: set[str]
    took_ms: float | None
    clicked: bool = False
    engaged: bool = False
    rr: float = 0.0
    engaged_ids: set[str] = field(default_factory=set)
    recall: float | None = None  # None: no engagement in the session


@dataclass(frozen=True)
class Diff:
    metric: str
    variant: str
    delta: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass
class Report:
    experiment: str
    control: str
    variants: dict[str, dict[str, float]]
    diffs: list[Diff]
    srm_p: float
    srm_expected: dict[str, float]
    sample_size: int | None
    mde: float
    rows: list[SearchRow]

    def verdict(self, metric: str = "ctr") -> dict[str, str]:
        out = {}
        for d in self.diffs:
            if d.metric == metric:
                out[d.variant] = ("wins" if d.low > 0 else "loses" if d.high < 0
                                  else "no detectable difference")
        return out


# -------------------------------------------------------------------- reading
def _scan(client: Any, index: str, query: Mapping[str, Any], fields: Sequence[str],
          key: str) -> Iterable[dict[str, Any]]:
    """Every matching doc, paged with search_after on the keyword field ``key``. The index
    is refreshed first: events are acknowledged once stored, before they are searchable."""
    client.indices.refresh(index=index, ignore_unavailable=True)
    after = None
    while True:
        body: dict[str, Any] = {"size": 2000, "query": query, "_source": list(fields),
                                "sort": [{key: "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index, body=body)["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < 2000:
            return
        after = hits[-1]["sort"]


def load_rows(client: Any, settings: Settings, experiment: str,
              since: datetime | str | None = None) -> list[SearchRow]:
    """Every logged search of ``experiment`` (since ``since``) joined with its events."""
    from opensearchpy import exceptions as os_exc

    if not experiment or "/" in experiment:
        raise ValidationError(f"experiment name {experiment!r} must be non-empty without '/'")
    filters: list[dict[str, Any]] = [
        {"prefix": {"query_attributes.variant": f"{experiment}/"}}]
    if since is not None:
        filters.append({"range": {"timestamp": {"gte": since if isinstance(since, str)
                                                else since.isoformat()}}})
    try:
        docs = list(_scan(client, settings.ubi_queries_index, {"bool": {"filter": filters}},
                          ["query_id", "client_id", "timestamp", "query_response_hit_ids",
                           "query_attributes.variant", "query_attributes.arms.candidates",
                           "query_attributes.took_ms", "query_attributes.session_id"],
                          "query_id"))
    except os_exc.NotFoundError:
        raise LtrrError(f"no search log {settings.ubi_queries_index!r}: nothing was served yet",
                        hint="serve searches with flags (`ltrr serve --flags FILE`)") from None
    rows: dict[str, SearchRow] = {}
    for d in docs:
        attrs = d.get("query_attributes") or {}
        labels = attrs.get("variant")
        labels = labels if isinstance(labels, list) else [labels]
        variant = next((str(v).split("/", 1)[1] for v in labels
                        if isinstance(v, str) and v.startswith(f"{experiment}/")), None)
        if variant is None:
            continue
        cands = {c for a in attrs.get("arms") or [] for c in a.get("candidates") or []}
        took = attrs.get("took_ms")
        rows[d["query_id"]] = SearchRow(
            d["query_id"], str(d.get("client_id") or d["query_id"]), attrs.get("session_id"),
            variant, str(d.get("timestamp") or ""), len(d.get("query_response_hit_ids") or []),
            cands, float(took) if took is not None else None)
    ids = list(rows)
    for i in range(0, len(ids), 1000):
        try:
            events = _scan(client, settings.ubi_events_index,
                           {"terms": {"query_id": ids[i:i + 1000]}},
                           ["query_id", "action_name", "event_attributes.position.ordinal",
                            "event_attributes.object.object_id"], "event_key")
            for e in events:
                _apply_event(rows.get(str(e.get("query_id"))), e)
        except os_exc.NotFoundError:
            break  # no events yet: every search counts as not engaged
    _session_recall(rows.values())
    return sorted(rows.values(), key=lambda r: (r.timestamp, r.query_id))


def _apply_event(row: SearchRow | None, event: Mapping[str, Any]) -> None:
    if row is None:
        return
    attrs = event.get("event_attributes") or {}
    action = event.get("action_name")
    ordinal = (attrs.get("position") or {}).get("ordinal")
    obj = (attrs.get("object") or {}).get("object_id")
    if action == "click":
        row.clicked = True
        if isinstance(ordinal, int) and ordinal >= 0:
            row.rr = max(row.rr, 1.0 / (ordinal + 1))
    if action in _CONVERSIONS:
        row.engaged = True
    if obj and (action == "click" or action in _CONVERSIONS):
        row.engaged_ids.add(str(obj))


def _session_recall(rows: Iterable[SearchRow]) -> None:
    by_session: dict[str, list[SearchRow]] = defaultdict(list)
    for r in rows:
        by_session[r.session or r.query_id].append(r)
    for group in by_session.values():
        wanted = set().union(*(r.engaged_ids for r in group))
        if not wanted:
            continue
        for r in group:
            r.recall = 1.0 if wanted & r.candidates else 0.0


# ------------------------------------------------------------------ statistics
def _value(row: SearchRow, metric: str) -> float | None:
    if metric == "ctr":
        return float(row.clicked)
    if metric == "engagement":
        return float(row.engaged)
    if metric == "mrr":
        return row.rr
    if metric == "zero_result":
        return float(row.shown == 0)
    if metric == "recall":
        return row.recall
    return row.took_ms


def _per_user(rows: Sequence[SearchRow], metric: str) -> tuple[np.ndarray, np.ndarray]:
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        v = _value(r, metric)
        if v is not None:
            sums[r.user] += v
            counts[r.user] += 1
    users = sorted(counts)
    return (np.array([sums[u] for u in users], dtype=float),
            np.array([counts[u] for u in users], dtype=float))


def bootstrap_diff(control: Sequence[SearchRow], treatment: Sequence[SearchRow], metric: str,
                   rounds: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Difference of means (treatment - control) and its 95% interval, users resampled."""
    rng = np.random.default_rng(seed)
    (cs, cn), (ts, tn) = _per_user(control, metric), _per_user(treatment, metric)
    if not cn.size or not tn.size:
        return math.nan, math.nan, math.nan
    point = ts.sum() / tn.sum() - cs.sum() / cn.sum()
    ci = rng.integers(0, cn.size, (rounds, cn.size))
    ti = rng.integers(0, tn.size, (rounds, tn.size))
    with np.errstate(invalid="ignore", divide="ignore"):
        deltas = ts[ti].sum(1) / tn[ti].sum(1) - cs[ci].sum(1) / cn[ci].sum(1)
    deltas = deltas[np.isfinite(deltas)]
    low, high = np.quantile(deltas, [0.025, 0.975])
    return float(point), float(low), float(high)


def srm_p_value(observed: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """Chi-square goodness of fit of users per variant to the configured split."""
    from scipy.stats import chisquare

    names = [n for n in weights if weights[n] > 0]
    total = sum(observed.get(n, 0) for n in names)
    if total == 0 or len(names) < 2:
        return 1.0
    wsum = sum(weights[n] for n in names)
    expected = [total * weights[n] / wsum for n in names]
    return float(chisquare([observed.get(n, 0) for n in names], expected).pvalue)


def sample_size(p: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Searches per variant to detect an absolute change ``mde`` of a rate ``p``."""
    from scipy.stats import norm

    if mde <= 0 or not 0 < p < 1:
        return None
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    p2 = min(max(p + mde, 1e-9), 1 - 1e-9)
    return int(math.ceil(z ** 2 * (p * (1 - p) + p2 * (1 - p2)) / mde ** 2))


def summarize(rows: Sequence[SearchRow]) -> dict[str, float]:
    out: dict[str, float] = {"searches": float(len(rows)),
                             "users": float(len({r.user for r in rows}))}
    for metric in METRICS:
        values = [v for r in rows if (v := _value(r, metric)) is not None]
        out[metric] = float(np.mean(values)) if values else math.nan
    took = [r.took_ms for r in rows if r.took_ms is not None]
    out["p50_ms"] = float(np.percentile(took, 50)) if took else math.nan
    out["p95_ms"] = float(np.percentile(took, 95)) if took else math.nan
    return out


def build_report(experiment: str, rows: Sequence[SearchRow], *, control: str | None = None,
                 weights: Mapping[str, float] | None = None, mde: float = 0.02,
                 rounds: int = 2000, seed: int = 0) -> Report:
    by_variant: dict[str, list[SearchRow]] = defaultdict(list)
    for r in rows:
        by_variant[r.variant].append(r)
    if not by_variant:
        raise LtrrError(f"no logged search belongs to experiment {experiment!r}",
                        hint="is the experiment listed in the `experiments` flag, and were "
                             "searches served with a user/client id since --since?")
    names = sorted(by_variant)
    if control is None:
        control = "control" if "control" in by_variant else names[0]
    if control not in by_variant:
        raise ValidationError(f"control variant {control!r} has no searches",
                              hint=f"variants seen: {', '.join(names)}")
    variants = {n: summarize(by_variant[n]) for n in names}
    diffs = []
    for n in names:
        if n == control:
            continue
        for metric in METRICS:
            d, lo, hi = bootstrap_diff(by_variant[control], by_variant[n], metric, rounds, seed)
            diffs.append(Diff(metric, n, d, lo, hi))
    weights = dict(weights) if weights else {n: 1.0 for n in names}
    users = {n: int(v["users"]) for n, v in variants.items()}
    ctr = variants[control]["ctr"]
    return Report(experiment, control, variants, diffs, srm_p_value(users, weights),
                  weights, sample_size(ctr, mde) if not math.isnan(ctr) else None, mde,
                  list(rows))


def split_weights(flag_file: str | Path, experiment: str) -> dict[str, float] | None:
    """The configured split of ``experiment`` (its first ``fractional``), if the file has one."""
    from ltrr_opensearch.experiment.flagd import parse_flags

    flags = parse_flags(Path(flag_file).read_bytes(), str(flag_file))
    flag = flags.flags.get(experiment)
    if flag is None:
        raise ValidationError(f"flag file {str(flag_file)!r} has no experiment {experiment!r}")

    def find(rule: Any) -> Any:
        if isinstance(rule, Mapping):
            for op, args in rule.items():
                if op == "fractional":
                    buckets = args if isinstance(args[0], list) else args[1:]
                    return {b[0]: float(b[1]) if len(b) == 2 else 1.0 for b in buckets}
                if op == "$ref":
                    return find(flags.evaluators.get(args))
                found = find(args)
                if found:
                    return found
        if isinstance(rule, list):
            for item in rule:
                found = find(item)
                if found:
                    return found
        return None

    return find(flag.targeting)


# ------------------------------------------------------------------ rendering
def plot_over_time(report: Report, path: Path, buckets: int = 12) -> Path:
    """Cumulative value of each metric over time, one line per variant (one PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2), dpi=80)
    order = sorted(rows, key=lambda r: r.timestamp)
    edges = [order[min(len(order) - 1, int(len(order) * (i + 1) / buckets) - 1)].timestamp
             for i in range(buckets)]
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        for name in sorted(report.variants):
            mine = [r for r in order if r.variant == name]
            xs, ys = [], []
            for i, edge in enumerate(edges):
                upto = [v for r in mine if r.timestamp <= edge
                        and (v := _value(r, metric)) is not None]
                if upto:
                    xs.append(i + 1)
                    ys.append(float(np.mean(upto)))
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
        ax.set_title(LABELS[metric], fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("time (share of traffic, 1/12 steps)", fontsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"experiment {report.experiment}: cumulative metrics per variant", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _fmt(v: float, metric: str) -> str:
    if math.isnan(v):
        return "n/a"
    return f"{v:.1f}" if metric.endswith("_ms") else f"{v:.3f}"


def to_markdown(report: Report, plot: str | None = None) -> str:
    names = sorted(report.variants)
    lines = [f"# Experiment `{report.experiment}`", "",
             f"Control: `{report.control}`. Searches: "
             f"{sum(int(v['searches']) for v in report.variants.values())}.", "",
             "| variant | searches | users | " + " | ".join(LABELS[m] for m in METRICS)
             + " | p50 ms | p95 ms |",
             "|---" * (len(METRICS) + 5) + "|"]
    for n in names:
        v = report.variants[n]
        lines.append(f"| {n} | {int(v['searches'])} | {int(v['users'])} | "
                     + " | ".join(_fmt(v[m], m) for m in METRICS)
                     + f" | {_fmt(v['p50_ms'], 'x_ms')} | {_fmt(v['p95_ms'], 'x_ms')} |")
    lines += ["", "## Differences vs control (95% CI, bootstrap over users)", "",
              "| variant | metric | difference | 95% CI | |", "|---|---|---|---|---|"]
    for d in report.diffs:
        mark = "**significant**" if d.significant else ""
        lines.append(f"| {d.variant} | {LABELS[d.metric]} | {d.delta:+.4f} | "
                     f"[{d.low:+.4f}, {d.high:+.4f}] | {mark} |")
    srm = ("**sample ratio mismatch**: assignment or logging is broken, do not trust the "
           "differences" if report.srm_p < 0.001 else "no sample ratio mismatch")
    split = ", ".join(f"{k} {v:g}" for k, v in report.srm_expected.items())
    lines += ["", "## Checks", "",
              f"- Sample ratio (users per variant vs split {split}): chi-square p = "
              f"{report.srm_p:.4f}: {srm}.",
              f"- Sample size: {report.sample_size or 'n/a'} searches per variant detect a "
              f"change of {report.mde:+.3f} in click-through (alpha 0.05, power 0.8)."]
    verdict = report.verdict("ctr")
    lines += ["", "## Verdict (click-through)", ""] + [f"- `{k}`: {v}" for k, v in verdict.items()]
    if plot:
        lines += ["", f"![metrics over time]({plot})"]
    return "\n".join(lines) + "\n"


def to_html(report: Report, plot: Path | None = None) -> str:
    md = to_markdown(report)
    body = []
    table: list[str] = []
    for line in md.splitlines():
        if line.startswith("|"):
            if set(line) <= set("|-"):
                continue
            cells = [html.escape(c.strip()).replace("**", "") for c in line.strip("|").split("|")]
            tag = "th" if not table else "td"
            table.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:]).replace('`', '')}</h1>")
        elif line.startswith("- "):
            body.append(f"<p>{html.escape(line[2:]).replace('**', '')}</p>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if table:
        body.append("<table>" + "".join(table) + "</table>")
    if plot is not None:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        body.append(f'<img alt="metrics over time" src="data:image/png;base64,{data}">')
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;"
             "font-size:13px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>experiment "
            f"{html.escape(report.experiment)}</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(report: Report, out: Path | None, fmt: str = "markdown") -> str:
    """Render; with ``out``, also write the file and the plot there. Returns the text."""
    if out is None:
        return to_markdown(report) if fmt == "markdown" else to_html(report)
    out.mkdir(parents=True, exist_ok=True)
    try:
        plot: Path | None = plot_over_time(report, out / f"{report.experiment}-metrics.png")
    except ImportError:
        plot = None  # matplotlib is the `plots` extra
    if fmt == "html":
        text = to_html(report, plot)
        (out / f"{report.experiment}.html").write_text(text, encoding="utf-8")
    else:
        text = to_markdown(report, plot.name if plot else None)
        (out / f"{report.experiment}.md").write_text(text, encoding="utf-8")
    return text
