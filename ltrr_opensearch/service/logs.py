"""Structured logs: one JSON object per line, for the service and the worker.

Only what a call site passes in ``extra={"fields": {...}}`` is added, so settings (and the
password they wrap in :class:`~ltrr_opensearch.config.Secret`) never reach a log line by
accident; URLs are logged through ``Settings.display_urls`` (credentials dropped).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # Server-side only (never in a response): the exception's type and message.
            line["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO, stream: Any = None) -> None:
    """Route every logger through one JSON handler (replaces earlier handlers)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)  # our errors say it once
