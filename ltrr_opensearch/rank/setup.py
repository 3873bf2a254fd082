"""``ltrr ltr init``: the LTR store, the current feature set, and a ranker from the first query.

Idempotent: it creates what is missing and leaves the rest. The feature set is bound to the
catalog in force (its description and live mapping), so its store name differs per catalog.
The shipped default model (``default_ranker.json``, trained on simulated worlds with
catalog-agnostic features, see ``docs/ranking.md``) refers to features by name: it is created
from the bound set of whatever catalog this is (:func:`default_for`), registered, and deployed
only when no model is deployed yet, so a new catalog is ranked before any feedback and a
team's own deployment is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.rank import registry
from ltrr_opensearch.rank.features import DEFAULT_SET, FeatureSet, feature_set_for

DEFAULT_MODEL_FILE = Path(__file__).with_name("default_ranker.json")
DEFAULT_MODEL_PREFIX = "ltrr_default_"  # the shipped model's names, per bound feature set


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


def default_for(shipped: registry.ModelEntry, feature_set: FeatureSet
                ) -> registry.ModelEntry | None:
    """The shipped default model created from ``feature_set`` (the default set bound to some
    catalog): same definition, the set's store name, features and params, and a name of its
    own per bound set (the store is cluster-wide, models are immutable). The shipped model
    reads the catalog-independent core only, so the set must begin with the model's
    features in the model's order; the features a catalog adds after them (one per facet
    kind) are logged for the models trained on it. None when the set does not."""
    core = tuple(shipped.feature_names)
    if tuple(feature_set.names[:len(core)]) != core:
        return None
    if shipped.feature_set == feature_set.store_name:
        return shipped
    definition = json.dumps(shipped.definition, sort_keys=True)
    digest = hashlib.sha256(definition.encode()).hexdigest()[:8]
    return replace(shipped, name=f"{DEFAULT_MODEL_PREFIX}{feature_set.version}_{digest}",
                   feature_set=feature_set.store_name, feature_names=tuple(feature_set.names),
                   params=tuple(sorted(feature_set.params)), created_at="")


def ltr_init(client: OpenSearch, settings: Settings, *, feature_set_name: str = DEFAULT_SET,
             default_model: bool = True) -> InitReport:
    created = ensure_store(client)
    feature_set = feature_set_for(client, settings, feature_set_name)
    uploaded = ensure_feature_set(client, feature_set)
    notes: list[str] = []
    default_name = None
    current = registry.deployment(client, settings)
    if default_model:
        shipped = shipped_default()
        entry = default_for(shipped, feature_set) if shipped is not None else None
        if shipped is None:
            notes.append("no default model ships with this install: candidates are ordered by "
                         "fusion until a model is trained (`ltrr model train`)")
        elif entry is None:
            notes.append(f"the shipped default model uses the features of {DEFAULT_SET} "
                         f"({len(shipped.feature_names)}), but feature set {feature_set_name} "
                         "has others: not deployed")
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


def binding_problem(client: OpenSearch, settings: Settings, ranker: Any) -> str | None:
    """Why the deployed model's features do not read the catalog in force, or None: a model
    created from ``ltrr_core`` bound to other fields (the description or the mapping changed
    since) scores its features on fields this catalog does not have. A model on another
    feature set, or a catalog that does not bind (the catalog check says why), is not judged."""
    logged = getattr(ranker, "feature_set", None)
    if not logged or logged.rsplit("_", 1)[0] != DEFAULT_SET:
        return None
    try:
        current = feature_set_for(client, settings)
    except LtrrError:
        return None
    if current.store_name == logged:
        return None
    return (f"{ranker.model} was created from feature set {logged}, but the features bound to "
            f"this catalog and templates are {current.store_name}: the model reads other fields")


REBIND_FIX = ("train a model on this catalog (`ltrr model train`), or register the default for "
              "it with `ltrr ltr init` and deploy it (`ltrr model deploy NAME --force`)")


def ensure_ranker(client: OpenSearch, settings: Settings) -> str:
    """After a catalog is loaded or adopted: rank it from the first query.

    Runs :func:`ltr_init` when the cluster has an LTR API and no model is deployed for this
    prefix (a team's own deployment is left alone). Returns one line for the operator: what
    ranks the searches now, or why fusion orders them (without a ranker the merged order is
    rank fusion, measured worse than the best single strategy in docs/ranking.md)."""
    current = registry.deployment(client, settings).model
    stale = None
    if current is not None:
        # The shipped default bound to fields the catalog has changed since (an adopt added a
        # popularity twin, a description changed) is replaced; a team's own model never is.
        ranker = registry.deployed_ranker(client, settings)
        stale = binding_problem(client, settings, ranker) if ranker is not None else None
        if stale is None or not current.startswith(DEFAULT_MODEL_PREFIX):
            return f"ranker: {current} (deployed)" + (f"; warning: {stale}" if stale else "")
    try:
        report = ltr_init(client, settings)
        if stale is not None and report.default_model and report.default_model != current:
            registry.deploy(client, settings, report.default_model, force=True)
            return (f"ranker: redeployed the shipped default model as {report.default_model}, "
                    f"bound to this catalog's fields ({report.feature_set}); it replaces "
                    f"{current}")
    except LtrrError as exc:
        return (f"ranker: none — {exc.message}; searches are ordered by rank fusion until a "
                "ranker is deployed (`ltrr doctor`)")
    if report.deployed is None:
        return "ranker: none — " + ("; ".join(report.notes) or "no model deployed")
    return (f"ranker: deployed the shipped default model {report.deployed} on feature set "
            f"{report.feature_set} (`ltrr model list`)")
