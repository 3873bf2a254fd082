"""Select: a contextual bandit chooses retrieval strategies and their candidate budgets.

Public API::

    from ltrr_opensearch.select import Bandit, Learner, load_config

    config = load_config("configs/policies/linucb.toml")
    learner = Learner.load(client, settings, config)       # reads the shared state
    selection = learner.select(understanding.context, seed=hash_of(request_id))
    selection.choices       # list[ArmChoice]: arm, k, propensity, expected_reward, bound
    selection.explanation.to_dict()
    learner.record_feedback(request_id, context, rewards, selection.choices)  # explicit rewards
    learner.learn_from_rewards()  # or: the feedback loop's reward docs (feedback/rewards.py)
    learner.sync()          # periodically: learn what every worker recorded
"""

from ltrr_opensearch.select.bandit import (
    ArmExplanation,
    Bandit,
    Explanation,
    Observation,
    Selection,
)
from ltrr_opensearch.select.budget import Budget, allocate
from ltrr_opensearch.select.config import BanditConfig, config_from_settings, load_config
from ltrr_opensearch.select.learner import Learner, SyncResult
from ltrr_opensearch.select.policy import PolicySpec
from ltrr_opensearch.select.reward import RewardConfig

__all__ = [
    "ArmExplanation", "Bandit", "BanditConfig", "Budget", "Explanation", "Learner",
    "Observation", "PolicySpec", "RewardConfig", "Selection", "SyncResult", "allocate",
    "config_from_settings", "load_config",
]
