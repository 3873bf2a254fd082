"""``ltrr ltr init``: the LTR store, the current feature set, and a ranker from the first query.

Idempotent: it creates what is missing and leaves the rest. The shipped default model
(``default_ranker.json``, trained on simulated worlds with catalog-agnostic features, see
``docs/ranking.md``) is registered and deployed only when no model is deployed yet, so a new
catalog is ranked before any feedback and a team's own deployment is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.rank import registry
from ltrr_opensearch.rank.features import DEFAULT_SET, FeatureSet, load_feature_set

DEFAULT_MODEL_FILE = Path(__file__).with_name("default_ranker.json")


@dataclass(frozen=True)
class InitReport:
    store_created: bool
    feature_set: str
    feature_set_created: bool
    default_model: str | None
    deployed: str | None
    notes: tuple[str, ...] = ()


def ensure_store(client: OpenSearch) -> bool:
    """Create the default LTR store when missing; True if it was created."""
    try:
        stores = client.plugins.ltr.list_stores().get("stores", {})
    except os_exc.TransportError as exc:
        if exc.status_code in (400, 404, 405):
            raise LtrrError("no Learning to Rank API answers on this cluster (GET /_ltr)",
                            hint="`ltrr doctor` says how to install the plugin") from None
        raise
    if "_default_" in stores:
        return False
    client.plugins.ltr.create_default_store()
    return True


def ensure_feature_set(client: OpenSearch, feature_set: FeatureSet) -> bool:
    """Upload the set under its versioned name unless it is there; True if uploaded."""
    try:
        client.plugins.ltr.get_featureset(id=feature_set.store_name)
        return False
    except os_exc.NotFoundError:
        pass
    try:
        client.plugins.ltr.create_featureset(id=feature_set.store_name,
                                             body={"featureset": feature_set.to_store()})
    except os_exc.RequestError as exc:
        why = registry.reason(exc)
        files = [str(f.path) for f in feature_set.features
                 if f.path is not None and f"feature [{f.name}]" in why]
        where = f" (in {', '.join(files)})" if files else ""
        raise ValidationError(f"the LTR store refused feature set {feature_set.store_name}: "
                              f"{why}{where}") from None
    return True


def shipped_default() -> registry.ModelEntry | None:
    if not DEFAULT_MODEL_FILE.is_file():
        return None
    return registry.ModelEntry.from_doc(json.loads(DEFAULT_MODEL_FILE.read_text()))


def ltr_init(client: OpenSearch, settings: Settings, *, feature_set_name: str = DEFAULT_SET,
             default_model: bool = True) -> InitReport:
    created = ensure_store(client)
    feature_set = load_feature_set(settings, feature_set_name)
    uploaded = ensure_feature_set(client, feature_set)
    notes: list[str] = []
    default_name = None
    current = registry.deployment(client, settings)
    if default_model:
        entry = shipped_default()
        if entry is None:
            notes.append("no default model ships with this install: candidates are ordered by "
                         "fusion until a model is trained (`ltrr model train`)")
        elif entry.feature_set != feature_set.store_name and feature_set_name == DEFAULT_SET:
            notes.append(f"the shipped default model was trained on {entry.feature_set}, but the "
                         f"templates now give {feature_set.store_name}: not deployed")
        else:
            default_name = entry.name
            known = {e.name for e in registry.list_entries(client, settings)}
            if entry.name not in known:
                registry.register(client, settings, entry, feature_set.to_store())
            if current.model is None:
                current, _ = registry.deploy(client, settings, entry.name)
            elif current.model != entry.name:
                notes.append(f"{current.model} is deployed: the default model was registered "
                             "but not deployed over it")
    return InitReport(created, feature_set.store_name, uploaded, default_name, current.model,
                      tuple(notes))
