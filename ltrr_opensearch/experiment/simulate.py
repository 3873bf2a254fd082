"""Run an experiment on the simulated world: simulated users through the real pipeline
with flags, the real feedback loop, and the same UBI logs a report reads.

The pipeline resolves each request's variant from the flag file by the simulated user's
id, exactly as ``ltrr serve --flags`` does; the variant is logged on the search; the
click model's events go through ingestion and the feedback loop. Bandits a variant
loads (its own policy, exploration or state namespace) learn in the same cycle as the
serving bandit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.evaluate.harness import Policy, Replay
from ltrr_opensearch.experiment.flags import FlagSource
from ltrr_opensearch.pipeline import Pipeline


def flag_policy(name: str = "flags") -> Policy:
    """A harness policy that leaves every choice to the pipeline (and so to its flags)."""
    return Policy(name, plan=lambda q: None)


@dataclass
class FlagReplay(Replay):
    """:class:`Replay` whose feedback cycle also teaches the variants' own bandits."""

    def feedback(self, now: Any) -> Any:
        summary = super().feedback(now)
        flags = self.pipeline.flags
        if flags is not None and now is not None:
            stamp = int(now.timestamp() * 1000) + 1
            for learner in list(flags.learners.values()):
                learner.learn_from_rewards(now=stamp)
                learner.sync(now=stamp)
        return summary


def run_experiment(client: Any, settings: Settings, flag_file: str, queries: Sequence[Any],
                   clicks: Any, *, batch: int = 100, follow_up: Callable[[Any], Any] | None = None,
                   selector: Any = None, progress: Callable[[int], None] | None = None
                   ) -> FlagReplay:
    """Replay ``queries`` with the flags of ``flag_file`` on the indices of ``settings``
    (catalog and memory already loaded). Returns the replay (its outcomes, its pipeline)."""
    pipeline = Pipeline.from_cluster(client, settings, selector=selector)
    pipeline.flags = FlagSource.from_file(flag_file, pipeline.registry.names, check_seconds=0.0)
    pipeline.flags.learner_overrides = {"settle_seconds": 0.0, "attribution_seconds": 0.0}
    replay = FlagReplay(pipeline, flag_policy(), clicks, batch=batch, follow_up=follow_up)
    replay.run(queries, progress=progress)
    return replay
