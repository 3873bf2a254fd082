"""Progress reporting for long operations: a bar on a terminal, silence in CI or --quiet."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled(quiet: bool = False) -> bool:
    return not quiet and not os.environ.get("CI") and sys.stderr.isatty()


class Progress:
    """``with Progress("indexing", total=n, quiet=q) as p: p.advance(k)``."""

    def __init__(self, label: str, total: int | None = None, quiet: bool = False) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = progress_enabled(quiet)
        self._started = time.monotonic()
        self._last_draw = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._draw(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            line = f"\r{self.label} [{bar:<30}] {self.done}/{self.total} {rate:,.0f}/s"
        else:
            line = f"\r{self.label} {self.done} {rate:,.0f}/s"
        sys.stderr.write(line)
        sys.stderr.flush()


def track(items: Iterable[T], label: str, total: int | None = None,
          quiet: bool = False) -> Iterator[T]:
    with Progress(label, total=total, quiet=quiet) as bar:
        for item in items:
            yield item
            bar.advance()
