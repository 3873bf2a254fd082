"""Index bodies from the versioned JSON files in ``ltrr_opensearch/mappings/`` (the one reader of them)."""

from __future__ import annotations

import json
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError


def load_mapping(settings: Settings, name: str, version: int = 1) -> dict[str, Any]:
    """``ltrr_opensearch/mappings/<name>.v<version>.json`` without its ``_comment`` (documentation for humans;
    OpenSearch rejects unknown keys)."""
    path = settings.mappings_dir / f"{name}.v{version}.json"
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read mapping {path}: {exc}") from None
    body.pop("_comment", None)
    return body
