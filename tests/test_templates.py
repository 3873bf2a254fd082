"""Strategy templates: header parsing, sandboxed rendering, errors that name the template."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltrr_opensearch.config import PACKAGE_ROOT, Settings
from ltrr_opensearch.errors import ConfigError, ValidationError
from ltrr_opensearch.retrieve.templates import TemplateRegistry, build_context
from ltrr_opensearch.types import ContextVector, Slot, Understanding

REPO_STRATEGIES = PACKAGE_ROOT / "templates" / "strategies"
SHIPPED = {"bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases",
           "long_tail"}


def understanding(raw: str, *, normalized: str | None = None, keywords=("x",), slot_value="rock",
                  intent="track") -> Understanding:
    slots = (Slot("genre", slot_value, "rock", 1.0), Slot("decade", "1990s", "90s", 0.5),
             Slot("artist", slot_value, "q", 0.9), Slot("album", slot_value, "a", 0.7))
    return Understanding(raw=raw, normalized=raw if normalized is None else normalized,
                         tokens=tuple(raw.split()), slots=slots, keywords=tuple(keywords),
                         intent=intent, intent_confidence=0.8,
                         context=ContextVector("t", (), ()))


def context(u: Understanding, q2e_key: str = "key") -> dict:
    return build_context(u, size=7, q2e_key=q2e_key, vector=[0.5, -0.25, 1.0])


def write(directory: Path, name: str, text: str) -> None:
    (directory / f"{name}.json.j2").write_text(text, encoding="utf-8")


@pytest.fixture()
def tmp_registry_dir(tmp_path: Path) -> Path:
    d = tmp_path / "strategies"
    d.mkdir()
    write(d, "plain", '{# name: plain\ndescription: d\nparams:\n  boost: 2.0  # b\n#}\n'
                      '{"size": {{ size }}, "query": {"match": {"title": {"query": '
                      '{{ query | tojson }}, "boost": {{ boost }}}}}}\n')
    return d


def test_shipped_templates_all_load_and_render_json_objects():
    registry = TemplateRegistry(REPO_STRATEGIES)
    assert set(registry.available) >= SHIPPED
    assert registry.broken == {}
    for name in registry.available:
        body = registry.render(name, context(understanding("90s rock")))
        assert body["size"] == 7, name
        assert "query" in body, name


def test_header_gives_description_params_with_docs_and_needs():
    registry = TemplateRegistry(REPO_STRATEGIES)
    bm25 = registry.get("bm25_popularity")
    assert bm25.params["fuzziness"] == "AUTO"
    assert bm25.param_docs["popularity_boost"]
    assert bm25.description
    assert registry.get("knn_vector").needs == {"vector"}
    assert registry.needs(["bm25_popularity", "q2e_memory"]) == frozenset({"memory"})
    assert registry.needs(["bm25_popularity", "knn_vector"]) == {"vector"}


def test_config_overrides_a_declared_param_and_limits_enabled_strategies(tmp_path):
    config = tmp_path / "ltrr.toml"
    config.write_text('[strategies]\nenabled = ["bm25_popularity", "q2e_memory"]\n'
                      '[strategies.params.bm25_popularity]\npopularity_boost = 4.5\n')
    settings_ = Settings.load(config_file=config, env={})
    registry = TemplateRegistry.from_settings(settings_)
    assert registry.names == ["bm25_popularity", "q2e_memory"]
    body = registry.render("bm25_popularity", context(understanding("q")))
    assert body["query"]["bool"]["should"][0]["rank_feature"]["boost"] == 4.5


def test_config_naming_an_unknown_strategy_or_param_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nope"):
        TemplateRegistry(REPO_STRATEGIES, enabled=["bm25_popularity", "nope"])
    with pytest.raises(ConfigError, match="not a parameter"):
        TemplateRegistry(REPO_STRATEGIES, overrides={"bm25_popularity": {"nope": 1}})
    with pytest.raises(ConfigError, match="must be like"):
        TemplateRegistry(REPO_STRATEGIES, overrides={"bm25_popularity": {"fuzziness": 2}})


def test_new_strategy_is_a_dropped_file_picked_up_on_reload(tmp_registry_dir):
    registry = TemplateRegistry(tmp_registry_dir)
    assert registry.names == ["plain"]
    write(tmp_registry_dir, "second", '{# description: two #}\n{"query": {"match_all": {}}}')
    assert registry.names == ["plain"]  # compiled once, cached
    registry.reload()
    assert registry.names == ["plain", "second"]
    assert registry.render("second", context(understanding("q"))) == {"query": {"match_all": {}}}


def test_printing_a_raw_string_is_an_error_naming_template_and_line(tmp_registry_dir):
    write(tmp_registry_dir, "raw", '{# description: unsafe #}\n{\n  "query": {"match": '
                                   '{"title": "{{ query }}"}}\n}')
    registry = TemplateRegistry(tmp_registry_dir)
    with pytest.raises(ValidationError, match=r"template raw line 3: .*without \|tojson"):
        registry.render("raw", context(understanding("q")))


def test_undefined_variable_is_an_error_naming_template_and_line(tmp_registry_dir):
    write(tmp_registry_dir, "undef", '{# description: typo #}\n{\n\n  "size": {{ sise }}\n}')
    registry = TemplateRegistry(tmp_registry_dir)
    with pytest.raises(ValidationError, match=r"template undef line 4: .*sise"):
        registry.render("undef", context(understanding("q")))


def test_invalid_rendered_json_names_template_and_shows_the_rendered_line(tmp_registry_dir):
    write(tmp_registry_dir, "badjson", '{# description: missing comma #}\n{\n  "size": 1\n'
                                       '  "query": {"match_all": {}}\n}')
    registry = TemplateRegistry(tmp_registry_dir)
    with pytest.raises(ValidationError) as info:
        registry.render("badjson", context(understanding("q")))
    assert "template badjson: rendered line 4" in info.value.message
    assert '"query": {"match_all": {}}' in info.value.message


def test_rendering_a_json_array_is_rejected(tmp_registry_dir):
    write(tmp_registry_dir, "array", '{# description: not a body #}\n[1, 2]')
    with pytest.raises(ValidationError, match="template array: rendered a JSON list"):
        TemplateRegistry(tmp_registry_dir).render("array", {})


def test_syntax_error_breaks_only_that_template_and_names_its_line(tmp_registry_dir):
    write(tmp_registry_dir, "syntax", '{# description: bad #}\n{\n {% if %}\n}')
    registry = TemplateRegistry(tmp_registry_dir)
    assert registry.names == ["plain", "syntax"]
    assert "template syntax line 3" in registry.broken["syntax"].error
    with pytest.raises(ValidationError, match="template syntax line 3"):
        registry.render("syntax", {})
    assert registry.render("plain", context(understanding("q")))["size"] == 7


@pytest.mark.parametrize("header, message", [
    ('{"query": {}}', "no header comment"),
    ('{# name: other #}\n{}', "differs from the file name"),
    ('{# colour: red #}\n{}', "unknown key 'colour'"),
    ('{# needs: gpu #}\n{}', "unknown needs"),
    ('{# params:\n  boost: two #}\n{}', "not JSON"),
    ('{# params:\n  query: "x" #}\n{}', "shadow context variables"),
])
def test_bad_header_is_reported_for_that_template(tmp_registry_dir, header, message):
    write(tmp_registry_dir, "hdr", header)
    registry = TemplateRegistry(tmp_registry_dir)
    assert message in registry.broken["hdr"].error
    assert "hdr" in registry.broken["hdr"].error


def test_sandbox_blocks_python_internals(tmp_registry_dir):
    write(tmp_registry_dir, "escape", '{# description: x #}\n'
                                      '{"q": {{ query.__class__.__mro__ | string | tojson }}}')
    with pytest.raises(ValidationError, match="template escape"):
        TemplateRegistry(tmp_registry_dir).render("escape", context(understanding("q")))


def test_missing_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        TemplateRegistry(tmp_path / "nowhere")


# --- injection: user text can never change the structure of a rendered query ---------------

NASTY = st.one_of(
    st.sampled_from(['"}},{"match_all":{}}', '{{ size }}', '{% for x in y %}', '\\', '\\"',
                     '"', "'", '{"a": 1}', "}}]}", "\x00\x1f\x7f", "\u2028\u2029", "🎵 Motörhead",
                     "</script>", "${jndi:x}", "a" * 5000, "\ud800"]),
    st.text(min_size=1, max_size=200),
    st.text(alphabet=st.sampled_from('{}[]"\\:,%#\n\t\r\x00 ab'), min_size=1, max_size=60),
)


def skeleton(value):
    """The JSON's shape: keys and non-string leaves kept, every string replaced by a marker."""
    if isinstance(value, dict):
        return {k: skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        return [skeleton(v) for v in value]
    return "<str>" if isinstance(value, str) else value


REGISTRY = TemplateRegistry(REPO_STRATEGIES)
BENIGN = {name: skeleton(REGISTRY.render(name, context(understanding("benign query"))))
          for name in REGISTRY.available}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=NASTY, other=NASTY)
def test_user_text_only_ever_appears_as_string_values(text, other):
    u = understanding(text, normalized=other, keywords=(text, other), slot_value=other)
    for name in REGISTRY.available:
        rendered = REGISTRY.render_text(name, context(u, q2e_key=other))
        assert rendered.isascii(), name  # ensure_ascii: no raw control or unicode characters
        assert all(c >= " " or c in "\n\t\r" for c in rendered), name
        body = json.loads(rendered)
        assert skeleton(body) == BENIGN[name], name


def test_long_tail_is_off_by_default_and_an_enabled_list_turns_it_on():
    assert TemplateRegistry(REPO_STRATEGIES).names == ["bm25_popularity", "knn_vector",
                                                       "q2e_memory", "structured_qu"]
    assert "long_tail" in TemplateRegistry(REPO_STRATEGIES, ["long_tail", "knn_vector"]).names


def test_a_default_other_than_on_or_off_is_refused(tmp_registry_dir):
    write(tmp_registry_dir, "odd", '{# name: odd\ndescription: d\ndefault: maybe\n#}\n{}\n')
    registry = TemplateRegistry(tmp_registry_dir)
    assert "default must be on or off" in registry.broken["odd"].error


def test_a_template_can_be_copied_into_another_directory(tmp_registry_dir):
    shutil.copy(REPO_STRATEGIES / "q2e_memory.json.j2", tmp_registry_dir)
    body = TemplateRegistry(tmp_registry_dir).render("q2e_memory",
                                                     context(understanding("q"), "late_night"))
    assert body["query"] == {"rank_feature": {"field": "q2e.late_night", "linear": {}}}
