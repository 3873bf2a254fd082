"""Flag files in flagd's JSON format: validation and in-process evaluation.

A file holds ``{"flags": {KEY: FLAG}, "$evaluators": {NAME: RULE}}``. A flag has
``state`` (ENABLED | DISABLED), ``variants`` (name -> value, all of one type),
``defaultVariant`` and optionally ``targeting``: a JSONLogic rule whose result names a
variant (null: the default variant). Supported operators: ``var``, ``if``, ``==``,
``===``, ``!=``, ``!==``, ``!``, ``!!``, ``and``, ``or``, ``<``, ``<=``, ``>``, ``>=``,
``in``, ``cat``, ``starts_with``, ``ends_with``, ``$ref`` (a shared evaluator) and
``fractional``.

``fractional`` splits by consistent hashing exactly as flagd does, so a user lands in the
same variant here and under flagd's own providers: the bucketing value (by default the
pair ``[flag key, targeting key]``) is written as canonical CBOR, hashed with 32-bit
MurmurHash3, scaled to the sum of the ``[variant, weight]`` weights and walks the buckets.
Without a targeting key the default variant serves. The flag key is part of the hashed
value, so two experiments assign users independently, and a split change moves users of
that flag only.

Everything that can be checked without a request is checked by :func:`parse_flags`: a
bad file raises :class:`FlagFileError` naming the flag and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ltrr_opensearch.errors import ConfigError

STATES = ("ENABLED", "DISABLED")
_OPERATORS = {"var", "if", "==", "===", "!=", "!==", "!", "!!", "and", "or", "<", "<=",
              ">", ">=", "in", "cat", "starts_with", "ends_with", "$ref", "fractional"}


class FlagFileError(ConfigError):
    """The flag file is not valid; the message says where and why."""


@dataclass(frozen=True)
class Flag:
    key: str
    state: str
    variants: Mapping[str, Any]
    default_variant: str
    targeting: Any = None  # a JSONLogic rule, or None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FlagSet:
    flags: Mapping[str, Flag]
    evaluators: Mapping[str, Any]


class UnknownVariantError(ValueError):
    """Targeting named a variant the flag does not have."""


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit (unsigned), the hash flagd's ``fractional`` uses."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    length = len(data)
    tail_at = length - length % 4
    for i in range(0, tail_at, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = 0
    tail = data[tail_at:]
    if len(tail) == 3:
        k ^= tail[2] << 16
    if len(tail) >= 2:
        k ^= tail[1] << 8
    if tail:
        k ^= tail[0]
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


# ------------------------------------------------------------------------ parsing
def parse_flags(text: str | bytes, source: str = "flag file") -> FlagSet:
    """Parse and validate a flagd flag file; raises :class:`FlagFileError`."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FlagFileError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise FlagFileError(f"{source}: the top level must be an object with \"flags\"")
    unknown = set(raw) - {"flags", "$evaluators", "$schema", "metadata"}
    if unknown:
        raise FlagFileError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}",
                            hint="known: flags, $evaluators, $schema, metadata")
    flags_raw = raw.get("flags")
    if not isinstance(flags_raw, Mapping):
        raise FlagFileError(f"{source}: \"flags\" must be an object of flag definitions")
    evaluators = raw.get("$evaluators", {})
    if not isinstance(evaluators, Mapping):
        raise FlagFileError(f"{source}: \"$evaluators\" must be an object")
    for name, rule in evaluators.items():
        _check_rule(rule, f"{source}: $evaluators.{name}", None, evaluators)
    flags = {key: _parse_flag(str(key), spec, source, evaluators)
             for key, spec in flags_raw.items()}
    return FlagSet(flags, dict(evaluators))


def _parse_flag(key: str, spec: Any, source: str, evaluators: Mapping[str, Any]) -> Flag:
    where = f"{source}: flag {key!r}"
    if not isinstance(spec, Mapping):
        raise FlagFileError(f"{where} must be an object")
    unknown = set(spec) - {"state", "variants", "defaultVariant", "targeting", "metadata"}
    if unknown:
        raise FlagFileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}",
                            hint="known: state, variants, defaultVariant, targeting, metadata")
    state = spec.get("state")
    if not isinstance(state, str) or state not in STATES:
        raise FlagFileError(f"{where}: state must be ENABLED or DISABLED, not {state!r}")
    variants = spec.get("variants")
    if not isinstance(variants, Mapping) or not variants:
        raise FlagFileError(f"{where}: variants must be a non-empty object of name -> value")
    kinds = {_kind(v) for v in variants.values()}
    if len(kinds) > 1:
        raise FlagFileError(f"{where}: variants mix value types ({', '.join(sorted(kinds))})")
    default = spec.get("defaultVariant")
    if not isinstance(default, str) or default not in variants:
        raise FlagFileError(f"{where}: defaultVariant {default!r} is not one of its variants "
                            f"({', '.join(map(str, variants))})")
    targeting = spec.get("targeting")
    if targeting == {}:
        targeting = None
    if targeting is not None:
        _check_rule(targeting, f"{where}: targeting", set(variants), evaluators)
    metadata = spec.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise FlagFileError(f"{where}: metadata must be an object")
    return Flag(key, state, dict(variants), str(default), targeting, metadata)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _check_rule(rule: Any, where: str, variants: set[str] | None,
                evaluators: Mapping[str, Any]) -> None:
    """Reject unknown operators, malformed fractional splits and split variants that the
    flag does not have (``variants`` None: a shared evaluator, checked where it is used)."""
    if isinstance(rule, list):
        for item in rule:
            _check_rule(item, where, variants, evaluators)
        return
    if not isinstance(rule, Mapping):
        return
    if len(rule) != 1:
        raise FlagFileError(f"{where}: a rule object has exactly one operator, got "
                            f"{', '.join(map(str, rule)) or 'none'}")
    op, args = next(iter(rule.items()))
    if op not in _OPERATORS:
        raise FlagFileError(f"{where}: unknown operator {op!r}",
                            hint="supported: " + ", ".join(sorted(_OPERATORS)))
    if op == "$ref":
        if args not in evaluators:
            raise FlagFileError(f"{where}: $ref to unknown evaluator {args!r}")
        if variants is not None:
            _check_rule(evaluators[args], f"{where} ($ref {args})", variants, evaluators)
        return
    if op == "fractional":
        _check_fractional(args, where, variants, evaluators)
        return
    _check_rule(args, where, variants, evaluators)


def _check_fractional(args: Any, where: str, variants: set[str] | None,
                      evaluators: Mapping[str, Any]) -> None:
    if not isinstance(args, list) or not args:
        raise FlagFileError(f"{where}: fractional takes a list of [variant, weight] buckets")
    buckets = args[1:] if not isinstance(args[0], list) else args
    if not isinstance(args[0], list):
        _check_rule(args[0], where, variants, evaluators)
    if not buckets:
        raise FlagFileError(f"{where}: fractional has no [variant, weight] buckets")
    for bucket in buckets:
        if (not isinstance(bucket, list) or len(bucket) not in (1, 2)
                or not isinstance(bucket[0], str)):
            raise FlagFileError(f"{where}: fractional bucket {bucket!r} must be "
                                f"[\"variant\", weight]")
        weight = bucket[1] if len(bucket) == 2 else 1
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise FlagFileError(f"{where}: fractional weight of {bucket[0]!r} must be a "
                                f"number >= 0, not {weight!r}")
        if variants is not None and bucket[0] not in variants:
            raise FlagFileError(f"{where}: fractional names unknown variant {bucket[0]!r}",
                                hint=f"variants: {', '.join(sorted(variants))}")
    if sum(float(b[1]) if len(b) == 2 else 1.0 for b in buckets) <= 0:
        raise FlagFileError(f"{where}: fractional weights sum to 0")


# --------------------------------------------------------------------- evaluation
def evaluate(flag_set: FlagSet, flag: Flag, context: Mapping[str, Any]) -> tuple[str, str]:
    """(variant name, reason) for ``context`` (which holds ``targetingKey`` and attributes).

    Reasons follow OpenFeature: DISABLED, STATIC (no targeting), TARGETING_MATCH,
    SPLIT (a fractional bucket), DEFAULT (targeting gave null). Raises
    :class:`UnknownVariantError` when targeting names a variant the flag lacks."""
    if flag.state == "DISABLED":
        return flag.default_variant, "DISABLED"
    if flag.targeting is None:
        return flag.default_variant, "STATIC"
    data = dict(context)
    data["$flagd"] = {"flagKey": flag.key}
    logic = _Logic(flag_set.evaluators)
    result = logic.run(flag.targeting, data)
    if result is None:
        return flag.default_variant, "DEFAULT"
    if isinstance(result, bool):
        result = "true" if result else "false"
    name = str(result)
    if name not in flag.variants:
        raise UnknownVariantError(f"targeting of flag {flag.key!r} chose unknown variant "
                                  f"{name!r} (variants: {', '.join(flag.variants)})")
    return name, "SPLIT" if logic.split else "TARGETING_MATCH"


class _Logic:
    def __init__(self, evaluators: Mapping[str, Any]) -> None:
        self.evaluators = evaluators
        self.split = False

    def run(self, rule: Any, data: Mapping[str, Any]) -> Any:
        if isinstance(rule, list):
            return [self.run(r, data) for r in rule]
        if not isinstance(rule, Mapping) or len(rule) != 1:
            return rule
        op, args = next(iter(rule.items()))
        if op == "$ref":
            return self.run(self.evaluators[args], data)
        if op == "var":
            return _var(args, data)
        if op == "if":
            return self._if(args, data)
        if op == "fractional":
            return self._fractional(args, data)
        if op in ("and", "or"):
            return self._and_or(op, args, data)
        values = self.run(args if isinstance(args, list) else [args], data)
        return _apply(op, values)

    def _if(self, args: list[Any], data: Mapping[str, Any]) -> Any:
        i = 0
        while i + 1 < len(args):
            if _truthy(self.run(args[i], data)):
                return self.run(args[i + 1], data)
            i += 2
        return self.run(args[i], data) if i < len(args) else None

    def _and_or(self, op: str, args: list[Any], data: Mapping[str, Any]) -> Any:
        value: Any = None
        for arg in args:
            value = self.run(arg, data)
            if (op == "and") != _truthy(value):
                return value
        return value

    def _fractional(self, args: list[Any], data: Mapping[str, Any]) -> Any:
        if isinstance(args[0], list):
            key = data.get("targetingKey")
            if not isinstance(key, str) or not key:
                return None  # no one to bucket: the default variant, as flagd does
            value: Any = [data["$flagd"]["flagKey"], key]
            buckets = args
        else:
            value = self.run(args[0], data)
            buckets = args[1:]
            if value is None:
                return None
        try:
            point = cbor_canonical(value)
        except TypeError:
            return None
        weights = [b[1] if len(b) == 2 else 1 for b in buckets]
        hashed = murmur3_32(point)
        # flagd: bucket = (hash * total) >> 32 over integer weights, so a user's bucket
        # is the same here and in flagd's own providers.
        if all(isinstance(w, int) for w in weights):
            spot: float = (hashed * sum(weights)) >> 32
        else:
            spot = hashed * float(sum(weights)) / 2 ** 32
        self.split = True
        edge = 0.0
        for bucket, weight in zip(buckets, weights, strict=True):
            edge += weight
            if spot < edge:
                return bucket[0]
        return buckets[-1][0]


def cbor_canonical(value: Any) -> bytes:
    """Canonical CBOR (RFC 8949 core deterministic: shortest heads, map keys in
    length-then-bytewise order, each float in the shortest width that keeps its value) of
    a JSON value, integral floats written as integers: the bytes flagd hashes for
    ``fractional``. Raises TypeError for anything that is not JSON."""
    import struct

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        raise TypeError(f"integer {n} is too large for CBOR")

    if value is None:
        return b"\xf6"
    if value is True or value is False:
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, float) and value.is_integer() and -2 ** 63 <= value < 2 ** 64:
        value = int(value)
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        for marker, fmt in ((0xF9, ">e"), (0xFA, ">f"), (0xFB, ">d")):
            try:
                packed = struct.pack(fmt, value)
            except OverflowError:
                continue
            if struct.unpack(fmt, packed)[0] == value or value != value:
                return bytes([marker]) + packed
    if isinstance(value, str):
        data = value.encode("utf-8")
        return head(3, len(data)) + data
    if isinstance(value, (list, tuple)):
        return head(4, len(value)) + b"".join(cbor_canonical(v) for v in value)
    if isinstance(value, Mapping):
        items = sorted(((cbor_canonical(k), cbor_canonical(v)) for k, v in value.items()),
                       key=lambda kv: (len(kv[0]), kv[0]))
        return head(5, len(items)) + b"".join(k + v for k, v in items)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _var(args: Any, data: Mapping[str, Any]) -> Any:
    path, default = (args[0], args[1] if len(args) > 1 else None) if isinstance(args, list) \
        else (args, None)
    if path in ("", None):
        return data
    value: Any = data
    for part in str(path).split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return default
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return bool(value) and value != "0"


def _apply(op: str, v: list[Any]) -> Any:
    try:
        if op in ("==", "==="):
            return v[0] == v[1]
        if op in ("!=", "!=="):
            return v[0] != v[1]
        if op == "!":
            return not _truthy(v[0])
        if op == "!!":
            return _truthy(v[0])
        if op in ("<", "<=", ">", ">="):
            a, b = float(v[0]), float(v[1])
            if op == "<" and len(v) == 3:
                return a < b < float(v[2])
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if op == "in":
            return v[0] in v[1] if v[1] is not None else False
        if op == "cat":
            return "".join("" if x is None else str(x) for x in v)
        if op == "starts_with":
            return str(v[0]).startswith(str(v[1]))
        if op == "ends_with":
            return str(v[0]).endswith(str(v[1]))
    except (TypeError, ValueError, IndexError):
        return None
    raise ValueError(f"unknown operator {op!r}")  # parse_flags rejects these first
