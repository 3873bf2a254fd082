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


# ------------------------------------------------------------ by configuration
EXPERIMENT_KEYS = {"provider", "flag_file", "provider_args", "check_seconds"}
_RESOLVERS = ("get_metadata", "resolve_boolean_details", "resolve_string_details",
              "resolve_integer_details", "resolve_float_details", "resolve_object_details")


def provider_from_settings(settings: Any) -> Any | None:
    """The OpenFeature provider the ``[experiments]`` section names (None: no section, so
    no flags). ``provider = "file"`` (the default) reads ``flag_file`` in process; any
    other value is a class path ``"package.module:Class"`` built with the keyword arguments
    of ``[experiments.provider_args]``. Every failure is a :class:`ConfigError` naming it."""
    section = dict(settings.section("experiments"))
    if not section:
        return None
    unknown = set(section) - EXPERIMENT_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) in [experiments]: {', '.join(sorted(unknown))}",
                          hint=f"known keys: {', '.join(sorted(EXPERIMENT_KEYS))}")
    spec = section.get("provider", "file")
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"[experiments] provider must be \"file\" or a class path such as "
                          f"\"openfeature.contrib.provider.flagd:FlagdProvider\", got {spec!r}")
    args = section.get("provider_args", {})
    if not isinstance(args, Mapping):
        raise ConfigError("[experiments] provider_args must be a table of keyword arguments",
                          hint="write them under [experiments.provider_args]")
    if spec == "file":
        if args:
            raise ConfigError("[experiments] provider_args are for a provider class; the "
                              "file provider takes flag_file (and check_seconds)")
        path = section.get("flag_file")
        if not isinstance(path, str) or not path:
            raise ConfigError("[experiments] provider = \"file\" needs flag_file "
                              "(a flagd JSON flag file)")
        check = section.get("check_seconds", 1.0)
        if isinstance(check, bool) or not isinstance(check, (int, float)) or check < 0:
            raise ConfigError(f"[experiments] check_seconds must be a number >= 0, got {check!r}")
        return FileFlagProvider(path, check_seconds=float(check))
    for key in ("flag_file", "check_seconds"):
        if key in section:
            raise ConfigError(f"[experiments] {key} is for provider = \"file\"; give a "
                              f"provider class its settings in [experiments.provider_args]")
    return load_provider(spec, args)


def load_provider(spec: str, kwargs: Mapping[str, Any] | None = None) -> Any:
    """Import ``"package.module:Class"`` and build it with ``kwargs``: an OpenFeature
    provider (flagd's, a vendor's, your own ``AbstractProvider`` subclass)."""
    import importlib

    what = f"OpenFeature provider {spec!r}"
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or not all(p.isidentifier() for p in
                                              (*module_name.split("."), *attr.split("."))):
        raise ConfigError(f"{what} is not a class path",
                          hint="write it as \"package.module:ClassName\", e.g. "
                               "\"openfeature.contrib.provider.flagd:FlagdProvider\"")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what}: cannot import {module_name!r} ({exc})",
                          hint="install the package that provides it (flagd's: pip install "
                               "openfeature-provider-flagd)") from None
    except Exception as exc:  # the module itself failed while importing
        raise ConfigError(f"{what}: importing {module_name!r} failed: "
                          f"{type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{what}: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{what}: {attr!r} is not a class")
    try:
        provider = target(**_enum_args(target, dict(kwargs or {})))
    except Exception as exc:
        given = ", ".join(sorted(kwargs or {})) or "none"
        raise ConfigError(f"{what} could not be built with provider_args ({given}): "
                          f"{type(exc).__name__}: {exc}") from None
    missing = [m for m in _RESOLVERS if not callable(getattr(provider, m, None))]
    if missing:
        raise ConfigError(f"{what} is not an OpenFeature provider: it has no "
                          f"{', '.join(missing)}",
                          hint="subclass openfeature.provider.AbstractProvider")
    return provider


def _enum_args(target: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """TOML has no enums: a string given for a parameter typed as an Enum (or an optional
    one, as flagd's ``resolver_type``) becomes that Enum's member of that value or name."""
    import enum
    import inspect
    import typing

    try:
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    except Exception:  # unresolvable annotations: pass the arguments as given
        return kwargs
    out = dict(kwargs)
    for name, value in kwargs.items():
        if not isinstance(value, str):
            continue
        hint = hints.get(name)
        options = typing.get_args(hint) or (hint,)
        for option in options:
            if inspect.isclass(option) and issubclass(option, enum.Enum):
                member = next((m for m in option if m.value == value or m.name == value), None)
                if member is None:
                    raise ValueError(f"{name} must be one of "
                                     f"{', '.join(repr(m.value) for m in option)}, got {value!r}")
                out[name] = member
                break
    return out
