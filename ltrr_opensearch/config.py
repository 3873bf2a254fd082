"""One settings object for the whole product.

Precedence, lowest first: built-in defaults, the TOML file (``LTRR_CONFIG`` or ``--config``),
environment variables, then explicit overrides (CLI flags such as ``--url``).

Secrets (the password) are wrapped in :class:`Secret` so that printing, logging or
``repr`` of the settings never shows them; URLs are shown through :func:`redact_url`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from ltrr_opensearch.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:9200"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Templates and index mappings ship inside the package, so an installed wheel can search.
PACKAGE_ROOT = Path(__file__).resolve().parent

ENV_URL = "LTRR_OPENSEARCH_URL"
ENV_USER = "LTRR_OPENSEARCH_USER"
ENV_PASSWORD = "LTRR_OPENSEARCH_PASSWORD"  # noqa: S105 - the variable's name, not a secret
ENV_CA_CERTS = "LTRR_OPENSEARCH_CA_CERTS"
ENV_VERIFY_CERTS = "LTRR_OPENSEARCH_VERIFY_CERTS"
ENV_TIMEOUT = "LTRR_OPENSEARCH_TIMEOUT"
ENV_INDEX_PREFIX = "LTRR_INDEX_PREFIX"
ENV_INDEX_REPLICAS = "LTRR_INDEX_REPLICAS"
ENV_CONFIG = "LTRR_CONFIG"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """``https://user:pw@host:9200/x`` -> ``https://host:9200/x`` (credentials dropped)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _parse_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _parse_urls(name: str, raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    urls = tuple(str(u).strip().rstrip("/") for u in items if str(u).strip())
    if not urls:
        raise ConfigError(f"{name} is empty", hint=f"give at least one URL such as {DEFAULT_URL}")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{name} has an invalid URL {redact_url(url)!r}",
                hint="use http(s)://host:port, several separated by commas",
            )
    return urls


@dataclass(frozen=True)
class Settings:
    """Cluster connection, index names and the raw sections other subsystems read."""

    urls: tuple[str, ...] = (DEFAULT_URL,)
    user: str | None = None
    password: Secret | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    timeout: float = 30.0
    max_retries: int = 2
    index_prefix: str = "ltrr"
    # number_of_replicas of every index ltrr creates; None: decided at creation from the
    # cluster (0 on one data node, 1 on several), see ltrr_opensearch/mappings.py
    index_replicas: int | None = None
    templates_dir: Path = PACKAGE_ROOT / "templates"
    mappings_dir: Path = PACKAGE_ROOT / "mappings"
    # Other sections of the TOML file ([bandit], [budget], [strategies], ...), read-only,
    # parsed by the subsystem that owns them.
    sections: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        # Credentials written into a URL move to user/password, so no URL we keep, print or
        # hand to the client carries a secret.
        clean = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.username and not self.user:
                object.__setattr__(self, "user", unquote(parts.username))
            if parts.password and not self.password:
                object.__setattr__(self, "password", Secret(unquote(parts.password)))
            clean.append(redact_url(url))
        object.__setattr__(self, "urls", tuple(clean))

    # Index names derive from one prefix, so a test run or a second tenant can isolate itself.
    @property
    def catalog_alias(self) -> str:
        return f"{self.index_prefix}-catalog"

    @property
    def catalog_index(self) -> str:
        """The index or alias searches read: the user's own when the catalog description
        names one (``[catalog] description``), else the managed alias."""
        from ltrr_opensearch.catalog.description import description_for

        return description_for(self).target(self)

    @property
    def ubi_queries_index(self) -> str:
        return f"{self.index_prefix}-ubi-queries"

    @property
    def ubi_events_index(self) -> str:
        return f"{self.index_prefix}-ubi-events"

    @property
    def deadletter_index(self) -> str:
        return f"{self.index_prefix}-deadletter"

    @property
    def state_index(self) -> str:
        return f"{self.index_prefix}-state"

    @property
    def display_urls(self) -> str:
        return ", ".join(redact_url(u) for u in self.urls)

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections.get(name, MappingProxyType({}))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; ``url`` accepts a comma-separated string."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "url" in changes:
            changes["urls"] = _parse_urls("--url", changes.pop("url"))
        if isinstance(changes.get("password"), str):
            changes["password"] = Secret(changes["password"])
        return replace(self, **changes)

    @classmethod
    def load(
        cls,
        config_file: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sections: dict[str, Mapping[str, Any]] = {}

        path = config_file or env.get(ENV_CONFIG)
        if path:
            file_values, sections = _read_toml(Path(path))
            values.update(file_values)

        if env.get(ENV_URL):
            values["urls"] = _parse_urls(ENV_URL, env[ENV_URL])
        if env.get(ENV_USER):
            values["user"] = env[ENV_USER]
        if env.get(ENV_PASSWORD):
            values["password"] = Secret(env[ENV_PASSWORD])
        if env.get(ENV_CA_CERTS):
            values["ca_certs"] = env[ENV_CA_CERTS]
        if env.get(ENV_VERIFY_CERTS):
            values["verify_certs"] = _parse_bool(ENV_VERIFY_CERTS, env[ENV_VERIFY_CERTS])
        if env.get(ENV_TIMEOUT):
            values["timeout"] = _parse_timeout(ENV_TIMEOUT, env[ENV_TIMEOUT])
        if env.get(ENV_INDEX_PREFIX):
            values["index_prefix"] = _parse_prefix(ENV_INDEX_PREFIX, env[ENV_INDEX_PREFIX])
        if env.get(ENV_INDEX_REPLICAS):
            values["index_replicas"] = _parse_replicas(ENV_INDEX_REPLICAS, env[ENV_INDEX_REPLICAS])

        settings = cls(**values, sections=MappingProxyType(sections))
        settings = settings.with_overrides(**overrides)
        if settings.ca_certs and not Path(settings.ca_certs).is_file():
            raise ConfigError(f"CA bundle {settings.ca_certs!r} does not exist")
        return settings


def _parse_timeout(name: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _parse_prefix(name: str, raw: Any) -> str:
    text = str(raw)
    if not text or not all(c.islower() or c.isdigit() or c in "-_" for c in text):
        raise ConfigError(
            f"{name} must be lowercase letters, digits, '-' or '_', got {raw!r}",
            hint="OpenSearch index names are lowercase",
        )
    return text


def _parse_replicas(name: str, raw: Any) -> int | None:
    """A count of replicas (0-10), or "auto" for the cluster-dependent default."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return None
    try:
        value = int(str(raw).strip()) if not isinstance(raw, (bool, float)) else None
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 10:
        raise ConfigError(f"{name} must be a whole number of replicas from 0 to 10 or 'auto', "
                          f"got {raw!r}")
    return value


_OPENSEARCH_KEYS = {"url", "user", "password", "ca_certs", "verify_certs", "timeout", "max_retries"}
_INDEX_KEYS = {"prefix", "replicas"}


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None

    values: dict[str, Any] = {}
    cluster = data.pop("opensearch", {})
    unknown = set(cluster) - _OPENSEARCH_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [opensearch]: {', '.join(sorted(unknown))}",
            hint=f"known keys: {', '.join(sorted(_OPENSEARCH_KEYS))}",
        )
    if "url" in cluster:
        values["urls"] = _parse_urls(f"{path} [opensearch] url", cluster["url"])
    if "user" in cluster:
        values["user"] = str(cluster["user"])
    if "password" in cluster:
        values["password"] = Secret(str(cluster["password"]))
    if "ca_certs" in cluster:
        values["ca_certs"] = str(cluster["ca_certs"])
    if "verify_certs" in cluster:
        values["verify_certs"] = _parse_bool("verify_certs", cluster["verify_certs"])
    if "timeout" in cluster:
        values["timeout"] = _parse_timeout("timeout", cluster["timeout"])
    if "max_retries" in cluster:
        values["max_retries"] = int(cluster["max_retries"])

    indices = data.pop("indices", {})
    unknown = set(indices) - _INDEX_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [indices]: {', '.join(sorted(unknown))}")
    if "prefix" in indices:
        values["index_prefix"] = _parse_prefix("[indices] prefix", indices["prefix"])
    if "replicas" in indices:
        values["index_replicas"] = _parse_replicas("[indices] replicas", indices["replicas"])

    if isinstance(data.get("catalog"), dict):
        data["catalog"] = _description_from(path, data["catalog"])
    sections: dict[str, Mapping[str, Any]] = {
        k: MappingProxyType(dict(v)) for k, v in data.items() if isinstance(v, dict)}
    return values, sections


def _description_from(config: Path, catalog: dict[str, Any]) -> dict[str, Any]:
    """``[catalog] description = "x.toml"`` relative to the config file's folder, not to
    the folder the command runs in (a built-in name such as "music" stays a name)."""
    from ltrr_opensearch.catalog.description import builtin_names

    spec = catalog.get("description")
    if not isinstance(spec, str) or spec in builtin_names() or Path(spec).is_absolute():
        return catalog
    if not Path(spec).suffix and not (config.parent / spec).exists():
        return catalog  # neither a file nor a built-in: load_description says so by name
    return {**catalog, "description": str(config.parent / spec)}
