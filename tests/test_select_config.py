"""Policy files: one reward rule, so a policy's [reward] section carries costs only."""

from __future__ import annotations

import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.select.config import POLICIES_DIR, load_config


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
