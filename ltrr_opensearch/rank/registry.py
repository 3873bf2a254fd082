"""The model registry: every ranker the product trained or shipped, and which one serves.

Entries live in the shared state index (``kind: ranker_model``, ``_id: ranker-model:NAME``)
with what produced them: feature set and its version, model type and definition, training
window, hyperparameters, offline metrics and the held-out evaluation rows. One document
(``kind: ranker_deployment``) names the serving model and the ones before it, so a rollback
is one write. The definition also lives in the LTR store, where ``sltr`` finds it.

Deploying is gated: a candidate must beat the deployed model on the candidate's held-out
judgments (NDCG@10, paired bootstrap over queries), both scored offline on the same logged
feature vectors, unless forced. A model in use cannot be deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.rank.ranker import Ranker
from ltrr_opensearch.state import ensure_state_index

logger = logging.getLogger(__name__)

MODEL_KIND, DEPLOYMENT_KIND = "ranker_model", "ranker_deployment"
DEPLOYMENT_ID = "ranker-deployment"


@dataclass(frozen=True)
class ModelEntry:
    """One registered model (what ``ltrr model show`` prints)."""

    name: str
    type: str  # model/linear | model/xgboost+json
    definition: Any  # as the LTR API takes it
    feature_set: str  # store name of the feature set it was trained on (carries the version)
    feature_names: tuple[str, ...]
    params: tuple[str, ...]  # the sltr params its features use
    source: str = "trained"  # trained | shipped default
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    training_window: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    heldout: Mapping[str, Any] = field(default_factory=dict)  # {"rows": [...], "labels": [...]}
    feature_normalizers: Mapping[str, Any] | None = None
    created_at: str = ""

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(kind=MODEL_KIND, feature_names=list(self.feature_names),
                   params=list(self.params))
        # Kept as text: the state index must never try to map a tree's keys.
        doc["definition"] = json.dumps(self.definition)
        doc["heldout"] = json.dumps(self.heldout)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ModelEntry:
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        fields["definition"] = json.loads(doc["definition"])
        fields["heldout"] = json.loads(doc.get("heldout") or "{}")
        fields["feature_names"] = tuple(doc["feature_names"])
        fields["params"] = tuple(doc.get("params", ()))
        return cls(**fields)

    def ranker(self, store: str | None = None) -> Ranker:
        from ltrr_opensearch.rank.gate import predict

        return Ranker(self.name, self.feature_names, frozenset(self.params), store,
                      self.feature_set, predict=lambda rows: predict(self, rows))

    def store_body(self, feature_set: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /_ltr/_model/NAME`` body, with its own frozen copy of the feature set."""
        model: dict[str, Any] = {"type": self.type, "definition": self.definition}
        if self.feature_normalizers:
            model["feature_normalizers"] = dict(self.feature_normalizers)
        return {"model": {"name": self.name, "feature_set": dict(feature_set), "model": model}}


@dataclass(frozen=True)
class Deployment:
    model: str | None
    history: tuple[str, ...]  # earlier deployed models, newest last
    updated_at: str | None = None


def _model_id(name: str) -> str:
    return f"ranker-model:{name}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def get_entry(client: OpenSearch, settings: Settings, name: str) -> ModelEntry:
    try:
        doc = client.get(index=settings.state_index, id=_model_id(name))["_source"]
    except os_exc.NotFoundError:
        raise ValidationError(f"no model named {name!r} in the registry",
                              hint="`ltrr model list` shows the registered models") from None
    return ModelEntry.from_doc(doc)


def list_entries(client: OpenSearch, settings: Settings) -> list[ModelEntry]:
    try:  # every entry, however many: a registry listing must not stop at one page
        entries = [ModelEntry.from_doc(h["_source"]) for h in scan(
            client, settings.state_index, {"term": {"kind": MODEL_KIND}})]
    except os_exc.NotFoundError:
        return []
    return sorted(entries, key=lambda e: e.created_at)


def deployment(client: OpenSearch, settings: Settings) -> Deployment:
    try:
        doc = client.get(index=settings.state_index, id=DEPLOYMENT_ID)["_source"]
    except os_exc.NotFoundError:
        return Deployment(None, ())
    return Deployment(doc.get("model"), tuple(doc.get("history", ())), doc.get("updated_at"))


def register(client: OpenSearch, settings: Settings, entry: ModelEntry,
             feature_set_body: Mapping[str, Any]) -> ModelEntry:
    """Put the model in the LTR store (it validates it) and then in the registry."""
    ensure_state_index(client, settings)
    if client.exists(index=settings.state_index, id=_model_id(entry.name)):
        raise ValidationError(f"a model named {entry.name!r} is already registered",
                              hint="models are immutable: train under a new name")
    ltr_store_put(client, entry, feature_set_body)
    entry = entry if entry.created_at else _with_created(entry)
    client.index(index=settings.state_index, id=_model_id(entry.name), body=entry.to_doc(),
                 refresh="wait_for")
    return entry


def _with_created(entry: ModelEntry) -> ModelEntry:
    from dataclasses import replace

    return replace(entry, created_at=_now())


def ltr_store_put(client: OpenSearch, entry: ModelEntry,
                  feature_set_body: Mapping[str, Any]) -> None:
    """Create the model in the LTR store unless the same model is there already under this
    name (the store is cluster-wide: another registry may have put it there). A different
    model under the name is refused: ``sltr`` would serve it, not the one registered."""
    body = entry.store_body(feature_set_body)
    try:
        stored = client.plugins.ltr.get_model(id=entry.name)
    except os_exc.NotFoundError:
        stored = None
    if stored is not None:
        if _canonical(stored.get("_source", {}).get("model", {})) == _canonical(body["model"]):
            return
        raise ValidationError(f"the LTR store already holds a different model named "
                              f"{entry.name!r}", hint="models are immutable: use a new name")
    try:
        client.plugins.ltr.create_model(id=entry.name, body=body)
    except os_exc.RequestError as exc:
        raise ValidationError(f"the LTR store refused model {entry.name!r}: "
                              f"{reason(exc)}") from None


def _canonical(model: Mapping[str, Any]) -> str:
    """A stored model (feature set, type, definition, normalizers) as comparable text."""
    inner = dict(model.get("model") or {})
    if isinstance(inner.get("definition"), str):
        with contextlib.suppress(ValueError):
            inner["definition"] = json.loads(inner["definition"])
    features = (model.get("feature_set") or {}).get("features")
    return json.dumps([features, inner], sort_keys=True)


def reason(exc: os_exc.TransportError) -> str:
    info = exc.info if isinstance(exc.info, Mapping) else {}
    error = info.get("error", {})
    if isinstance(error, Mapping):
        return str(error.get("reason") or error)
    return str(error or exc.error)


def deploy(client: OpenSearch, settings: Settings, name: str, *, force: bool = False,
           gate: Any = None) -> tuple[Deployment, str]:
    """Make ``name`` the serving model. ``gate(candidate, deployed) -> (ok, message)`` decides
    whether it beats the deployed one; ``force`` skips it. Returns the deployment and why."""
    entry = get_entry(client, settings, name)
    current = deployment(client, settings)
    if current.model == name:
        return current, f"{name} is already deployed"
    message = "no model was deployed"
    if current.model is not None and not force:
        if gate is None:
            raise ValidationError("deploying over a deployed model needs a gate or --force")
        ok, message = gate(entry, get_entry(client, settings, current.model))
        if not ok:
            raise ValidationError(f"{name} does not beat the deployed {current.model}: {message}",
                                  hint="deploy it anyway with --force")
    elif force and current.model is not None:
        message = "forced"
    _check_in_store(client, entry)
    history = (*current.history, current.model) if current.model else current.history
    logger.info("deploying model %s over %s (%s)", name, current.model or "none", message)
    return _write(client, settings, Deployment(name, history[-20:], _now())), message


def rollback(client: OpenSearch, settings: Settings) -> Deployment:
    """Serve the newest earlier model that is still registered (a model deleted from the
    registry since is skipped: serving it would leave the search path without an entry)."""
    current = deployment(client, settings)
    history = list(current.history)
    while history:
        target = history.pop()
        try:
            entry = get_entry(client, settings, target)
        except ValidationError:
            continue
        _check_in_store(client, entry)
        logger.info("rolling back from model %s to %s", current.model, target)
        return _write(client, settings, Deployment(target, tuple(history), _now()))
    raise ValidationError("nothing to roll back to: no model still registered was deployed "
                          f"before {current.model or 'this'}")


def delete(client: OpenSearch, settings: Settings, name: str) -> None:
    current = deployment(client, settings)
    if name == current.model:
        raise ValidationError(f"{name} is the deployed model and cannot be deleted",
                              hint="deploy another model or roll back first")
    get_entry(client, settings, name)
    client.delete(index=settings.state_index, id=_model_id(name), refresh="wait_for")
    if name not in current.history:  # a rollback target keeps its definition in the store
        with contextlib.suppress(os_exc.NotFoundError):
            client.plugins.ltr.delete_model(id=name)


def _check_in_store(client: OpenSearch, entry: ModelEntry) -> None:
    try:
        client.plugins.ltr.get_model(id=entry.name)
    except os_exc.NotFoundError:
        raise ValidationError(f"model {entry.name!r} is registered but missing from the LTR "
                              "store (was the store deleted?)",
                              hint="run `ltrr ltr init` and register it again") from None


def _write(client: OpenSearch, settings: Settings, value: Deployment) -> Deployment:
    ensure_state_index(client, settings)
    client.index(index=settings.state_index, id=DEPLOYMENT_ID, refresh="wait_for", body={
        "kind": DEPLOYMENT_KIND, "model": value.model, "history": list(value.history),
        "updated_at": value.updated_at})
    return value


def deployed_ranker(client: OpenSearch, settings: Settings) -> Ranker | None:
    """The serving model as the search path uses it; None when nothing is deployed or the
    cluster has no state yet (the search path then orders candidates by fusion)."""
    try:
        current = deployment(client, settings)
        if current.model is None:
            return None
        return get_entry(client, settings, current.model).ranker()
    except (os_exc.TransportError, LtrrError):
        return None


def diff(a: ModelEntry, b: ModelEntry) -> dict[str, Any]:
    """What differs between two entries, for ``ltrr model diff``."""
    out: dict[str, Any] = {}
    for key in ("type", "feature_set", "source", "hyperparameters", "training_window", "metrics"):
        va, vb = getattr(a, key), getattr(b, key)
        if va != vb:
            out[key] = {a.name: va, b.name: vb}
    only_a = sorted(set(a.feature_names) - set(b.feature_names))
    only_b = sorted(set(b.feature_names) - set(a.feature_names))
    if only_a or only_b:
        out["features"] = {f"only in {a.name}": only_a, f"only in {b.name}": only_b}
    return out
