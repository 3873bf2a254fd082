"""Retrieval strategies as Jinja2 templates that render to OpenSearch query DSL.

One file per strategy in ``<templates_dir>/strategies/<name>.json.j2``. Each starts with a
header comment that the registry parses (see ``docs/strategies.md``)::

    {#
    name: bm25_popularity
    description: Multi-field BM25 with a popularity boost.
    needs: vector
    default: on
    params:
      popularity_boost: 1.0   # weight of the popularity rank_feature clause
    #}

Security rules, enforced here rather than trusted to template authors:

* templates render in a ``SandboxedEnvironment`` with ``StrictUndefined``;
* every ``{{ ... }}`` must print a number or a value passed through ``|tojson`` (our
  ``json.dumps`` with ``ensure_ascii``): printing a raw string is a render error, so user text
  can only ever land inside a JSON string literal;
* the rendered text must parse as a JSON object, or the error names the template and the
  rendered line.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import threading
import traceback
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError, ValidationError
from ltrr_opensearch.types import Understanding

SUFFIX = ".json.j2"
# What a template needs: ``vector`` is computed only when a chosen template asks for it (and
# the catalog must describe a vector field); ``date``: the catalog must describe a date field.
NEEDS = frozenset({"vector", "date", "memory"})  # memory: the key's entities read
# from the memory index when the memory is kept outside the catalog ([memory] store)
_HEADER_KEYS = {"name", "description", "needs", "params", "default"}
_DEFAULTS = {"on": True, "off": False}
CONTEXT_NAMES = frozenset({"query", "normalized", "keywords", "slots", "intent", "size", "vector",
                           "q2e_key", "now", "catalog", "memory"})


class JsonText(str):
    """Text produced by the ``tojson`` filter: the only kind of string a template may print."""


def tojson(value: Any) -> JsonText:
    try:
        return JsonText(json.dumps(value, ensure_ascii=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise jinja2.TemplateRuntimeError(f"tojson cannot encode {type(value).__name__}: {exc}") \
            from None


def _finalize(value: Any) -> Any:
    """Called on every ``{{ }}`` output: only numbers and ``tojson`` text may be printed."""
    if isinstance(value, JsonText):
        return value
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here with the variable's name
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise jinja2.TemplateRuntimeError("printed a non-finite number")
        return json.dumps(value)
    raise jinja2.TemplateRuntimeError(
        f"printed a {type(value).__name__} without |tojson (every value must be JSON-encoded)"
    )


@dataclass(frozen=True)
class StrategyTemplate:
    """One parsed template file: its header and compiled template."""

    name: str
    description: str
    params: Mapping[str, Any]  # declared defaults, already merged with config overrides
    param_docs: Mapping[str, str]
    needs: frozenset[str]
    path: Path
    default: bool  # enabled when the config has no [strategies] enabled list
    source: str
    compiled: jinja2.Template = field(repr=False, compare=False)


@dataclass(frozen=True)
class BrokenTemplate:
    """A template file that failed to load; kept so that only its strategy fails."""

    name: str
    path: Path
    error: str


def parse_header(source: str, path: Path) -> dict[str, Any]:
    """Parse the leading ``{# key: value ... #}`` block; params' defaults are JSON values."""
    text = source.lstrip()
    if not text.startswith("{#") or "#}" not in text:
        raise ValidationError(f"template {path.name}: no header comment",
                              hint="start the file with {# name: ... description: ... #}")
    body = text[2:text.index("#}")]
    header: dict[str, Any] = {"params": {}, "param_docs": {}, "needs": frozenset(),
                              "default": True}
    in_params = False
    for lineno, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        indented = raw[0].isspace()
        key, sep, rest = raw.strip().partition(":")
        if not sep:
            raise ValidationError(f"template {path.name} header line {lineno}: expected 'key: value'"
                                  f", got {raw.strip()!r}")
        key, rest = key.strip(), rest.strip()
        if in_params and indented:
            header["params"][key], header["param_docs"][key] = _param_value(rest, path, key)
            continue
        in_params = False
        if key not in _HEADER_KEYS:
            raise ValidationError(f"template {path.name} header line {lineno}: unknown key {key!r}",
                                  hint=f"known keys: {', '.join(sorted(_HEADER_KEYS))}")
        if key == "params":
            in_params = True
        elif key == "needs":
            needs = frozenset(n.strip() for n in rest.split(",") if n.strip())
            if needs - NEEDS:
                raise ValidationError(f"template {path.name}: unknown needs {sorted(needs - NEEDS)}",
                                      hint=f"known: {', '.join(sorted(NEEDS))}")
            header["needs"] = needs
        elif key == "default":
            if rest not in _DEFAULTS:
                raise ValidationError(f"template {path.name}: default must be on or off, "
                                      f"got {rest!r}")
            header["default"] = _DEFAULTS[rest]
        else:
            header[key] = rest
    return header


def _param_value(rest: str, path: Path, key: str) -> tuple[Any, str]:
    """``1.0   # doc`` -> (1.0, "doc"): the default is one JSON value, then an optional comment."""
    try:
        value, end = json.JSONDecoder().raw_decode(rest)
    except json.JSONDecodeError:
        raise ValidationError(f"template {path.name}: param {key!r} default {rest!r} is not JSON",
                              hint='write numbers as 1.0, strings as "AUTO", lists as [..]') from None
    tail = rest[end:].strip()
    if tail and not tail.startswith("#"):
        raise ValidationError(f"template {path.name}: param {key!r} has trailing text {tail!r}")
    return value, tail.lstrip("#").strip()


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


class TemplateRegistry:
    """Loads, compiles and caches the strategy templates of one directory.

    ``enabled`` limits which strategies are offered (default: every template found);
    ``overrides`` maps strategy -> {param: value} and replaces the header defaults.
    Templates are read once; call :meth:`reload` after editing files.
    """

    def __init__(
        self,
        directory: Path,
        enabled: Sequence[str] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._enabled = list(enabled) if enabled is not None else None
        self._overrides = {k: dict(v) for k, v in (overrides or {}).items()}
        self.reload()

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateRegistry:
        """Directory ``<templates_dir>/strategies``; ``[strategies] enabled`` and
        ``[strategies.params.<name>]`` from the config file."""
        section = settings.section("strategies")
        enabled = section.get("enabled")
        if enabled is not None and (
            not isinstance(enabled, list) or not all(isinstance(n, str) for n in enabled)
        ):
            raise ConfigError("[strategies] enabled must be a list of template names")
        params = section.get("params", {})
        if not isinstance(params, Mapping) or not all(isinstance(v, Mapping)
                                                      for v in params.values()):
            raise ConfigError("[strategies.params.<name>] must be tables of parameter values")
        return cls(Path(settings.templates_dir) / "strategies", enabled, params)

    def reload(self) -> None:
        if not self.directory.is_dir():
            raise ConfigError(f"strategy templates directory {str(self.directory)!r} not found",
                              hint="set templates_dir or create templates/strategies/")
        sources = {p.name[: -len(SUFFIX)]: p for p in sorted(self.directory.glob(f"*{SUFFIX}"))}
        env = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            finalize=_finalize,
            keep_trailing_newline=True,
            loader=jinja2.FunctionLoader(
                lambda n: (sources[n].read_text(encoding="utf-8"), str(sources[n]), lambda: True)
                if n in sources else None
            ),
        )
        env.filters["tojson"] = tojson
        self._rendered = _RenderCache()  # texts of the templates loaded below only
        self._templates: dict[str, StrategyTemplate] = {}
        self._broken: dict[str, BrokenTemplate] = {}
        for name, path in sources.items():
            try:
                self._templates[name] = self._load(env, name, path)
            except ValidationError as exc:
                self._broken[name] = BrokenTemplate(name, path, exc.message)
        if self._enabled is not None:
            unknown = [n for n in self._enabled if n not in sources]
            if unknown:
                raise ConfigError(
                    f"[strategies] enabled names unknown template(s): {', '.join(unknown)}",
                    hint=f"templates in {self.directory}: {', '.join(sources) or 'none'}")
        unknown = [n for n in self._overrides if n not in sources]
        if unknown:
            raise ConfigError(f"[strategies.params] names unknown template(s): {', '.join(unknown)}")

    def _load(self, env: SandboxedEnvironment, name: str, path: Path) -> StrategyTemplate:
        source = path.read_text(encoding="utf-8")
        header = parse_header(source, path)
        if header.get("name", name) != name:
            raise ValidationError(f"template {path.name}: header name {header['name']!r} differs "
                                  f"from the file name", hint=f"rename it to {name!r}")
        params = dict(header["params"])
        shadowed = CONTEXT_NAMES.intersection(params)
        if shadowed:
            raise ValidationError(f"template {name}: params {sorted(shadowed)} shadow context "
                                  "variables", hint="rename the parameters")
        for key, value in self._overrides.get(name, {}).items():
            if key not in params:
                raise ConfigError(f"[strategies.params.{name}] {key!r} is not a parameter of "
                                  f"{name}", hint=f"parameters: {', '.join(params) or 'none'}")
            if not _same_kind(params[key], value):
                raise ConfigError(f"[strategies.params.{name}] {key} must be like "
                                  f"{params[key]!r}, got {value!r}")
            params[key] = value
        try:
            compiled = env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise ValidationError(f"template {name} line {exc.lineno}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise ValidationError(f"template {name}: {exc}") from None
        return StrategyTemplate(name=name, description=header.get("description", ""),
                                params=params, param_docs=header["param_docs"],
                                needs=header["needs"], path=path, default=header["default"],
                                source=source, compiled=compiled)

    @property
    def names(self) -> list[str]:
        """The enabled strategies, broken ones included (they fail when run): the
        ``[strategies] enabled`` list, else every template whose header says ``default: on``
        (the default)."""
        found = sorted([*self._templates, *self._broken])
        if self._enabled:
            return [n for n in self._enabled if n in found]
        return [n for n in found if n in self._broken or self._templates[n].default]

    @property
    def available(self) -> list[str]:
        """Every template found, enabled or not."""
        return sorted([*self._templates, *self._broken])

    @property
    def broken(self) -> Mapping[str, BrokenTemplate]:
        return dict(self._broken)

    def get(self, name: str) -> StrategyTemplate:
        if name in self._broken:
            raise ValidationError(self._broken[name].error)
        if name not in self._templates:
            raise ValidationError(f"unknown strategy {name!r}",
                                  hint=f"available: {', '.join(self.names) or 'none'}")
        return self._templates[name]

    def needs(self, names: Sequence[str]) -> frozenset[str]:
        """What the given strategies need computed (e.g. ``vector``); broken ones need nothing."""
        return frozenset().union(*(self._templates[n].needs for n in names
                                   if n in self._templates))

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        """The rendered text (not yet parsed); errors name the template and its source line."""
        template = self.get(name)
        try:
            return template.compiled.render({**template.params, **context})
        except jinja2.TemplateError as exc:
            line = _template_line(exc, template.path)
            where = f" line {line}" if line else ""
            raise ValidationError(f"template {name}{where}: {exc}") from None

    def render(self, name: str, context: Mapping[str, Any]) -> dict[str, Any]:
        """Render and parse: the search body as a dict, or a ValidationError naming the line.
        A template's text is a function of its variables alone, so the text rendered for the
        very same variables (a repeated query) is reused; the dict is parsed anew each time."""
        key = _RenderCache.key(name, context)
        text = self._rendered.get(key)
        if text is None:
            text = self.render_text(name, context)
            self._rendered.put(key, text)
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = text.splitlines() or [""]
            shown = lines[min(exc.lineno, len(lines)) - 1].strip()
            if len(shown) > 160:
                shown = shown[:157] + "..."
            raise ValidationError(
                f"template {name}: rendered line {exc.lineno} col {exc.colno} is not valid JSON "
                f"({exc.msg}): {shown}",
                hint=f"run `ltrr templates render {name} --query ...` to see the output") from None
        if not isinstance(body, dict):
            raise ValidationError(f"template {name}: rendered a JSON {type(body).__name__}, "
                                  "not an object (a search body)")
        return body


class _RenderCache:
    """The last ``size`` rendered texts by (template, variables), shared by request threads.

    The key is the pickle of the variables: equal bytes only for equal values of the same
    types (NaN is not None, 1 is not 1.0, a tuple is not a list), so a hit is never another
    context's text; variables pickle cannot take are not cached. Templates see nothing but
    their variables and parameters (sandboxed), and ``reload`` starts a new cache."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._texts: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str, context: Mapping[str, Any]) -> tuple[str, bytes] | None:
        try:
            return name, pickle.dumps(dict(context), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return None

    def get(self, key: tuple[str, bytes] | None) -> str | None:
        if key is None:
            return None
        with self._lock:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
            return text

    def put(self, key: tuple[str, bytes] | None, text: str) -> None:
        if key is None:
            return
        with self._lock:
            self._texts[key] = text
            while len(self._texts) > self.size:
                self._texts.popitem(last=False)


def _template_line(exc: BaseException, path: Path) -> int | None:
    """Jinja rewrites tracebacks to point into the template file: take its last line there."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return lines[-1] if lines else None


def _private_copy(catalog: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the catalog variable, by a pickle round trip: for its plain JSON-like
    values the same copy as ``copy.deepcopy`` (types and shared references kept), about a
    third of the time on every render; anything pickle cannot take is deep-copied."""
    try:
        # Our own bytes of this very object, never outside data.
        return pickle.loads(pickle.dumps(dict(catalog), protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(dict(catalog))


def build_context(
    understanding: Understanding,
    *,
    size: int,
    q2e_key: str | None = None,
    vector: Sequence[float] | None = None,
    now: datetime | None = None,
    catalog: Mapping[str, Any] | None = None,
    memory: Sequence[tuple[str, float]] | None = None,
) -> dict[str, Any]:
    """The variables every template sees (declared params are added by the registry).

    ``catalog`` is the bound catalog description's template context
    (:func:`ltrr_opensearch.retrieve.catalog.catalog_context`); without one, the built-in
    music description bound to the managed mapping file (what ``--offline`` renders)."""
    if catalog is None:
        from ltrr_opensearch.retrieve.catalog import offline_catalog

        catalog = offline_catalog()
    return {
        "query": understanding.raw,
        "normalized": understanding.match_text,  # the catalog's spelling: "titan a.e"
        "keywords": list(understanding.keywords),
        "slots": [{"kind": s.kind, "value": s.value, "text": s.text, "confidence": s.confidence}
                  for s in understanding.slots],
        "intent": understanding.intent,
        "size": int(size),
        "vector": [float(x) for x in vector] if vector is not None else None,
        "q2e_key": q2e_key,
        "now": (now or datetime.now(timezone.utc)).date().isoformat(),
        # A copy per render: a template appending to a catalog list changes nothing shared.
        "catalog": _private_copy(catalog),
        # The key's remembered entities when the memory is kept outside the catalog.
        "memory": [{"id": e, "weight": float(w)} for e, w in memory or ()],
    }
