"""``ltrr doctor``: is this cluster fit to run ltrr-opensearch, and if not, how to fix it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client
from ltrr_opensearch.errors import ClusterUnreachable, LtrrError

OK, WARN, ERROR = "ok", "warn", "error"

# name -> (kind, why we need it)
REQUIRED = {
    "opensearch-knn": ("plugin", "k-NN vector retrieval"),
    "mapper-extras": ("module", "rank_feature / rank_features fields (popularity, Q2E memory)"),
    "analysis-common": ("module", "english analysis, asciifolding, edge n-grams"),
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | error
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Report:
    url: str
    checks: tuple[Check, ...]

    @property
    def blocking(self) -> bool:
        return any(c.status == ERROR for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": not self.blocking, "checks": [asdict(c) for c in self.checks]}


def diagnose(settings: Settings, client: OpenSearch | None = None) -> Report:
    client = client or make_client(settings)
    try:
        info = cluster_info(client, settings)
    except ClusterUnreachable as exc:
        return Report(settings.display_urls, (Check("reachable", ERROR, exc.message, exc.hint),))
    version = info.get("version", {}).get("number", "?")
    checks = [Check("reachable", OK, f"{info.get('version', {}).get('distribution', 'opensearch')} "
                    f"{version} answered at {settings.display_urls}")]
    checks.append(_health(client))
    installed = _installed_by_node(client)
    for name, (kind, why) in REQUIRED.items():
        checks.append(_component(name, kind, why, installed, version))
    checks.extend(_catalog(client, settings))
    ltr = _ltr_api(client, installed)
    checks.append(ltr)
    if ltr.status == OK:
        checks.append(_ltr_store(client))
        checks.append(_ranker(client, settings))
    return Report(settings.display_urls, tuple(checks))


def _catalog(client: OpenSearch, settings: Settings) -> list[Check]:
    """The catalog description against the live mapping: one check per problem, with its fix."""
    from ltrr_opensearch.retrieve.catalog import check_catalog

    return [Check("catalog", c.status, c.detail, c.fix) for c in check_catalog(client, settings)]


def _ranker(client: OpenSearch, settings: Settings) -> Check:
    """Which model ranks this prefix's searches (none: candidates are ordered by fusion)."""
    from ltrr_opensearch.rank.registry import deployed_ranker

    ranker = deployed_ranker(client, settings)
    if ranker is None or ranker.model is None:
        return Check("ranker", WARN, f"no model deployed for prefix {settings.index_prefix!r}: "
                     "candidates are ordered by fusion",
                     "run `ltrr ltr init` (deploys the shipped default ranker)")
    from ltrr_opensearch.rank.setup import REBIND_FIX, binding_problem

    if problem := binding_problem(client, settings, ranker):
        return Check("ranker", WARN, problem, REBIND_FIX)
    return Check("ranker", OK, f"{ranker.model} ranks searches (feature set {ranker.feature_set})")


# Plugin names of the LTR implementations we know, as nodes report them.
LTR_IMPLEMENTATIONS = {"ltrr-ltr": "ltrr's own LTR plugin (ltrr-ltr)",
                       "opensearch-ltr": "the official OpenSearch LTR plugin (opensearch-ltr)"}


def _ltr_api(client: OpenSearch, installed: dict[str, set[str]]) -> Check:
    """Learning to Rank is there when its API answers, whichever plugin provides it."""
    why = "Learning to Rank reranking inside the engine"
    try:
        client.plugins.ltr.list_stores()
    except os_exc.TransportError as exc:
        if exc.status_code not in (400, 404, 405):
            return Check("ltr", ERROR, f"the Learning to Rank API failed: {exc.error}")
        return Check("ltr", ERROR, f"no Learning to Rank API answers (GET /_ltr); needed for {why}",
                     "build ltrr's plugin with `ltrr plugin build` and install it on every node "
                     "(it prints the line), or install the official plugin; local node: "
                     "`ltrr engine up --refresh`")
    found = {name for names in installed.values() for name in names if name in LTR_IMPLEMENTATIONS}
    which = " and ".join(LTR_IMPLEMENTATIONS[n] for n in sorted(found)) or "an unknown implementation"
    missing_on = sorted(node for node, names in installed.items()
                        if not names & set(LTR_IMPLEMENTATIONS))
    if found and missing_on:
        return Check("ltr", ERROR, f"the LTR API answers ({which}) but nodes {', '.join(missing_on)} "
                     "lack the plugin: searches routed there fail",
                     "install the same plugin on every node and restart them in turn")
    return Check("ltr", OK, f"Learning to Rank API answers: {which}")


def _health(client: OpenSearch) -> Check:
    try:
        health = client.cluster.health()
    except os_exc.TransportError as exc:
        return Check("health", ERROR, f"cluster health unavailable: {exc.error}")
    status = health.get("status")
    detail = f"{status} ({health.get('number_of_nodes')} node(s))"
    if status == "red":
        return Check("health", ERROR, detail, "some primary shards are unassigned: see "
                     "GET _cluster/allocation/explain")
    return Check("health", OK, detail)


def _installed_by_node(client: OpenSearch) -> dict[str, set[str]]:
    nodes = client.nodes.info(metric="plugins")["nodes"]
    return {node.get("name", node_id): {p["name"] for p in node.get("plugins", [])}
            | {m["name"] for m in node.get("modules", [])}
            for node_id, node in nodes.items()}


def _component(name: str, kind: str, why: str, installed: dict[str, set[str]],
               version: str) -> Check:
    missing_on = sorted(node for node, names in installed.items() if name not in names)
    if not missing_on:
        return Check(name, OK, f"{kind} present ({why})")
    where = "all nodes" if len(missing_on) == len(installed) else ", ".join(missing_on)
    return Check(name, ERROR, f"{kind} {name} missing on {where}; needed for {why}",
                 _install_hint(name, kind, version))


def _install_hint(name: str, kind: str, version: str) -> str:
    plugin_version = f"{version}.0"
    if name == "opensearch-knn":
        return (f"on every node: bin/opensearch-plugin install "
                f"org.opensearch.plugin:opensearch-knn:{plugin_version} and restart")
    return (f"{name} is a core {kind} shipped with every OpenSearch distribution: use a full "
            "distribution or `ltrr engine up`")


def _ltr_store(client: OpenSearch) -> Check:
    try:
        stores = client.plugins.ltr.list_stores().get("stores", {})
    except os_exc.TransportError as exc:
        return Check("ltr-store", WARN, f"cannot list LTR feature stores: {exc.error}")
    if "_default_" in stores:
        return Check("ltr-store", OK, "default LTR feature store exists")
    return Check("ltr-store", WARN, "no default LTR feature store yet",
                 "run `ltrr ltr init` to create it and upload the feature sets")


def render_text(report: Report) -> str:
    lines = []
    for check in report.checks:
        lines.append(f"{check.status.upper():5} {check.name}: {check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"      fix: {check.fix}")
    lines.append("blocking problems found" if report.blocking else "cluster is ready")
    return "\n".join(lines)


def run(settings: Settings) -> Report:
    try:
        return diagnose(settings)
    except os_exc.TransportError as exc:
        raise LtrrError(f"OpenSearch answered with an error during checks: {exc.error}") from None
