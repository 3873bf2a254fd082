"""Feature sets as templates: one folder per set, one JSON file per feature.

``<templates_dir>/features/<set>/NN_<feature>.json`` holds ``{"name", "description",
"params", "template_language": "mustache", "template"}`` where ``template`` is the query as
an object (``"{{keywords}}"`` inside strings) or as a string (for list params spliced with
``{{#toJson}}name{{/toJson}}``). The LTR plugin renders the template with the ``sltr``
params at search time, JSON-escaping every value, so user text never reaches the DSL raw.

Every feature must match every document (a ``bool`` whose ``filter`` is ``match_all``) so a
candidate that a clause misses gets 0, not "missing": training and serving then see the same
numbers with either LTR plugin (the official one sends missing values to tree models as NaN).

The set's store name carries a digest of its content (``ltrr_core_3f9a1c2e``): a changed set
is a new set, and models created from an older one keep their own frozen copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.types import Understanding

DEFAULT_SET = "ltrr_core"
# The params the search path can pass; a feature may declare any of them.
SLTR_PARAMS = frozenset({"query", "keywords", "now", "q2e_key", "intent", "genres", "moods",
                         "decades", "languages", "creators", "query_vector", "facet_count",
                         "query_terms"})
FACET_PARAMS = ("genres", "moods", "decades", "languages")
NO_MEMORY_KEY = "_none_"  # a q2e key no entity has: the memory feature is then 0
_FIELDS = {"name", "description", "params", "template_language", "template"}
_PLACEHOLDER = re.compile(r"\{\{\{?\s*[#^/]?\s*([A-Za-z_][\w.]*)\s*\}?\}\}")
_SLOT_PARAMS = {"genre": "genres", "mood": "moods", "decade": "decades", "language": "languages",
                "artist": "creators"}


@dataclass(frozen=True)
class FeatureTemplate:
    name: str
    description: str
    params: tuple[str, ...]
    template: str | dict[str, Any]
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    def to_store(self) -> dict[str, Any]:
        """The feature as the LTR API takes it."""
        return {"name": self.name, "params": list(self.params), "template_language": "mustache",
                "template": self.template}


@dataclass(frozen=True)
class FeatureSet:
    base_name: str
    features: tuple[FeatureTemplate, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def params(self) -> set[str]:
        return {p for f in self.features for p in f.params}

    @property
    def version(self) -> str:
        canonical = json.dumps([f.to_store() for f in self.features], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]

    @property
    def store_name(self) -> str:
        return f"{self.base_name}_{self.version}"

    def to_store(self) -> dict[str, Any]:
        return {"name": self.store_name, "features": [f.to_store() for f in self.features]}


def features_dir(settings: Settings) -> Path:
    return Path(settings.templates_dir) / "features"


def available_sets(settings: Settings) -> list[str]:
    root = features_dir(settings)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load_feature_set(settings: Settings, name: str = DEFAULT_SET) -> FeatureSet:
    """Read and check one feature set folder; every problem names its file."""
    folder = features_dir(settings) / name
    if not folder.is_dir():
        raise ConfigError(f"feature set {name!r} not found in {features_dir(settings)}",
                          hint=f"available: {', '.join(available_sets(settings)) or 'none'}")
    features: list[FeatureTemplate] = []
    for path in sorted(folder.glob("*.json")):
        feature = _read_feature(path)
        if feature.name in {f.name for f in features}:
            raise ConfigError(f"{path}: feature name {feature.name!r} is used twice in set {name}")
        features.append(feature)
    if not features:
        raise ConfigError(f"feature set {name!r} ({folder}) has no *.json feature files")
    return FeatureSet(name, tuple(features))


def _read_feature(path: Path) -> FeatureTemplate:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: must hold a JSON object")
    unknown = set(doc) - _FIELDS
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    name, params, template = doc.get("name"), doc.get("params", []), doc.get("template")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ConfigError(f"{path}: name must be lowercase letters, digits and _, got {name!r}")
    if doc.get("template_language", "mustache") != "mustache":
        raise ConfigError(f"{path}: template_language must be mustache")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ConfigError(f"{path}: params must be a list of names")
    undeclared = set(params) - SLTR_PARAMS
    if undeclared:
        raise ConfigError(f"{path}: params {sorted(undeclared)} are not passed by the search path",
                          hint=f"choose from {', '.join(sorted(SLTR_PARAMS))}")
    if isinstance(template, dict):
        text = json.dumps(template)
    elif isinstance(template, str):
        text = template
    else:
        raise ConfigError(f"{path}: template must be a query object or a string")
    used = set(_PLACEHOLDER.findall(text)) - {"toJson"}
    if used - set(params):
        raise ConfigError(f"{path}: the template uses {sorted(used - set(params))} "
                          "without declaring them in params")
    return FeatureTemplate(name, str(doc.get("description", "")), tuple(params), template, path)


def sltr_params(understanding: Understanding, *, q2e_key: str | None,
                vector: Sequence[float] | None, now: datetime | date | None = None,
                needed: set[str] | None = None) -> dict[str, Any]:
    """The params every feature of a set may use, from what query understanding found."""
    slots: dict[str, list[str]] = {param: [] for param in _SLOT_PARAMS.values()}
    for slot in understanding.slots:
        param = _SLOT_PARAMS.get(slot.kind)
        if param and slot.value not in slots[param]:
            slots[param].append(slot.value)
    when = now or datetime.now(timezone.utc)
    params: dict[str, Any] = {
        "query": understanding.raw,
        "keywords": understanding.normalized or understanding.raw,
        "now": (when.date() if isinstance(when, datetime) else when).isoformat(),
        "q2e_key": q2e_key or NO_MEMORY_KEY,
        "intent": understanding.intent or "",
        **slots,
        "query_vector": [float(x) for x in vector] if vector is not None else None,
        "facet_count": sum(1 for p in FACET_PARAMS if slots[p]),
        "query_terms": len(understanding.tokens),
    }
    if needed is not None:
        params = {k: v for k, v in params.items() if k in needed}
    return params


def values_by_name(logged: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[float]:
    """One ``_ltrlog`` entry's values in feature-set order (a missing value counts 0)."""
    found = {entry["name"]: float(entry.get("value", 0.0)) for entry in logged}
    return [found.get(name, 0.0) for name in names]
