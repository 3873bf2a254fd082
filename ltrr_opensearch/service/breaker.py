"""A circuit breaker between the service and a sick cluster.

``closed``: requests go to the engine; each engine failure (unreachable, timed out, 429 or
5xx, every strategy failed) counts, any success resets the count. After ``failures``
consecutive failures it ``opens``: requests are answered 503 at once with ``Retry-After``
(the seconds left of the ``cooldown``), so a cluster that is down or overloaded is not
hammered by retries it cannot serve. When the cooldown is over it is ``half_open``: ONE
request is let through as a probe (the others still get 503); its success closes the
breaker, its failure opens it for another cooldown.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, failures: int = 5, cooldown: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or not cooldown > 0:
            raise ValueError("a circuit breaker needs failures >= 1 and a positive cooldown")
        self.threshold, self.cooldown, self.clock = failures, cooldown, clock
        self.state = CLOSED
        self.consecutive = 0
        self.opened_at = 0.0
        self.reason = ""  # the last failure that counted, shown while open
        self.opens = 0  # how many times it opened (a metric)
        self._probing = False
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None if the request may go to the engine, else seconds to wait (Retry-After)."""
        with self._lock:
            if self.state == CLOSED:
                return None
            left = self.opened_at + self.cooldown - self.clock()
            if self.state == OPEN and left > 0:
                return left
            if self._probing:  # half open, a probe is in flight: the others wait for it
                return 1.0
            self.state, self._probing = HALF_OPEN, True
            return None

    def retry_after(self, wait: float) -> str:
        return str(max(1, math.ceil(wait)))

    def succeeded(self) -> None:
        with self._lock:
            self.state, self.consecutive, self._probing = CLOSED, 0, False

    def failed(self, reason: str) -> None:
        with self._lock:
            self.consecutive += 1
            self.reason = reason
            if self.state == HALF_OPEN or self.consecutive >= self.threshold:
                if self.state != OPEN:
                    self.opens += 1
                self.state, self.opened_at, self._probing = OPEN, self.clock(), False

    def released(self) -> None:
        """The admitted request ended with neither verdict (e.g. bad input): a probe slot
        it held is given back."""
        with self._lock:
            self._probing = False
