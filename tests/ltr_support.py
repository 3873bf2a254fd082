"""Helpers shared by the integration tests of the LTR plugin's REST API (tests/test_plugin_*.py)."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from opensearchpy import exceptions as os_exc

ELEMENT_TYPES = ("model", "featureset", "feature")  # deletion order: a model before its set


def unique(prefix: str = "h7") -> str:
    """A name no other test (or engineer) uses: lowercase, valid as a store and an element name."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def feature(name: str, field: str = "title", param: str = "q") -> dict[str, Any]:
    """A mustache feature matching ``param`` against ``field``."""
    return {"name": name, "params": [param], "template_language": "mustache",
            "template": {"match": {field: f"{{{{{param}}}}}"}}}


def reason(exc: os_exc.TransportError) -> str:
    """The error text of an OpenSearch error response (the reason, its root causes and causes)."""
    info = exc.info
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            return json.dumps(error)
    return str(info)


def ltr_path(store: str | None, *parts: str) -> str:
    return "/".join(["/_ltr", *([store] if store else []), *parts])


def get_element(client, kind: str, name: str, store: str | None = None) -> dict[str, Any] | None:
    """The stored document of an element, or None when it does not exist."""
    getter = {"feature": client.plugins.ltr.get_feature, "featureset": client.plugins.ltr.get_featureset,
              "model": client.plugins.ltr.get_model}[kind]
    try:
        return getter(id=name, store=store)
    except os_exc.NotFoundError:
        return None


def delete_quietly(client, kind: str, name: str, store: str | None = None) -> None:
    deleter = {"feature": client.plugins.ltr.delete_feature,
               "featureset": client.plugins.ltr.delete_featureset,
               "model": client.plugins.ltr.delete_model}[kind]
    with contextlib.suppress(os_exc.NotFoundError):
        deleter(id=name, store=store)


class Made:
    """Elements a test created (or tried to), deleted at teardown whatever happened."""

    def __init__(self, client, dropped_store: str | None = None) -> None:
        self.client = client
        self.dropped_store = dropped_store  # a named store deleted later as a whole: skip its elements
        self.items: list[tuple[str, str, str | None]] = []

    def __call__(self, kind: str, name: str, store: str | None = None) -> str:
        self.items.append((kind, name, store))
        return name

    def cleanup(self) -> None:
        for kind in ELEMENT_TYPES:
            for k, name, store in self.items:
                if k == kind and not (store and store == self.dropped_store):
                    with contextlib.suppress(os_exc.TransportError):  # e.g. the store is gone
                        delete_quietly(self.client, kind, name, store)


def ensure_default_store(client) -> None:
    """Creates the default store when missing; never deletes it (other tests and people use it)."""
    if "_default_" not in client.plugins.ltr.list_stores().get("stores", {}):
        with contextlib.suppress(os_exc.RequestError):  # created concurrently
            client.plugins.ltr.create_default_store()


def drop_store(client, store: str) -> None:
    with contextlib.suppress(os_exc.NotFoundError):
        client.plugins.ltr.delete_store(store=store)


def make_docs_index(client, index: str) -> None:
    """Five documents with a one-shard index, so scores are deterministic."""
    client.indices.create(index=index, body={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"title": {"type": "text"}, "body": {"type": "text"}}}})
    titles = ["red song", "red red song", "blue song", "red blue song", "green song"]
    bodies = ["loud", "quiet red", "red red red", "loud blue", "quiet"]
    for i, (title, body) in enumerate(zip(titles, bodies, strict=True)):
        client.index(index=index, id=str(i), body={"title": title, "body": body})
    client.indices.refresh(index=index)
