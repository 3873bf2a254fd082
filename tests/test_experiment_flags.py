"""Flags and assignment: flagd-format files, the in-process OpenFeature provider, FlagSource.
No cluster needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.experiment.flagd import murmur3_32, parse_flags
from ltrr_opensearch.experiment.flags import FlagSource
from ltrr_opensearch.experiment.report import sample_size, srm_p_value

STRATEGIES = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")
USERS = [f"user-{i}" for i in range(10_000)]


def experiment(weights: dict[str, int], values: dict[str, dict] | None = None) -> dict:
    values = values or {name: {} for name in weights}
    return {"state": "ENABLED", "defaultVariant": next(iter(weights)), "variants": values,
            "targeting": {"fractional": [[n, w] for n, w in weights.items()]}}


def write(path: Path, flags: dict) -> Path:
    path.write_text(json.dumps({"flags": flags}), encoding="utf-8")
    # A second write within the same mtime tick must still be seen as a change.
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    return path


def two_experiments(tmp_path: Path, split_a: tuple[int, int] = (50, 50)) -> Path:
    return write(tmp_path / "flags.json", {
        "experiments": {"state": "ENABLED", "variants": {"on": ["exp-a", "exp-b"]},
                        "defaultVariant": "on"},
        "exp-a": experiment({"control": split_a[0], "treatment": split_a[1]}),
        "exp-b": experiment({"control": 20, "treatment": 80}),
    })


def assignments(source: FlagSource, experiment_name: str) -> dict[str, str]:
    out = {}
    for user in USERS:
        out[user] = dict(source.assign(user)[0])[experiment_name]
    return out


def test_murmur3_matches_the_reference_vectors():
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"hello") == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723


def test_assignment_is_deterministic_and_sticky_across_processes(tmp_path):
    path = two_experiments(tmp_path)
    first = FlagSource.from_file(str(path), STRATEGIES)
    again = FlagSource.from_file(str(path), STRATEGIES)
    sample = USERS[:500]
    assert [first.resolve(u).assignments for u in sample] == \
           [again.resolve(u).assignments for u in sample]
    assert [first.resolve(u).assignments for u in sample] == \
           [first.resolve(u).assignments for u in sample]


def test_split_is_within_sampling_error_of_the_configured_weights(tmp_path):
    source = FlagSource.from_file(str(two_experiments(tmp_path)), STRATEGIES)
    share = sum(v == "treatment" for v in assignments(source, "exp-b").values()) / len(USERS)
    sigma = (0.8 * 0.2 / len(USERS)) ** 0.5
    assert abs(share - 0.8) < 4 * sigma


def test_experiments_are_independent(tmp_path):
    source = FlagSource.from_file(str(two_experiments(tmp_path)), STRATEGIES)
    both = [source.assign(u)[0] for u in USERS]
    joint = sum(dict(a)["exp-a"] == "treatment" and dict(a)["exp-b"] == "treatment"
                for a in both) / len(USERS)
    assert abs(joint - 0.5 * 0.8) < 4 * (0.4 * 0.6 / len(USERS)) ** 0.5


def test_changing_one_experiments_split_moves_nobody_in_another(tmp_path):
    path = two_experiments(tmp_path, (50, 50))
    source = FlagSource.from_file(str(path), STRATEGIES, check_seconds=0.0)
    before_a, before_b = assignments(source, "exp-a"), assignments(source, "exp-b")
    two_experiments(tmp_path, (10, 90))
    after_a, after_b = assignments(source, "exp-a"), assignments(source, "exp-b")
    assert after_b == before_b
    moved = [u for u in USERS if after_a[u] != before_a[u]]
    assert moved and all(before_a[u] == "control" for u in moved)  # only control -> treatment


def test_every_request_carries_its_variant_label(tmp_path):
    source = FlagSource.from_file(str(two_experiments(tmp_path)), STRATEGIES)
    label = source.resolve("alice").label
    assert isinstance(label, list) and [x.split("/")[0] for x in label] == ["exp-a", "exp-b"]


@pytest.mark.parametrize(("flags", "message"), [
    ({"x": {"state": "ON", "variants": {"a": 1}, "defaultVariant": "a"}}, "state must be"),
    ({"x": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}},
     "defaultVariant 'b' is not one of its variants"),
    ({"x": {"state": "ENABLED", "variants": {"a": 1, "b": "two"}, "defaultVariant": "a"}},
     "mix value types"),
    ({"x": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
            "targeting": {"fractional": [["a", 50], ["c", 50]]}}},
     "fractional names unknown variant 'c'"),
    ({"x": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
            "targeting": {"shuffle": [1]}}}, "unknown operator 'shuffle'"),
    ({"x": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
            "targeting": {"fractional": [["a", -5]]}}}, "must be a number >= 0"),
])
def test_bad_flag_files_are_rejected_with_the_reason(flags, message):
    with pytest.raises(ConfigError, match=message):
        parse_flags(json.dumps({"flags": flags}))


def test_a_file_that_is_not_json_is_rejected():
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_flags("{flags: ")


def test_an_invalid_reload_keeps_the_last_good_flags(tmp_path):
    path = write(tmp_path / "flags.json", {
        "selection-mode": {"state": "ENABLED", "variants": {"s": "single"}, "defaultVariant": "s"}})
    source = FlagSource.from_file(str(path), STRATEGIES, check_seconds=0.0)
    assert source.resolve("u").mode == "single"
    path.write_text('{"flags": {"selection-mode": {"state": "ENABLED"}}}', encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2_000_000_000))
    assert source.resolve("u").mode == "single"
    assert "variants must be a non-empty object" in source.problem


def test_a_valid_reload_takes_effect_without_a_restart(tmp_path):
    path = write(tmp_path / "flags.json", {
        "selection-mode": {"state": "ENABLED", "variants": {"s": "single"}, "defaultVariant": "s"}})
    source = FlagSource.from_file(str(path), STRATEGIES, check_seconds=0.0)
    write(path, {"selection-mode": {"state": "ENABLED", "variants": {"f": "fixed"},
                                    "defaultVariant": "f"}})
    assert source.resolve("u").mode == "fixed"


def test_an_unknown_variant_chosen_at_runtime_falls_back_and_is_counted(tmp_path):
    path = write(tmp_path / "flags.json", {
        "ranker-model": {"state": "ENABLED", "variants": {"deployed": "deployed", "none": "none"},
                         "defaultVariant": "deployed",
                         "targeting": {"var": "targetingKey"}}})
    source = FlagSource.from_file(str(path), STRATEGIES)
    assert source.resolve("nonexistent-variant").ranker_model == "deployed"
    assert any("unknown variant 'nonexistent-variant'" in reason
               for _, reason in source.problems)


def test_bad_values_fall_back_to_defaults_and_are_counted(tmp_path):
    path = write(tmp_path / "flags.json", {
        "selection-mode": {"state": "ENABLED", "variants": {"x": "roulette"}, "defaultVariant": "x"},
        "budget": {"state": "ENABLED", "variants": {"x": -3}, "defaultVariant": "x"},
        "strategies": {"state": "ENABLED", "variants": {"x": ["bm25_popularity", "nope"]},
                       "defaultVariant": "x"},
        "bandit-epsilon": {"state": "ENABLED", "variants": {"x": "lots"}, "defaultVariant": "x"},
    })
    source = FlagSource.from_file(str(path), STRATEGIES)
    variant = source.resolve("u")
    assert (variant.mode, variant.budget, variant.strategies, variant.epsilon) == \
           (None, None, ("bm25_popularity",), None)
    flagged = {key for key, _ in source.problems}
    assert flagged == {"selection-mode", "budget", "strategies", "bandit-epsilon"}


def test_kill_switches_remove_a_strategy_from_every_plan(tmp_path):
    path = write(tmp_path / "flags.json", {
        "selection-mode": {"state": "ENABLED", "variants": {"f": "fixed"}, "defaultVariant": "f"},
        "kill.knn_vector": {"state": "ENABLED", "variants": {"on": True}, "defaultVariant": "on"}})
    plan = FlagSource.from_file(str(path), STRATEGIES).resolve("u").plan(STRATEGIES, 20)
    assert [s for s, _ in plan] == [s for s in STRATEGIES if s != "knn_vector"]


def test_srm_check_flags_a_lopsided_split_and_passes_an_even_one():
    assert srm_p_value({"control": 5000, "treatment": 5000}, {"control": 1, "treatment": 1}) > 0.5
    assert srm_p_value({"control": 5200, "treatment": 4800}, {"control": 1, "treatment": 1}) < 0.001


def test_sample_size_grows_as_the_effect_shrinks():
    assert sample_size(0.4, 0.01) > 3 * sample_size(0.4, 0.02) > 0


# Assignments flagd's own Python provider (openfeature-provider-flagd 0.6.1) gives these
# users: the same flag file must put a user in the same variant whichever provider serves.
FLAGD_ASSIGNMENTS = {
    ("mix-test", (("control", 50), ("treatment", 50))): {
        "alice": "treatment", "bob": "control", "qa-7": "control", "u000182": "treatment",
        "ü@x.org": "treatment"},
    ("exp2", (("a", 10), ("b", 30), ("c", 60))): {
        "user-0": "c", "user-2": "c", "user-1": "b", "user-3": "b", "user-7": "a",
        "user-14": "a"},
}


@pytest.mark.parametrize("key,buckets", list(FLAGD_ASSIGNMENTS))
def test_fractional_assigns_users_as_flagd_does(key, buckets):
    from ltrr_opensearch.experiment.flagd import evaluate

    flags = parse_flags(json.dumps({"flags": {key: {
        "state": "ENABLED", "defaultVariant": buckets[0][0],
        "variants": {name: name for name, _ in buckets},
        "targeting": {"fractional": [list(b) for b in buckets]}}}}))
    got = {user: evaluate(flags, flags.flags[key], {"targetingKey": user})[0]
           for user in FLAGD_ASSIGNMENTS[(key, buckets)]}
    assert got == FLAGD_ASSIGNMENTS[(key, buckets)]


@pytest.mark.parametrize("value,encoded", [  # RFC 8949 appendix A
    (0, "00"), (23, "17"), (24, "1818"), (1000, "1903e8"), (-1, "20"), (-1000, "3903e7"),
    (1.5, "f93e00"), (100000.0, "1a000186a0"), (3.4028234663852886e38, "fa7f7fffff"),
    (1.1, "fb3ff199999999999a"), (True, "f5"), (None, "f6"), ("a", "6161"),
    ("ü", "62c3bc"), ([1, [2, 3]], "8201820203"), ({"b": [2, 3], "a": 1}, "a26161016162820203"),
])
def test_the_bucketing_value_is_written_as_canonical_cbor(value, encoded):
    from ltrr_opensearch.experiment.flagd import cbor_canonical

    assert cbor_canonical(value).hex() == encoded


def test_a_flag_can_turn_on_a_strategy_that_is_off_by_default():
    from ltrr_opensearch.config import Settings
    from ltrr_opensearch.experiment.flags import Variant
    from ltrr_opensearch.pipeline import Pipeline
    from ltrr_opensearch.retrieve.templates import TemplateRegistry

    settings = Settings.load(env={})
    registry = TemplateRegistry.from_settings(settings)
    assert "long_tail" not in registry.names and "long_tail" in registry.available
    pipeline = Pipeline(client=None, settings=settings, registry=registry, gazetteer=None)
    variant = Variant(mode="fixed", strategies=("long_tail", "bm25_popularity"), budget=20)
    plan, _ = pipeline.plan(None, None, seed=1, variant=variant)  # a fixed plan reads no query
    assert [(c.arm, c.k) for c in plan] == [("long_tail", 20), ("bm25_popularity", 20)]
    default, _ = pipeline.plan(None, None, seed=1, variant=Variant(mode="fixed", budget=20))
    assert "long_tail" not in {c.arm for c in default}  # without the flag it stays off
