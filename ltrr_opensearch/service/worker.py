"""``ltrr worker``: the feedback loop (:mod:`ltrr_opensearch.loop`) on a schedule.

One JSON log line per cycle. SIGTERM or SIGINT stop it between cycles (a cycle in
progress finishes: every step is checkpointed, so stopping mid-way would also be safe, but
finishing keeps the log line honest). A failed cycle is logged and retried at the next
interval; ``--once`` runs one cycle and exits non-zero if it failed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from opensearchpy.exceptions import TransportError

from ltrr_opensearch.errors import LtrrError

logger = logging.getLogger(__name__)


def run_worker(loop: Any, *, interval: float, once: bool,
               stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    failures = 0
    cycle = 0
    while not stop.is_set():
        cycle += 1
        started = time.perf_counter()
        try:
            summary = loop.cycle()
        except (LtrrError, OSError, ConnectionError, TransportError) as exc:
            # TransportError: an engine refusal (429 breaker, 5xx, node lost mid-cycle) or
            # opensearch-py's own ConnectionError; the next cycle resumes from checkpoints.
            failures += 1
            logger.error("feedback cycle failed", extra={"fields": {
                "event": "cycle", "cycle": cycle, "ok": False,
                "error": str(exc), "ms": round((time.perf_counter() - started) * 1000, 1)}})
            if once:
                return 1
        else:
            logger.info("feedback cycle", extra={"fields": {
                "event": "cycle", "cycle": cycle, "ok": True, **summary.to_dict()}})
        if once:
            return 0
        stop.wait(interval)
    logger.info("worker stopped", extra={"fields": {"event": "stop", "cycles": cycle,
                                                    "failed": failures}})
    return 0


def install_stop_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        logger.info("stopping", extra={"fields": {"event": "signal",
                                                  "signal": signal.Signals(signum).name}})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
