"""The UBI event model: validation, normalisation and the de-duplication key.

An event is accepted when it has the fields the consumers need, with the right types:
``action_name`` (a configured action), ``query_id``, ``client_id``, ``timestamp`` (ISO 8601
or epoch milliseconds), ``event_attributes.object.object_id`` and optionally
``event_attributes.position.ordinal`` (integer >= 0) and ``event_id``. Anything else the
client sends is kept as is. Refusals carry a reason a person can act on.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ltrr_opensearch.feedback.config import FeedbackConfig

MAX_ID_CHARS = 512
REFORMULATION = "reformulation"  # derived credit, see feedback/sessions.py
_OPTIONAL_STRINGS = ("application", "session_id", "user_id", "message_type", "message")


@dataclass(frozen=True)
class Rejected:
    """An event that was not accepted, with the original text and why."""

    payload: str
    reason: str
    line: int | None
    stage: str  # "validate" (our checks) or "index" (OpenSearch refused the doc)


@dataclass(frozen=True)
class Accepted:
    """A valid event ready to index: ``key`` is its doc ``_id``."""

    key: str
    doc: dict[str, Any]
    payload: str
    line: int | None


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(
        timezone.utc)


@functools.lru_cache(maxsize=4096)  # the same instants recur: a batch's clock, its events
def format_ts(value: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the one timestamp format we write."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 text (naive means UTC) or epoch milliseconds -> aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be ISO 8601 text or epoch milliseconds")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
    if isinstance(value, str) and value:
        return to_utc(datetime.fromisoformat(value))
    raise ValueError("timestamp must be ISO 8601 text or epoch milliseconds")


def event_key(event: dict[str, Any]) -> str:
    """The doc ``_id``: the client's ``event_id``, else a hash of the event's content, so a
    replayed event (same content) lands on the same doc and is refused as a duplicate."""
    if event.get("event_id"):
        return str(event["event_id"])
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def payload_text(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)


def validate_event(raw: Any, config: FeedbackConfig, line: int | None = None
                   ) -> Accepted | Rejected:
    """Check one event (a dict, or a JSON text line) and return it accepted or rejected."""
    payload = payload_text(raw)
    size = len(payload.encode("utf-8"))
    if size > config.max_event_bytes:
        return Rejected(payload, f"event is {size} bytes, over the {config.max_event_bytes}-byte "
                                 "cap", line, "validate")
    event = raw
    if isinstance(raw, str):
        try:
            event = json.loads(raw)
        except json.JSONDecodeError as exc:
            return Rejected(payload, f"not valid JSON: {exc.msg} at column {exc.colno}",
                            line, "validate")
    if not isinstance(event, dict):
        return Rejected(payload, "event must be a JSON object", line, "validate")
    problem = _problem(event, config)
    if problem:
        return Rejected(payload, problem, line, "validate")
    doc = dict(event)
    doc["timestamp"] = format_ts(parse_timestamp(event["timestamp"]))
    key = event_key(event)
    doc["event_key"] = key
    return Accepted(key, doc, payload, line)


def _problem(event: dict[str, Any], config: FeedbackConfig) -> str | None:
    """The first thing wrong with ``event``, or None."""
    for name in ("action_name", "query_id", "client_id"):
        value = event.get(name)
        if value is None:
            return f"missing {name}"
        if not isinstance(value, str) or not value.strip():
            return f"{name} must be a non-empty string, got {type(value).__name__}"
        if len(value) > MAX_ID_CHARS:
            return f"{name} is longer than {MAX_ID_CHARS} characters"
    if event["action_name"] == REFORMULATION:
        return "action_name 'reformulation' is derived by ltrr from sessions, not accepted from clients"
    if event["action_name"] not in config.actions:
        return (f"unknown action_name {event['action_name'][:64]!r} "
                f"(known: {', '.join(config.actions)})")
    if "timestamp" not in event:
        return "missing timestamp"
    try:
        parse_timestamp(event["timestamp"])
    except (ValueError, OverflowError, OSError):
        return f"timestamp {str(event['timestamp'])[:64]!r} is not ISO 8601 or epoch millis"
    if "event_id" in event:
        eid = event["event_id"]
        if not isinstance(eid, str) or not eid.strip() or len(eid) > MAX_ID_CHARS:
            return f"event_id must be a non-empty string of at most {MAX_ID_CHARS} characters"
    for name in _OPTIONAL_STRINGS:
        if event.get(name) is not None and not isinstance(event[name], str):
            return f"{name} must be a string, got {type(event[name]).__name__}"
    attrs = event.get("event_attributes")
    if not isinstance(attrs, dict):
        return "missing event_attributes (an object with object.object_id)"
    obj = attrs.get("object")
    if not isinstance(obj, dict):
        return "missing event_attributes.object"
    object_id = obj.get("object_id")
    if not isinstance(object_id, str) or not object_id.strip() or len(object_id) > MAX_ID_CHARS:
        return "event_attributes.object.object_id must be a non-empty string"
    position = attrs.get("position")
    if position is not None:
        if not isinstance(position, dict):
            return "event_attributes.position must be an object"
        ordinal = position.get("ordinal")
        if ordinal is not None and (isinstance(ordinal, bool) or not isinstance(ordinal, int)
                                    or ordinal < 0):
            return "event_attributes.position.ordinal must be an integer >= 0"
    return None
