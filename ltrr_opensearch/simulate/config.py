"""Parameters of the simulated world, its users, their queries and their clicks.

One TOML file (``configs/worlds/*.toml``) holds four tables, ``[world]``, ``[users]``,
``[queries]`` and ``[clicks]``; every key is optional and documented in ``docs/simulator.md``.
Unknown keys and out-of-range values raise :class:`ConfigError` naming the file and key, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from ltrr_opensearch.errors import ConfigError

ENTITY_KINDS = ("artist", "album", "track", "playlist", "podcast")
INTENTS = ("known_item", "attribute", "topic", "head", "new_release")
KNOWN_ITEM_KINDS = ("track", "artist", "album", "playlist")


def _weights(where: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, float]:
    """Validate a name -> weight table and normalise it to sum 1 (order of ``allowed``)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table of name = weight")
    unknown = set(raw) - set(allowed)
    if unknown:
        raise ConfigError(f"{where} has unknown name(s): {', '.join(sorted(unknown))}",
                          hint=f"known: {', '.join(allowed)}")
    values: dict[str, float] = {}
    for name in allowed:
        value = raw.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{where}.{name} must be a number >= 0, got {value!r}")
        values[name] = float(value)
    total = sum(values.values())
    if total <= 0:
        raise ConfigError(f"{where} must have at least one positive weight")
    return {k: v / total for k, v in values.items()}


def _check(where: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{where} {message}")


@dataclass(frozen=True)
class WorldConfig:
    """The catalog: how many entities of which kind, and how their attributes are drawn."""

    seed: int = 7
    entities: int = 1000
    type_mix: Mapping[str, float] = field(default_factory=lambda: {
        "artist": 0.08, "album": 0.12, "track": 0.72, "playlist": 0.05, "podcast": 0.03})
    id_prefix: str = "sim"
    start_year: int = 1960
    now: date = date(2025, 1, 1)
    horizon_days: int = 60
    new_release_share: float = 0.05
    new_release_lookback_days: int = 90
    recency_skew: float = 2.0
    popularity_alpha: float = 1.2
    popularity_spread: float = 0.8
    genre_zipf: float = 0.8
    topic_share: float = 0.5
    playlist_topic_share: float = 0.7
    playlist_size_min: int = 10
    playlist_size_max: int = 40
    language_weights: Mapping[str, float] = field(default_factory=lambda: {
        "en": 0.62, "es": 0.1, "pt": 0.05, "fr": 0.05, "de": 0.05, "ja": 0.04, "ko": 0.03,
        "it": 0.03, "sv": 0.03})

    def __post_init__(self) -> None:
        w = "[world]"
        _check(f"{w} entities", 10 <= self.entities <= 5_000_000, "must be 10..5,000,000")
        object.__setattr__(self, "type_mix", _weights(f"{w} type_mix", self.type_mix,
                                                      ENTITY_KINDS))
        from ltrr_opensearch.simulate.vocab import LANGUAGES

        object.__setattr__(self, "language_weights", _weights(
            f"{w} language_weights", self.language_weights, tuple(LANGUAGES)))
        _check(f"{w} id_prefix", bool(self.id_prefix) and self.id_prefix.replace("_", "")
               .replace("-", "").isalnum(), "must be letters, digits, '-' or '_'")
        _check(f"{w} start_year", 1900 <= self.start_year < self.now.year,
               "must be between 1900 and the year of 'now'")
        _check(f"{w} horizon_days", self.horizon_days >= 0, "must be >= 0")
        _check(f"{w} new_release_lookback_days", self.new_release_lookback_days >= 1,
               "must be >= 1")
        for name in ("new_release_share", "topic_share", "playlist_topic_share"):
            _check(f"{w} {name}", 0.0 <= getattr(self, name) <= 1.0, "must be in [0, 1]")
        for name in ("recency_skew", "popularity_alpha"):
            _check(f"{w} {name}", getattr(self, name) > 0, "must be > 0")
        for name in ("popularity_spread", "genre_zipf"):
            _check(f"{w} {name}", getattr(self, name) >= 0, "must be >= 0")
        _check(f"{w} playlist_size_min", 1 <= self.playlist_size_min <= self.playlist_size_max,
               "must be >= 1 and <= playlist_size_max")


@dataclass(frozen=True)
class UsersConfig:
    """The simulated population: how many users and how peaked their tastes are."""

    count: int = 500
    genre_concentration: float = 0.3
    mood_concentration: float = 0.5
    topic_concentration: float = 0.5
    activity_alpha: float = 1.5

    def __post_init__(self) -> None:
        _check("[users] count", 1 <= self.count <= 10_000_000, "must be 1..10,000,000")
        for name in ("genre_concentration", "mood_concentration", "topic_concentration",
                     "activity_alpha"):
            _check(f"[users] {name}", getattr(self, name) > 0, "must be > 0")


@dataclass(frozen=True)
class QueryConfig:
    """How users search: the intent mix (drifting from ``mix_start`` to ``mix_end``) and noise."""

    seed: int = 11
    start: datetime | None = None  # default: the world's ``now`` at midnight UTC
    days: float = 30.0
    sessions_per_day: float = 200.0
    session_length_mean: float = 2.0
    mix_start: Mapping[str, float] = field(default_factory=lambda: {
        "known_item": 0.40, "attribute": 0.20, "topic": 0.15, "head": 0.15,
        "new_release": 0.10})
    mix_end: Mapping[str, float] | None = None  # default: same as mix_start (no drift)
    taste_weight: float = 0.7
    known_item_types: Mapping[str, float] = field(default_factory=lambda: {
        "track": 0.6, "artist": 0.2, "album": 0.15, "playlist": 0.05})
    typo_rate: float = 0.25
    double_typo_rate: float = 0.2
    partial_rate: float = 0.15
    artist_title_rate: float = 0.3
    head_zipf: float = 1.0
    new_release_days: int = 30
    max_relevant: int = 30

    def __post_init__(self) -> None:
        q = "[queries]"
        object.__setattr__(self, "mix_start", _weights(f"{q} mix_start", self.mix_start,
                                                       INTENTS))
        end = self.mix_start if self.mix_end is None else self.mix_end
        object.__setattr__(self, "mix_end", _weights(f"{q} mix_end", end, INTENTS))
        object.__setattr__(self, "known_item_types", _weights(
            f"{q} known_item_types", self.known_item_types, KNOWN_ITEM_KINDS))
        if self.start is not None:
            start = self.start
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)
            object.__setattr__(self, "start", start.astimezone(timezone.utc))
        _check(f"{q} days", self.days > 0, "must be > 0")
        _check(f"{q} sessions_per_day", self.sessions_per_day > 0, "must be > 0")
        _check(f"{q} session_length_mean", self.session_length_mean >= 1, "must be >= 1")
        for name in ("taste_weight", "typo_rate", "double_typo_rate", "partial_rate",
                     "artist_title_rate"):
            _check(f"{q} {name}", 0.0 <= getattr(self, name) <= 1.0, "must be in [0, 1]")
        _check(f"{q} head_zipf", self.head_zipf >= 0, "must be >= 0")
        _check(f"{q} new_release_days", self.new_release_days >= 1, "must be >= 1")
        _check(f"{q} max_relevant", self.max_relevant >= 1, "must be >= 1")

    def mix_at(self, fraction: float) -> dict[str, float]:
        """The intent mix after ``fraction`` (0..1) of the simulated period: linear drift."""
        f = min(max(fraction, 0.0), 1.0)
        assert self.mix_end is not None  # set in __post_init__
        return {k: (1 - f) * self.mix_start[k] + f * self.mix_end[k] for k in INTENTS}


def _grades(where: str, raw: Any) -> tuple[float, float, float, float]:
    """A probability per relevance grade 0..3, from a list of four or a table "0".."3"."""
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"0", "1", "2", "3"}
        if unknown:
            raise ConfigError(f"{where} has unknown grade(s) {sorted(unknown)}",
                              hint='use keys "0" to "3"')
        raw = [raw.get(str(g), 0.0) for g in range(4)]
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        raise ConfigError(f"{where} must give 4 probabilities, one per grade 0..3")
    out = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where} values must be probabilities in [0, 1], got {value!r}")
        out.append(float(value))
    return (out[0], out[1], out[2], out[3])


@dataclass(frozen=True)
class ClickParams:
    """The cascade click model (formulas in ``docs/simulator.md``).

    Rank ``r`` (0-based) is examined with ``examine[r]`` if given, else ``1/(1+r)**eta``.
    An examined result of grade ``g`` is clicked with ``attractiveness[g]`` (grade 0 is the
    noise-click rate), a click satisfies with ``satisfaction[g]`` and ends the scan; a click
    leads to a play with ``play[g]`` and a play to add_to_favorites with ``favorite[g]``.
    """

    eta: float = 1.0
    examine: tuple[float, ...] | None = None
    attractiveness: tuple[float, float, float, float] = (0.02, 0.25, 0.55, 0.85)
    satisfaction: tuple[float, float, float, float] = (0.0, 0.3, 0.6, 0.9)
    play: tuple[float, float, float, float] = (0.2, 0.5, 0.75, 0.9)
    favorite: tuple[float, float, float, float] = (0.0, 0.02, 0.08, 0.25)
    max_rank: int = 20
    seconds_per_rank: float = 1.5
    application: str = "ltrr-sim"

    def __post_init__(self) -> None:
        c = "[clicks]"
        _check(f"{c} eta", self.eta >= 0, "must be >= 0")
        for name in ("attractiveness", "satisfaction", "play", "favorite"):
            object.__setattr__(self, name, _grades(f"{c} {name}", getattr(self, name)))
        if self.examine is not None:
            values = tuple(self.examine)
            _check(f"{c} examine", bool(values) and all(
                isinstance(v, (int, float)) and 0 <= v <= 1 for v in values),
                "must be a non-empty list of probabilities")
            object.__setattr__(self, "examine", tuple(float(v) for v in values))
        _check(f"{c} max_rank", self.max_rank >= 1, "must be >= 1")
        _check(f"{c} seconds_per_rank", self.seconds_per_rank >= 0, "must be >= 0")
        _check(f"{c} application", 0 < len(self.application) <= 100, "must be 1..100 chars")

    def examination(self, rank: int) -> float:
        """P(the user looks at 0-based ``rank``), before the cascade's stopping."""
        if rank >= self.max_rank:
            return 0.0
        if self.examine is not None:
            return self.examine[rank] if rank < len(self.examine) else 0.0
        return 1.0 / (1.0 + rank) ** self.eta


@dataclass(frozen=True)
class SimConfig:
    """Everything one world file describes."""

    world: WorldConfig = field(default_factory=WorldConfig)
    users: UsersConfig = field(default_factory=UsersConfig)
    queries: QueryConfig = field(default_factory=QueryConfig)
    clicks: ClickParams = field(default_factory=ClickParams)
    source: str | None = None

    def replace(self, **sections: Any) -> SimConfig:
        return dataclasses.replace(self, **sections)


_SECTIONS = {"world": WorldConfig, "users": UsersConfig, "queries": QueryConfig,
             "clicks": ClickParams}


def _coerce(cls: type, where: str, raw: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}",
                          hint=f"known keys: {', '.join(sorted(names))}")
    values = dict(raw)
    for key in ("now",):
        if key in values and isinstance(values[key], str):
            values[key] = _parse_date(where, key, values[key])
    if "start" in values:
        values["start"] = _parse_datetime(where, values["start"])
    for key in ("examine", "attractiveness", "satisfaction", "play", "favorite"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    except TypeError as exc:  # a value of the wrong type reaching a comparison
        raise ConfigError(f"{where}: a value has the wrong type ({exc})") from None


def _parse_date(where: str, key: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{where}: {key} must be a date YYYY-MM-DD, got {text!r}") from None


def _parse_datetime(where: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: start must be an ISO 8601 date-time, got {value!r}") \
            from None


def sim_config_from_mapping(data: Mapping[str, Any], source: str = "<config>") -> SimConfig:
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}",
                          hint="use [world], [users], [queries] and [clicks]")
    parts: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = data.get(name, {})
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: [{name}] must be a table")
        parts[name] = _coerce(cls, f"{source} [{name}]", section)
    return SimConfig(**parts, source=source)


def load_sim_config(path: str | Path) -> SimConfig:
    """Read a world file such as ``configs/worlds/small.toml``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"world config {str(path)!r} does not exist",
                          hint="see configs/worlds/ for examples") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read world config {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"world config {str(path)!r} is not valid TOML: {exc}") from None
    return sim_config_from_mapping(data, source=str(path))
