"""The same event stream through the feedback consumers of another commit and of this tree, on
two index prefixes holding the same docs; then every output compared, and both times printed.

    git archive 8aa01fc ltrr_opensearch | tar -x -C /tmp/consumers-old
    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/compare_consumers.py \\
        --old-tree /tmp/consumers-old --events 20000

The stream is bench_events.py's (``--queries`` searches of 10 hits, events on them spread over
the last two days, so decay and the per-client cap count) plus 20 events that arrive before
their search is logged. Both runs score at the same clock. Reward docs, training rows, memory
evidence (without ``computed_at``) and the catalog's ``q2e`` maps are compared field by field;
floats that differ only by rounding (relative difference under 1e-12) are reported as such.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_events import make_catalog, synthetic  # noqa: E402

from ltrr_opensearch.bulk import scan  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.feedback import (  # noqa: E402
    ArmLog,
    SearchRecord,
    ingest_events,
    log_search,
    run_consumers,
)
from ltrr_opensearch.feedback.indices import (  # noqa: E402
    ensure_feedback_indices,
    memory_index,
    training_rows_index,
)

# Run in a separate interpreter whose ltrr_opensearch is the other tree's.
OLD_RUN = ("from datetime import datetime; from ltrr_opensearch.config import Settings; "
           "from ltrr_opensearch.engine.client import make_client; "
           "from ltrr_opensearch.feedback import run_consumers; "
           "s = Settings.load().with_overrides(index_prefix={prefix!r}); "
           "run_consumers(make_client(s), s, now=datetime.fromisoformat({now!r}), "
           "settle_seconds=0)")


def stream(args, now):
    rng = random.Random(7)
    events = list(synthetic(args.events, args.queries, args.entities, rng, "r"))
    for i, event in enumerate(events):
        event["timestamp"] = (now - timedelta(minutes=(i * 7) % 2880)).isoformat()
    events += [{"event_id": f"late-{i}", "action_name": "play", "query_id": f"late{i}",
                "client_id": f"u{i}", "timestamp": (now - timedelta(minutes=5)).isoformat(),
                "event_attributes": {"object": {"object_id": f"e{i}"}}} for i in range(20)]
    return events


def load(client, settings, args, events, now):
    make_catalog(client, settings, args.entities)
    ensure_feedback_indices(client, settings)
    log_search(client, settings, [
        SearchRecord(f"q{i}", f"query {i}",
                     tuple(f"e{(i + j) % args.entities}" for j in range(10)),
                     (ArmLog("bm25", 10, 1.0,
                             tuple(f"e{(i + j) % args.entities}" for j in range(5))),),
                     client_id="u0", timestamp=now - timedelta(days=3))
        for i in range(args.queries)], refresh="wait_for")
    ingest_events(client, settings, events)
    log_search(client, settings, [  # logged after their events arrived
        SearchRecord(f"late{i}", f"late query {i}", (f"e{i}",), client_id="u0",
                     timestamp=now - timedelta(hours=1)) for i in range(20)],
               refresh="wait_for")


def outputs(client, settings) -> dict[str, dict[str, Any]]:
    def every(index, query=None):
        client.indices.refresh(index=index)
        return {h["_id"]: h["_source"] for h in scan(client, index, query or {"match_all": {}})}

    def timeless(docs):
        return {k: {f: v for f, v in d.items() if f != "computed_at"} for k, d in docs.items()}

    return {"reward docs": timeless(every(settings.state_index, {"term": {"kind": "reward"}})),
            "training rows": every(training_rows_index(settings)),
            "memory evidence": timeless(every(memory_index(settings))),
            "catalog q2e": {k: d.get("q2e") for k, d in every(settings.catalog_alias).items()}}


def compare(a: Any, b: Any, path: str = "") -> tuple[list[str], float]:
    """(differences beyond float rounding, the largest relative rounding difference)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: only one side has {sorted(set(a) ^ set(b))[:5]}"], 0.0
        problems, worst = [], 0.0
        for key in a:
            found, rounding = compare(a[key], b[key], f"{path}/{key}")
            problems += found
            worst = max(worst, rounding)
        return problems, worst
    if isinstance(a, float) and isinstance(b, float) and a != b:
        relative = abs(a - b) / max(abs(a), abs(b))
        return ([f"{path}: {a!r} vs {b!r}"] if relative > 1e-12 else []), relative
    return ([] if a == b else [f"{path}: {a!r} vs {b!r}"]), 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-tree", required=True,
                        help="a directory holding the other commit's ltrr_opensearch package")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--entities", type=int, default=100)
    args = parser.parse_args()
    if not (Path(args.old_tree) / "ltrr_opensearch").is_dir():
        raise SystemExit(f"{args.old_tree} has no ltrr_opensearch package")

    base = Settings.load()
    client = make_client(base)
    cluster_info(client, base)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    tag = uuid.uuid4().hex[:6]
    old, new = (base.with_overrides(index_prefix=f"cmp-{side}-{tag}") for side in ("old", "new"))
    try:
        events = stream(args, now)
        for settings in (old, new):
            load(client, settings, args, events, now)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", OLD_RUN.format(prefix=old.index_prefix,
                                                             now=now.isoformat())],
                       check=True, cwd=args.old_tree,
                       env={**os.environ, "PYTHONPATH": os.path.abspath(args.old_tree)})
        took_old = time.perf_counter() - start
        start = time.perf_counter()
        run_consumers(client, new, now=now, settle_seconds=0)
        took_new = time.perf_counter() - start
        print(f"{len(events):,} events: the other tree's consumers {took_old:.1f} s, this tree's "
              f"{took_new:.1f} s")
        theirs, ours = outputs(client, old), outputs(client, new)
        for name in theirs:
            problems, rounding = compare(theirs[name], ours[name])
            verdict = ("identical" if not problems and not rounding else
                       f"equal up to float rounding (largest relative difference {rounding:.1e})"
                       if not problems else f"DIFFERENT: {problems[:5]}")
            print(f"  {name}: {len(theirs[name]):,} vs {len(ours[name]):,} docs, {verdict}")
    finally:
        for settings in (old, new):
            client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")


if __name__ == "__main__":
    main()
