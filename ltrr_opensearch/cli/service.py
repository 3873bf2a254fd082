"""``ltrr serve`` (the HTTP API) and ``ltrr worker`` (the feedback loop on a schedule)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    serve = commands.add_parser("serve", parents=[parent],
                                help="the HTTP API: /search, /events, /health, /ready, /metrics")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    serve.add_argument("--policy", help="bandit policy file or packaged name (default: the "
                                        "config's [bandit], else the packaged linucb)")
    serve.add_argument("--no-bandit", action="store_true",
                       help="run every enabled strategy instead of a learned choice")
    serve.add_argument("--resync", type=float, default=5.0, metavar="S",
                       help="seconds between bandit re-syncs from the state index")
    serve.add_argument("--flush", type=float, default=1.0, metavar="S",
                       help="seconds between writes of the buffered search log")
    serve.add_argument("--flags", metavar="FILE",
                       help="flag file (flagd JSON): behaviour flags and experiments per request, "
                            "hot-reloaded (default: the config's [experiments] provider, "
                            "a flag file or any OpenFeature provider); see README 'Experiments'")
    serve.add_argument("--breaker-failures", type=int, default=5, metavar="N",
                       help="consecutive engine failures that open the circuit breaker: then "
                            "503 with Retry-After at once, without calling the engine "
                            "(default %(default)s)")
    serve.add_argument("--breaker-cooldown", type=float, default=10.0, metavar="S",
                       help="seconds the breaker stays open before one probe request "
                            "(default %(default)s)")
    serve.add_argument("--rate-limit", type=float, default=0.0, metavar="R",
                       help="requests per second per client address on /search and /events "
                            "(429 with Retry-After beyond; bursts of 2R); 0: no limit "
                            "(default)")
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", parents=[parent],
                                 help="run the feedback loop: consumers -> rewards -> bandit "
                                      "-> sync, on a schedule")
    worker.add_argument("--once", action="store_true", help="one cycle, then exit")
    worker.add_argument("--status", action="store_true",
                        help="print how far each consumer is behind (checkpoint, docs behind, "
                             "seconds behind per log), then exit; --json for JSON")
    worker.add_argument("--json", action="store_true", help="with --status: one JSON object")
    worker.add_argument("--interval", type=float, default=30.0, metavar="S",
                        help="seconds between cycles (default %(default)s)")
    worker.add_argument("--policy", help="bandit policy (must match what serving uses)")
    worker.add_argument("--settle", type=float, default=None, metavar="S",
                        help="only read log docs that arrived this long ago "
                             "(default [feedback] settle_seconds)")
    worker.add_argument("--retrain-every", type=float, default=24 * 3600.0, metavar="S",
                        help="retrain the ranker from logged clicks this often and deploy it "
                             "if it beats the deployed one on held-out judgments "
                             "(default daily; 0 never)")
    worker.set_defaults(func=_worker)


def _positive(name: str, value: float) -> None:
    from ltrr_opensearch.errors import ConfigError

    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def _serve(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.service import logs

    _positive("--resync", args.resync)
    _positive("--flush", args.flush)
    _positive("--breaker-failures", args.breaker_failures)
    _positive("--breaker-cooldown", args.breaker_cooldown)
    if args.rate_limit < 0:
        raise ConfigError(f"--rate-limit must be 0 (off) or positive, got {args.rate_limit}")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {args.port}")
    try:
        import uvicorn

        from ltrr_opensearch.service.app import create_app
    except ImportError as exc:
        raise ConfigError(f"ltrr serve needs the 'service' extra ({exc.name} is missing)",
                          hint="pip install 'ltrr-opensearch[service]'") from None
    settings = settings_from_args(args)
    logs.configure()
    app = create_app(settings, policy_file=args.policy, use_bandit=not args.no_bandit,
                     resync_seconds=args.resync, flush_seconds=args.flush,
                     flags_file=args.flags, breaker_failures=args.breaker_failures,
                     breaker_cooldown=args.breaker_cooldown, rate_limit=args.rate_limit)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False,
                timeout_graceful_shutdown=10)
    return 0


def _worker(args: argparse.Namespace) -> int:
    import threading

    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.loop import FeedbackLoop
    from ltrr_opensearch.service import logs
    from ltrr_opensearch.service.worker import install_stop_signals, run_worker

    _positive("--interval", args.interval)
    if args.json and not args.status:
        from ltrr_opensearch.errors import ConfigError

        raise ConfigError("--json goes with --status", hint="ltrr worker --status --json")
    settings = settings_from_args(args)
    if args.status:
        return _worker_status(settings, as_json=args.json)
    logs.configure()
    client = make_client(settings)
    cluster_info(client, settings)
    retrain = None
    if args.retrain_every > 0:
        from ltrr_opensearch.rank.learn import scheduled_retrain

        retrain = scheduled_retrain
    loop = FeedbackLoop.for_serving(client, settings, args.policy, settle_seconds=args.settle,
                                    retrain=retrain, retrain_every=args.retrain_every or 1.0)
    stop = threading.Event()
    install_stop_signals(stop)
    return run_worker(loop, interval=args.interval, once=args.once, stop=stop)


def _worker_status(settings: Any, *, as_json: bool) -> int:
    import json

    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.feedback.lag import consumer_lag

    client = make_client(settings)
    cluster_info(client, settings)
    lags = consumer_lag(client, settings)
    if as_json:
        print(json.dumps({"consumers": [lag.to_dict() for lag in lags]}))
        return 0
    print(f"{'consumer':<9} {'log':<8} {'processed':>10} {'behind':>9} {'seconds':>9}  checkpoint")
    for lag in lags:
        print(f"{lag.consumer:<9} {lag.log:<8} {lag.processed:>10} {lag.behind:>9} "
              f"{lag.seconds_behind:>9.1f}  {lag.checkpoint or '-'}")
    return 0
