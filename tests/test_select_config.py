"""Policy files: one reward rule, so a policy's [reward] section carries costs only."""

from __future__ import annotations

import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.select.config import POLICIES_DIR, BanditConfig, load_config


def write_policy(tmp_path, reward_section: str):
    path = tmp_path / "policy.toml"
    path.write_text(f'name = "p"\n\n[reward]\n{reward_section}\n', encoding="utf-8")
    return path


def test_reward_weights_in_a_policy_file_point_to_the_feedback_weights(tmp_path):
    path = write_policy(tmp_path, "weights = { play = 1.0, click = 0.5 }")
    with pytest.raises(ConfigError, match=r"action weights live in \[feedback\] weights"):
        load_config(path)


def test_reward_costs_are_read_from_the_policy_file(tmp_path):
    config = load_config(write_policy(tmp_path, "cost_per_candidate = 0.002\ncost_per_ms = 0"))
    assert config.reward.cost_per_candidate == pytest.approx(0.002)


def test_a_per_ms_cost_is_charged_for_the_logged_engine_time(tmp_path):
    config = load_config(write_policy(tmp_path, "cost_per_candidate = 0.001\ncost_per_ms = 0.01"))
    assert config.reward.cost(k=30, took_ms=12.0) == pytest.approx(0.03 + 0.12)
    assert config.reward.cost(k=30, took_ms=None) == pytest.approx(0.03)  # time not logged


@pytest.mark.parametrize("line, message", [
    ("cost_per_candidate = -1", "must be a finite number >= 0"),
    ('cost_per_candidate = "x"', "must be a number"),
    ("costs = 1", "unknown key"),
])
def test_bad_reward_costs_are_config_errors(tmp_path, line, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write_policy(tmp_path, line))


@pytest.mark.parametrize("name", sorted(p.stem for p in POLICIES_DIR.glob("*.toml")))
def test_every_shipped_policy_loads(name):
    assert load_config(name).name == name


@pytest.mark.parametrize("name", sorted(p.stem for p in POLICIES_DIR.glob("*.toml")))
def test_every_shipped_policy_reads_the_current_context_without_the_clock(name):
    config = load_config(name)
    assert config.context_version == "ctx-v3" == config.context_spec.version
    assert config.bandit().context_version == "ctx-v3"


def test_clock_features_change_the_layout_the_policy_learns_on():
    config = BanditConfig.from_mapping({"clock_features": True})
    assert config.context_spec.clock and config.context_version == "ctx-v3+clock"
    with pytest.raises(ConfigError, match="true or false"):
        BanditConfig.from_mapping({"clock_features": "yes"})


def test_a_policy_pinned_to_an_older_context_is_refused_with_what_to_do(tmp_path):
    policy = tmp_path / "old.toml"
    policy.write_text('name = "old"\ncontext_version = "ctx-v2"\n')
    with pytest.raises(ConfigError, match="'ctx-v2' is not the context") as refused:
        load_config(policy)
    assert "remove context_version" in (refused.value.hint or "")


def test_a_context_of_another_layout_is_refused_by_the_policy():
    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.types import ContextVector

    bandit = load_config("linucb").bandit()
    old = ContextVector("ctx-v2", tuple(f"f{i}" for i in range(27)), (1.0,) + (0.0,) * 26)
    with pytest.raises(ValidationError, match="'ctx-v2' differs from the bandit's 'ctx-v3'"):
        bandit.select(old)


def test_clock_features_may_sit_next_to_a_policy_file(tmp_path):
    from ltrr_opensearch.config import Settings
    from ltrr_opensearch.select.config import config_from_settings

    main = tmp_path / "ltrr.toml"
    main.write_text('[bandit]\npolicy_file = "linucb"\nclock_features = true\n')
    config = config_from_settings(Settings.load(main))
    assert config.name == "linucb" and config.context_version == "ctx-v3+clock"
    main.write_text('[bandit]\npolicy_file = "linucb"\nseed = 3\n')
    with pytest.raises(ConfigError, match=r"policy_file and inline keys \(seed\)"):
        config_from_settings(Settings.load(main))


@pytest.mark.parametrize("table, message", [
    ({"plan": "everything"}, "plan must be one of prior, all"),
    ({"k": 0}, "k must be a candidate count"),
    ({"k": True}, "k must be a candidate count"),
])
def test_bad_cold_start_plans_are_config_errors(table, message):
    with pytest.raises(ConfigError, match=message):
        BanditConfig.from_mapping({"cold_start": table})


def test_arm_features_use_the_types_the_arms_name_not_a_fixed_list():
    config = BanditConfig.from_mapping({
        "arms": ["a", "b"],
        "arm_features": {"a": {"kind": "lexical", "entity_types": ["movie", "tv_series"]},
                         "b": {"kind": "lexical", "entity_types": ["movie"]}}})
    assert config.arm_vectors() == {"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 0.0]}
