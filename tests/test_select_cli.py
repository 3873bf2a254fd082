"""`ltrr bandit show | arm | evaluate` against the real node."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.cli.select import parse_since
from ltrr_opensearch.feedback.querylog import ArmLog, SearchRecord, log_search
from ltrr_opensearch.select import Learner, Observation, load_config
from ltrr_opensearch.types import ContextVector

pytestmark = pytest.mark.integration
POLICY = "configs/policies/epsilon_greedy.toml"


@pytest.fixture()
def env(settings, monkeypatch):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.delenv("LTRR_CONFIG", raising=False)
    return settings


def test_kill_then_show_lists_the_arm_as_killed(env, capsys):
    assert main(["bandit", "arm", "--policy", POLICY, "--kill", "knn_vector"]) == 0
    assert main(["bandit", "show", "--policy", POLICY]) == 0
    out = capsys.readouterr().out
    assert "knn_vector" in out and "KILLED" in out and "state version 0" in out


def test_killing_an_unknown_arm_is_a_one_line_error(env, capsys):
    assert main(["bandit", "arm", "--policy", POLICY, "--kill", "nope"]) != 0
    err = capsys.readouterr().err
    assert "unknown arm 'nope'" in err and "Traceback" not in err


def test_evaluate_reads_logged_searches_and_rewards(env, client, capsys):
    config = load_config(POLICY)
    learner = Learner(client, env, config)
    rng = np.random.default_rng(0)
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    records, observations = [], []
    spec = config.context_spec
    for i in range(60):
        context = _context(spec, memory=float(i % 2))
        choices = learner.select(context, seed=i).choices
        records.append(SearchRecord(
            query_id=f"q{i}", user_query="some song", hit_ids=(),
            arms=tuple(ArmLog.from_choice(c, [f"t{i}"]) for c in choices),
            context=context, timestamp=start + timedelta(seconds=i)))
        observations += [Observation(f"q{i}", c.arm, float(rng.random() < 0.5), context.version,
                                     context.values, logged_at=int(start.timestamp() * 1000) + i)
                         for c in choices]
    log_search(client, env, records, refresh=True)
    learner.record(observations, refresh=True)
    since = (start - timedelta(minutes=1)).isoformat()
    assert main(["bandit", "evaluate", "--policy", POLICY, "--since", since,
                 "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "evaluated on 60 logged searches" in out
    for name in ("IPS", "SNIPS", "DR", "logged (baseline)"):
        assert name in out


def test_evaluate_leaves_out_searches_logged_with_another_context_layout(env, client, capsys):
    config = load_config(POLICY)
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    old = ContextVector("ctx-v2", ("x",), (1.0,))  # logged before an upgrade
    records = [SearchRecord(query_id=f"o{i}", user_query="some song", hit_ids=(),
                            arms=(ArmLog("bm25_popularity", 10, 1.0, ("t1",)),),
                            context=old if i < 3 else _context(config.context_spec),
                            timestamp=start + timedelta(seconds=i)) for i in range(23)]
    log_search(client, env, records[:3], refresh=True)
    assert main(["bandit", "evaluate", "--policy", POLICY, "--bootstrap", "20"]) != 0
    err = capsys.readouterr().err
    assert "no logged search has the context the policy reads (ctx-v3)" in err
    log_search(client, env, records[3:], refresh=True)
    assert main(["bandit", "evaluate", "--policy", POLICY, "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "evaluated on 20 logged searches" in out and "3 logged searches of another" in out


def _context(spec, memory: float = 0.0) -> ContextVector:
    values = dict.fromkeys(spec.names, 0.0) | {"bias": 1.0, "memory_available": memory}
    return ContextVector(spec.version, spec.names, tuple(values.values()))


def test_since_accepts_relative_and_iso_times():
    now = datetime(2025, 1, 31, tzinfo=timezone.utc)
    assert parse_since("1d", now) == int((now - timedelta(days=1)).timestamp() * 1000)
    assert parse_since("2025-01-30T00:00:00Z", now) == parse_since("1d", now)
    with pytest.raises(Exception, match="not a time"):
        parse_since("yesterday", now)
