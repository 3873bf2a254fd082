"""Size and rate limits in front of the service's handlers (a plain ASGI middleware).

* Bodies: a declared ``Content-Length`` over the limit is refused before it is read (by the
  request observer); a body sent without one (``Transfer-Encoding: chunked``) is read here
  up to the limit and refused with 413 as soon as it passes it, so no body of any framing
  is ever held in memory beyond ``max_body_bytes``.
* Rate: a token bucket per client address for ``/search`` and ``/events`` (``rate`` per
  second, bursts of ``burst``), 429 with ``Retry-After`` when empty; 0 turns it off. The
  probes (``/health``, ``/ready``, ``/metrics``) are never limited.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

LIMITED_PATHS = ("/search", "/events")
MAX_CLIENTS = 10_000  # buckets kept (least recently seen dropped first)


class TokenBuckets:
    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else 2 * rate)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if a token was taken, else seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, seen = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - seen) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
            return wait


class RequestLimits:
    def __init__(self, app: Any, *, max_body_bytes: int, rate: float = 0.0,
                 burst: float | None = None, metrics: Any = None) -> None:
        self.app, self.max_body_bytes, self.metrics = app, max_body_bytes, metrics
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.buckets is not None and path in LIMITED_PATHS:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.buckets.take(client)
            if wait > 0:
                self._count(path, "rate_limited")
                await _refuse(scope, send, 429, f"too many requests from {client}: at most "
                              f"{self.buckets.rate:g} per second (bursts of "
                              f"{self.buckets.burst:g})", retry_after=wait)
                return
        headers = dict(scope.get("headers") or ())
        if b"content-length" in headers or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        messages, size = [], 0  # no declared length: read it here, bounded
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                self._count(path, "too_large")
                await _refuse(scope, send, 413,
                              f"request body larger than {self.max_body_bytes} bytes")
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _count(self, path: str, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(path, kind).inc()


async def _refuse(scope: dict, send: Callable, status: int, message: str,
                  retry_after: float | None = None) -> None:
    request_id = (scope.get("state") or {}).get("request_id") or uuid.uuid4().hex
    body = json.dumps({"error": message, "request_id": request_id}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               (b"x-request-id", request_id.encode("latin-1"))]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
