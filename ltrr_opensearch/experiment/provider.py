"""The default OpenFeature provider: a flagd-format flag file read in process, no server.

The file is re-read when its modification time or size changes (checked at most every
``check_seconds`` on evaluation, so a request pays one ``stat`` at most, and an edit is in
force within that interval). A file that does not parse or validate is rejected: the
reason is logged and kept in :attr:`FileFlagProvider.problem`, and the last good flags
stay in force. Any other OpenFeature provider (flagd itself, a vendor's) can stand in its
place: :class:`~ltrr_opensearch.experiment.flags.FlagSource` only talks to an
OpenFeature client.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.experiment.flagd import (
    FlagFileError,
    FlagSet,
    UnknownVariantError,
    evaluate,
    parse_flags,
)

logger = logging.getLogger(__name__)


class FileFlagProvider(AbstractProvider):
    """OpenFeature provider over one flag file (see module docstring)."""

    def __init__(self, path: str | Path, check_seconds: float = 1.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.check_seconds = check_seconds
        self.problem: str | None = None  # why the newest file was rejected, if it was
        self.reloads = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        try:
            text = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read flag file {str(self.path)!r}: {exc.strerror}") from None
        self.flags: FlagSet = parse_flags(text, str(self.path))  # a bad first file is fatal
        self._stamp = self._stat()

    def get_metadata(self) -> Metadata:
        return Metadata(name="ltrr-flag-file")

    # ----------------------------------------------------------------- reload
    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def maybe_reload(self, force: bool = False) -> bool:
        """Re-read the file if it changed; True if new flags are now in force."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return False
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp is None:
                self._reject(f"flag file {str(self.path)!r} is missing", stamp)
                return False
            if stamp == self._stamp and not force:
                return False
            try:
                flags = parse_flags(self.path.read_bytes(), str(self.path))
            except (FlagFileError, OSError) as exc:
                self._reject(getattr(exc, "message", str(exc)), stamp)
                return False
            self.flags, self._stamp, self.problem = flags, stamp, None
            self.reloads += 1
            logger.info("flag file reloaded: %s (%d flags)", self.path, len(flags.flags))
            return True

    def _reject(self, reason: str, stamp: tuple[int, int] | None) -> None:
        if self._stamp == stamp and self.problem == reason:
            return
        self._stamp = stamp  # not re-read until it changes again
        self.problem = reason
        self.rejected += 1
        logger.error("flag file rejected, last good flags stay in force: %s", reason)

    # ------------------------------------------------------------- resolution
    def _resolve(self, key: str, default: Any, context: EvaluationContext | None,
                 accepts: tuple[type, ...]) -> FlagResolutionDetails[Any]:
        self.maybe_reload()
        flags = self.flags
        flag = flags.flags.get(key)
        if flag is None:
            return FlagResolutionDetails(default, ErrorCode.FLAG_NOT_FOUND,
                                         f"flag {key!r} is not in {self.path.name}",
                                         Reason.ERROR)
        ctx: dict[str, Any] = dict(context.attributes) if context else {}
        if context and context.targeting_key is not None:
            ctx["targetingKey"] = context.targeting_key
        try:
            variant, reason = evaluate(flags, flag, ctx)
        except UnknownVariantError as exc:
            return FlagResolutionDetails(default, ErrorCode.GENERAL, str(exc), Reason.ERROR)
        value = flag.variants[variant]
        if not _accepts(value, accepts):
            return FlagResolutionDetails(
                default, ErrorCode.TYPE_MISMATCH,
                f"flag {key!r} variant {variant!r} is {type(value).__name__}, "
                f"not {'/'.join(t.__name__ for t in accepts)}", Reason.ERROR)
        if accepts == (float,) and isinstance(value, int):
            value = float(value)
        metadata = {k: v for k, v in (flag.metadata or {}).items()
                    if isinstance(v, (bool, int, float, str))}
        return FlagResolutionDetails(value, reason=reason, variant=variant,
                                     flag_metadata=metadata)

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, (bool,))

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, (str,))

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, (int,))

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None
                              ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, (float,))

    def resolve_object_details(self, flag_key: str,
                               default_value: Sequence[Any] | Mapping[str, Any],
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[Any]:
        return self._resolve(flag_key, default_value, evaluation_context, (list, dict))


def _accepts(value: Any, accepts: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in accepts
    if accepts == (float,):
        return isinstance(value, (int, float))
    return isinstance(value, accepts)
