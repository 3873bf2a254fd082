"""What the LTR plugin computes for an exported model, in pure Python.

Used to check an export before it is stored (train.py) and by parity tests against the
engine. The semantics are the plugin's: features are looked up by name; ``model/linear``
counts a missing or NaN feature as 0 after normalization; in ``model/xgboost+json`` a node
sends ``value < split_condition`` (compared in float32, as xgboost stores thresholds) to
``yes``, a missing value to the node's ``missing`` child when it names one, else to ``no``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ltrr_opensearch.errors import ValidationError

RAW_OBJECTIVES = {"reg:linear", "reg:squarederror", "rank:pairwise", "rank:ndcg", "rank:map",
                  "binary:logitraw"}
SIGMOID_OBJECTIVES = {"binary:logistic", "reg:logistic"}

Row = Mapping[str, float]


def normalize(value: float, spec: Mapping[str, Any]) -> float:
    """One plugin normalizer: ``{"standard": {mean, standard_deviation}}`` or
    ``{"min_max": {minimum, maximum}}``."""
    if "standard" in spec:
        s = spec["standard"]
        return (value - float(s["mean"])) / float(s["standard_deviation"])
    if "min_max" in spec:
        m = spec["min_max"]
        lo, hi = float(m["minimum"]), float(m["maximum"])
        return (value - lo) / (hi - lo)
    raise ValidationError(f"unknown normalizer {sorted(spec)}: use 'standard' or 'min_max'")


def _value(row: Row, name: str) -> float:
    value = row.get(name)
    return math.nan if value is None else float(value)


def predict_linear(definition: Mapping[str, float] | str,
                   normalizers: Mapping[str, Mapping[str, Any]] | None,
                   rows: Sequence[Row]) -> list[float]:
    """``sum(weight[f] * normalize(row[f]))`` with missing/NaN terms counted as 0."""
    weights = json.loads(definition) if isinstance(definition, str) else dict(definition)
    norms = normalizers or {}
    out = []
    for row in rows:
        total = 0.0
        for name, weight in weights.items():
            v = _value(row, name)
            if name in norms and not math.isnan(v):
                v = normalize(v, norms[name])
            if not math.isnan(v):
                total += float(weight) * v
        out.append(total)
    return out


def xgboost_margins(definition: Any, X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The raw sum of leaves of every row of ``X`` (columns in ``names`` order; NaN or a
    feature ``names`` lacks is missing), many rows at once, walking each tree level by level
    over all rows: ``value < split_condition`` in float32 goes to ``yes``, a missing value
    to ``missing`` when the node names one, else to ``no``."""
    trees, _ = trees_and_objective(definition, None)
    column = {name: i for i, name in enumerate(names)}
    values = np.asarray(X, dtype=np.float64)
    total = np.zeros(len(values), dtype=np.float64)
    for i, tree in enumerate(trees):
        nodes = _index(tree, f"tree {i}")
        at = np.full(len(values), int(tree["nodeid"]))
        for _ in range(len(nodes) + 1):
            splits = [n for n in np.unique(at) if "leaf" not in nodes[int(n)]]
            if not splits:
                break
            for nid in splits:
                node = nodes[int(nid)]
                rows = at == nid
                col = column.get(node["split"])
                v = values[rows, col] if col is not None else np.full(int(rows.sum()), np.nan)
                below = v.astype(np.float32) < np.float32(node["split_condition"])
                nxt = np.where(np.isnan(v), node.get("missing", node["no"]),
                               np.where(below, node["yes"], node["no"]))
                for target in np.unique(nxt):
                    if int(target) not in nodes:
                        raise ValidationError(f"tree {i}: node {nid} points at missing node "
                                              f"{int(target)}")
                at[rows] = nxt
        else:
            raise ValidationError(f"tree {i}: the tree has a cycle")
        total += np.array([nodes[int(n)]["leaf"] for n in at], dtype=np.float32)
    return total


def trees_and_objective(definition: Any, objective: str | None) -> tuple[list[dict], str]:
    data = json.loads(definition) if isinstance(definition, str) else definition
    if isinstance(data, Mapping):
        objective = objective or data.get("objective")
        data = data.get("splits")
    if not isinstance(data, list):
        raise ValidationError("xgboost+json definition must be a list of trees or "
                              "{\"objective\": ..., \"splits\": [trees]}")
    objective = objective or "reg:linear"
    if objective not in RAW_OBJECTIVES | SIGMOID_OBJECTIVES:
        raise ValidationError(f"unknown xgboost objective {objective!r}")
    return data, objective


def _index(tree: Mapping[str, Any], where: str) -> dict[int, Mapping[str, Any]]:
    """nodeid -> node for one tree (the dump nests children)."""
    nodes: dict[int, Mapping[str, Any]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if "nodeid" not in node:
            raise ValidationError(f"{where}: a node has no nodeid")
        if "leaf" not in node:
            lacking = [k for k in ("split", "split_condition", "yes", "no") if k not in node]
            if lacking:
                raise ValidationError(f"{where}: node {node['nodeid']} is neither a leaf nor a "
                                      f"split (lacks {', '.join(lacking)})")
        nodes[int(node["nodeid"])] = node
        stack.extend(node.get("children", ()))
    return nodes


def predict_xgboost_json(definition: Any, rows: Sequence[Row],
                         objective: str | None = None) -> list[float]:
    """Sum of every tree's leaf for each row; a sigmoid of it for logistic objectives."""
    trees, objective = trees_and_objective(definition, objective)
    names = sorted({name for row in rows for name in row})
    X = np.array([[_value(row, name) for name in names] for row in rows],
                 dtype=np.float64).reshape(len(rows), len(names))
    out = [float(total) for total in xgboost_margins(trees, X, names)]
    if objective in SIGMOID_OBJECTIVES:
        out = [1.0 / (1.0 + math.exp(-total)) for total in out]
    return out
