"""A simulated music world for demos, tests and benchmarks.

* :class:`World` - a seeded synthetic catalog (``World.generate(config)``, ``world.rows()``);
* :class:`QueryStream` - users with tastes issuing :class:`SimQuery` searches of five intents;
* :class:`ClickModel` - a position-biased cascade turning a ranked list into UBI events;
* :func:`convert_chinook` - the real Chinook sample store as catalog rows.

Parameters live in ``configs/worlds/*.toml`` (:func:`load_sim_config`), documented in
``docs/simulator.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so `ltrr --help` does not pay for numpy.
_EXPORTS = {
    "INTENT_FAVOURS": "queries", "QueryStream": "queries", "SimQuery": "queries",
    "ClickModel": "clicks", "World": "world",
    "ClickParams": "config", "QueryConfig": "config", "SimConfig": "config",
    "UsersConfig": "config", "WorldConfig": "config", "load_sim_config": "config",
    "convert_chinook": "chinook", "fetch_chinook_fixture": "chinook",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
