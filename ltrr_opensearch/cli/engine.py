"""``ltrr engine up|down|status|logs`` and ``ltrr doctor``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from ltrr_opensearch.engine.node import CLUSTER_HEAP, DEFAULT_HEAP, DEFAULT_PORT, MAX_LOCAL_NODES

    engine = commands.add_parser("engine", help="a local OpenSearch node without Docker")
    actions = engine.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    node_opts = argparse.ArgumentParser(add_help=False)
    node_opts.add_argument("--port", type=int, default=int(os.environ.get("LTRR_ENGINE_PORT",
                                                                          DEFAULT_PORT)),
                           help="HTTP port (default %(default)s, env LTRR_ENGINE_PORT)")
    node_opts.add_argument("--home", type=Path, help="engine cache and node folders (env LTRR_HOME)")

    up = actions.add_parser("up", parents=[parent, node_opts], help="assemble (once) and start a node")
    up.add_argument("--nodes", type=int, default=1,
                    help=f"nodes (1-{MAX_LOCAL_NODES}); with 2+, a local cluster on HTTP ports "
                         "PORT, PORT+1, ... and transport ports PORT+100, ... (default 1)")
    up.add_argument("--heap", help=f"JVM heap per node, e.g. 512m, 1g (default {DEFAULT_HEAP}, "
                                   f"{CLUSTER_HEAP} each with --nodes 2+)")
    up.add_argument("--data-dir", type=Path, help="data folder (default: under the node folder; "
                                                  "with --nodes 2+, one subfolder per port)")
    up.add_argument("--fresh", action="store_true", help="start with an empty data folder")
    up.add_argument("--version", dest="os_version", help="OpenSearch version (default: pinned)")
    up.add_argument("--ltr-plugin", default=os.environ.get("LTRR_LTR_PLUGIN"),
                    help="path or URL of a Learning to Rank plugin zip (env LTRR_LTR_PLUGIN)")
    up.add_argument("--refresh", action="store_true", help="re-assemble the cached node")
    up.add_argument("--timeout", type=float, help="seconds to wait for the node (default 180, "
                                                   "300 with --nodes 2+)")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", parents=[parent, node_opts],
                              help="stop the node (every node of a cluster started on --port)")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", parents=[parent, node_opts], help="running or not, plugins")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)

    logs = actions.add_parser("logs", parents=[parent, node_opts], help="show the node's log")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=_logs)

    plugin = commands.add_parser("plugin", help="ltrr's own Learning to Rank plugin for OpenSearch")
    plugin_actions = plugin.add_subparsers(dest="action", metavar="ACTION")
    plugin_actions.required = True
    build = plugin_actions.add_parser(
        "build", parents=[parent],
        help="build the plugin zip for an existing cluster and print its install line")
    build.add_argument("--out", type=Path, help="also copy the zip into this folder")
    build.add_argument("--test", action="store_true", help="run the plugin's Java unit tests too")
    build.add_argument("--home", type=Path, help="engine cache (env LTRR_HOME)")
    build.set_defaults(func=_plugin_build)

    doctor = commands.add_parser("doctor", parents=[parent],
                                 help="check a cluster (local or yours) for what ltrr needs")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(func=_doctor)


def _node(args: argparse.Namespace):
    from ltrr_opensearch.engine.node import LocalNode

    home = args.home.resolve() if args.home else None
    return LocalNode(port=args.port, home=home, data_dir=getattr(args, "data_dir", None))


def _cluster(args: argparse.Namespace):
    """The multi-node cluster recorded on ``--port`` (running or not), or None."""
    from ltrr_opensearch.engine.node import LocalCluster

    return LocalCluster.load(args.port, args.home.resolve() if args.home else None)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _up(args: argparse.Namespace) -> int:
    from ltrr_opensearch.engine.node import (
        DEFAULT_HEAP,
        MAX_LOCAL_NODES,
        assemble,
        choose_distribution,
        read_manifest,
    )
    from ltrr_opensearch.errors import EngineError

    if not 1 <= args.nodes <= MAX_LOCAL_NODES:
        raise EngineError(f"--nodes must be from 1 to {MAX_LOCAL_NODES}, got {args.nodes}")
    if args.heap is not None and not re.fullmatch(r"[1-9][0-9]*[kmgKMG]?", args.heap):
        raise EngineError(f"--heap must be a JVM size such as 512m or 1g, got {args.heap!r}")
    recorded = _cluster(args)
    if recorded and recorded.running():
        if recorded.size != args.nodes:
            raise EngineError(f"a {recorded.size}-node cluster is running on port {args.port}",
                              hint=f"stop it first with `ltrr engine down --port {args.port}`")
        print(f"already running: the {recorded.size}-node cluster at {recorded.url}; nothing to do")
        return 0
    if recorded:  # its nodes are all gone: forget it
        recorded.state_file.unlink(missing_ok=True)
    if args.nodes > 1:
        return _up_cluster(args)
    if args.heap is None:
        args.heap = DEFAULT_HEAP
    node = _node(args)
    running = node.running()
    if running:
        print(f"already running: {running.url} (OpenSearch {running.version}, pid {running.pid}); "
              "nothing to do")
        return 0
    started = time.monotonic()
    dist, java = choose_distribution(args.os_version)
    dist_dir = assemble(dist, java, home=node.home, ltr_source=args.ltr_plugin,
                        refresh=args.refresh, log=lambda m: _say(args, m))
    assembled = time.monotonic()
    _say(args, f"starting OpenSearch {dist.version} on port {args.port} (Java {java.major}, "
               f"heap {args.heap})")
    state = node.start(dist_dir, java, heap=args.heap, fresh=args.fresh,
                       timeout=args.timeout or 180)
    manifest = read_manifest(dist_dir)
    _say(args, f"ready in {time.monotonic() - started:.1f}s (assembly {assembled - started:.1f}s); "
               f"plugins: {', '.join(manifest['plugins'])}; LTR: {manifest['ltr']}")
    print(state.url)
    return 0


def _up_cluster(args: argparse.Namespace) -> int:
    from ltrr_opensearch.engine.node import (
        CLUSTER_HEAP,
        LocalCluster,
        assemble,
        choose_distribution,
        read_manifest,
    )
    from ltrr_opensearch.errors import EngineError

    single = _node(args).running()
    if single:
        raise EngineError(f"a single node is running on port {args.port}",
                          hint=f"stop it first with `ltrr engine down --port {args.port}`, or "
                               "choose another --port")
    home = args.home.resolve() if args.home else None
    cluster = LocalCluster(args.port, args.nodes, home, args.data_dir)
    heap = args.heap or CLUSTER_HEAP
    cluster.check_ports()  # before a possibly long assembly
    started = time.monotonic()
    dist, java = choose_distribution(args.os_version)
    dist_dir = assemble(dist, java, home=cluster.home, ltr_source=args.ltr_plugin,
                        refresh=args.refresh, log=lambda m: _say(args, m))
    assembled = time.monotonic()
    last = args.port + args.nodes - 1
    _say(args, f"starting a {args.nodes}-node OpenSearch {dist.version} cluster on ports "
               f"{args.port}-{last} (transport {args.port + 100}-{last + 100}; Java {java.major}, "
               f"heap {heap} each)")
    cluster.start(dist_dir, java, heap=heap, fresh=args.fresh, timeout=args.timeout or 300)
    manifest = read_manifest(dist_dir)
    health = cluster.health() or {}
    _say(args, f"ready in {time.monotonic() - started:.1f}s (assembly {assembled - started:.1f}s): "
               f"{health.get('number_of_nodes')} nodes, status {health.get('status')}; "
               f"plugins: {', '.join(manifest['plugins'])}; LTR: {manifest['ltr']}")
    print(",".join(node.url for node in cluster.nodes))
    return 0


def _down(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if cluster:
        stopped = cluster.stop()
        print(f"stopped {stopped} of the {cluster.size} nodes of the cluster on ports "
              f"{args.port}-{args.port + cluster.size - 1}")
        return 0
    node = _node(args)
    if node.stop():
        print(f"stopped the node on port {args.port}")
    else:
        print(f"no node running on port {args.port}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ltrr_opensearch.engine.node import http_get_json, read_manifest

    cluster = _cluster(args)
    if cluster:
        return _cluster_status(args, cluster)
    node = _node(args)
    state = node.running()
    info: dict = {"port": args.port, "running": bool(state)}
    if state:
        answer = http_get_json(f"{state.url}/_nodes/plugins", timeout=5) or {}
        plugins: set[str] = set()
        modules: set[str] = set()
        for entry in answer.get("nodes", {}).values():
            plugins.update(p["name"] for p in entry.get("plugins", []))
            modules.update(m["name"] for m in entry.get("modules", []))
        rss = node.resident_memory_mb()
        info.update(url=state.url, pid=state.pid, version=state.version,
                    answering=bool(answer), plugins=sorted(plugins), modules=sorted(modules),
                    resident_memory_mb=round(rss) if rss else None,
                    ltr=read_manifest(Path(state.dist)).get("ltr"))
    if args.json:
        print(json.dumps(info, indent=2))
    elif state:
        print(f"running: {info['url']} (OpenSearch {info['version']}, pid {info['pid']}, "
              f"{info['resident_memory_mb']} MB resident)")
        print(f"plugins: {', '.join(info['plugins']) or 'none'}")
        print(f"LTR: {info['ltr']}")
        if not info["answering"]:
            print("warning: the process is alive but HTTP does not answer yet")
    else:
        print(f"stopped (port {args.port})")
    return 0 if state else 3


def _cluster_status(args: argparse.Namespace, cluster) -> int:
    from ltrr_opensearch.engine.node import http_get_json, read_manifest

    members, total_mb, dist = [], 0.0, None
    for node in cluster.nodes:
        state = node.running()
        rss = node.resident_memory_mb() if state else None
        total_mb += rss or 0
        dist = dist or (state.dist if state else None)
        members.append({"name": node.peers.node_name, "port": node.port,
                        "transport_port": node.transport_port, "running": bool(state),
                        "pid": state.pid if state else None,
                        "resident_memory_mb": round(rss) if rss else None})
    up = [m for m in members if m["running"]]
    health = cluster.health() if up else None
    plugins_by_node: dict[str, list[str]] = {}
    if health:
        answer = http_get_json(f"{cluster.url}/_nodes/plugins", timeout=5) or {}
        for entry in answer.get("nodes", {}).values():
            plugins_by_node[entry.get("name", "?")] = sorted(p["name"] for p in entry.get("plugins", []))
    info = {"port": args.port, "nodes": cluster.size, "cluster_name": cluster.name,
            "running": len(up) == cluster.size, "running_nodes": len(up), "members": members,
            "health": {k: health.get(k) for k in ("status", "number_of_nodes",
                                                  "number_of_data_nodes", "unassigned_shards")}
            if health else None,
            "plugins": plugins_by_node, "resident_memory_mb": round(total_mb) if up else None,
            "ltr": read_manifest(Path(dist)).get("ltr") if dist else None}
    if args.json:
        print(json.dumps(info, indent=2))
    elif up:
        status = info["health"] or {}
        print(f"cluster {cluster.name}: {len(up)} of {cluster.size} nodes running, health "
              f"{status.get('status', 'not answering')} ({status.get('number_of_nodes', '?')} "
              f"joined), {info['resident_memory_mb']} MB resident in all")
        for member in members:
            plugins = ", ".join(plugins_by_node.get(member["name"], [])) or "-"
            print(f"  {member['name']}: http {member['port']}, transport {member['transport_port']}, "
                  + (f"pid {member['pid']}, {member['resident_memory_mb']} MB; plugins: {plugins}"
                     if member["running"] else "STOPPED"))
        print(f"LTR: {info['ltr']}")
    else:
        print(f"stopped (the {cluster.size}-node cluster on ports {args.port}-"
              f"{args.port + cluster.size - 1})")
    return 0 if len(up) == cluster.size else (3 if not up else 1)


def _logs(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    nodes = cluster.nodes if cluster else [_node(args)]
    for node in nodes:
        if cluster:
            print(f"==> {node.peers.node_name} (port {node.port}): {node.log_file()} <==")
        print(node.tail(args.lines))
    if args.follow:
        _follow([(f"[{node.port}] " if cluster else "", node.log_file()) for node in nodes])
    return 0


def _follow(sources: list[tuple[str, Path]]) -> None:
    """Print what is appended to each log, each line prefixed with its node's port."""
    handles = []
    for prefix, path in sources:
        fh = path.open("rb")
        fh.seek(0, os.SEEK_END)
        handles.append((prefix, fh))
    while True:
        quiet = True
        for prefix, fh in handles:
            line = fh.readline()
            if line:
                quiet = False
                sys.stdout.write(prefix + line.decode("utf-8", "replace"))
                sys.stdout.flush()
        if quiet:
            time.sleep(0.5)


def _plugin_build(args: argparse.Namespace) -> int:
    import shutil

    from ltrr_opensearch.engine.node import engine_home
    from ltrr_opensearch.engine.plugin_build import build_plugin, install_line

    home = args.home.resolve() if args.home else engine_home()
    built = build_plugin(home, run_tests=args.test, log=lambda m: _say(args, m))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        built = Path(shutil.copy(built, args.out / built.name))
    print(built)
    _say(args, "install it on every node of an existing cluster (OpenSearch 3.5.0), then restart "
               f"each node in turn:\n  {install_line(built)}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.doctor import render_text, run

    report = run(settings_from_args(args))
    print(json.dumps(report.to_dict(), indent=2) if args.json else render_text(report))
    return 1 if report.blocking else 0
