"""``ltrr engine up|down|status|logs`` and ``ltrr doctor``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from ltrr_opensearch.engine.node import DEFAULT_HEAP, DEFAULT_PORT

    engine = commands.add_parser("engine", help="a local OpenSearch node without Docker")
    actions = engine.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    node_opts = argparse.ArgumentParser(add_help=False)
    node_opts.add_argument("--port", type=int, default=int(os.environ.get("LTRR_ENGINE_PORT",
                                                                          DEFAULT_PORT)),
                           help="HTTP port (default %(default)s, env LTRR_ENGINE_PORT)")
    node_opts.add_argument("--home", type=Path, help="engine cache and node folders (env LTRR_HOME)")

    up = actions.add_parser("up", parents=[parent, node_opts], help="assemble (once) and start a node")
    up.add_argument("--heap", default=DEFAULT_HEAP, help="JVM heap, e.g. 512m, 1g (default %(default)s)")
    up.add_argument("--data-dir", type=Path, help="data folder (default: under the node folder)")
    up.add_argument("--fresh", action="store_true", help="start with an empty data folder")
    up.add_argument("--version", dest="os_version", help="OpenSearch version (default: pinned)")
    up.add_argument("--ltr-plugin", default=os.environ.get("LTRR_LTR_PLUGIN"),
                    help="path or URL of a Learning to Rank plugin zip (env LTRR_LTR_PLUGIN)")
    up.add_argument("--refresh", action="store_true", help="re-assemble the cached node")
    up.add_argument("--timeout", type=float, default=180, help="seconds to wait for the node")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", parents=[parent, node_opts], help="stop the node")
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


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _up(args: argparse.Namespace) -> int:
    from ltrr_opensearch.engine.node import assemble, choose_distribution, read_manifest

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
    state = node.start(dist_dir, java, heap=args.heap, fresh=args.fresh, timeout=args.timeout)
    manifest = read_manifest(dist_dir)
    _say(args, f"ready in {time.monotonic() - started:.1f}s (assembly {assembled - started:.1f}s); "
               f"plugins: {', '.join(manifest['plugins'])}; LTR: {manifest['ltr']}")
    print(state.url)
    return 0


def _down(args: argparse.Namespace) -> int:
    node = _node(args)
    if node.stop():
        print(f"stopped the node on port {args.port}")
    else:
        print(f"no node running on port {args.port}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ltrr_opensearch.engine.node import http_get_json, read_manifest

    node = _node(args)
    state = node.running()
    info: dict = {"port": args.port, "running": bool(state)}
    if state:
        answer = http_get_json(f"{state.url}/_nodes/plugins", timeout=5) or {}
        plugins, modules = set(), set()
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


def _logs(args: argparse.Namespace) -> int:
    node = _node(args)
    print(node.tail(args.lines))
    if args.follow:
        path = node.log_file()
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            while True:
                line = fh.readline()
                if line:
                    sys.stdout.write(line.decode("utf-8", "replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)
    return 0


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
