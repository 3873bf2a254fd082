"""Any OpenFeature provider by configuration: ``[experiments] provider`` is "file" (a flagd
flag file) or a class path built with ``[experiments.provider_args]``; failures name the
problem at start. The end-to-end test serves searches through ``ltrr serve --config``
with the in-repo provider of ``tests/flag_provider_example.py``."""

from __future__ import annotations

import json
import time

import pytest

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.experiment.flags import FlagSource
from ltrr_opensearch.experiment.provider import FileFlagProvider, provider_from_settings
from tests.flag_provider_example import variant_of
from tests.test_service import catalog, count, policy, serving  # noqa: F401  (fixtures)

PARITY = "tests.flag_provider_example:ParityProvider"
ARGS = """
[experiments.provider_args]
experiment = "ranker-test"
{extra}
[experiments.provider_args.variants.control]
ranker-model = "none"
[experiments.provider_args.variants.treatment]
ranker-model = "deployed"
"""


def parity(extra: str = "") -> str:
    """A config naming the in-repo provider, ``extra`` lines among its arguments."""
    return f'[experiments]\nprovider = "{PARITY}"\n' + ARGS.format(extra=extra)


def settings_with(tmp_path, text: str) -> Settings:
    path = tmp_path / "ltrr.toml"
    path.write_text(text)
    return Settings.load(config_file=path, env={})


def problem(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        provider_from_settings(settings_with(tmp_path, text))
    return caught.value.message + " " + (caught.value.hint or "")


def test_no_experiments_section_means_no_flags(tmp_path):
    assert provider_from_settings(settings_with(tmp_path, "[bandit]\n")) is None


def test_a_provider_class_path_is_built_with_its_args_and_resolves_variants(tmp_path):
    provider = provider_from_settings(settings_with(
        tmp_path, parity()))
    variant = FlagSource(provider).resolve("alice")
    expected = variant_of("alice", ["control", "treatment"])
    assert variant.assignments == (("ranker-test", expected),)
    assert variant.ranker_model == ("none" if expected == "control" else "deployed")


def test_a_string_for_an_enum_parameter_becomes_the_enum_member(tmp_path):
    """TOML has no enums (flagd's resolver_type is one): the value or name is accepted."""
    from tests.flag_provider_example import Order

    for given in ("descending", "DESCENDING"):
        provider = provider_from_settings(settings_with(
            tmp_path, parity(f'order = "{given}"')))
        assert provider.order is Order.DESCENDING
    assert "order must be one of 'ascending', 'descending', got 'sideways'" in problem(
        tmp_path, parity('order = "sideways"'))


def test_the_file_provider_is_the_default(tmp_path):
    flags = tmp_path / "flags.json"
    flags.write_text('{"flags": {}}')
    provider = provider_from_settings(settings_with(
        tmp_path, f'[experiments]\nflag_file = "{flags}"\ncheck_seconds = 0\n'))
    assert isinstance(provider, FileFlagProvider) and provider.check_seconds == 0.0


def test_the_file_provider_needs_a_flag_file(tmp_path):
    assert "needs flag_file" in problem(tmp_path, '[experiments]\nprovider = "file"\n')


def test_a_module_that_cannot_be_imported_is_named_with_the_install_hint(tmp_path):
    text = problem(tmp_path, '[experiments]\nprovider = "no_such_pkg.provider:Thing"\n')
    assert "cannot import 'no_such_pkg.provider'" in text and "pip install" in text


def test_a_missing_class_is_named(tmp_path):
    text = problem(tmp_path, '[experiments]\nprovider = "tests.flag_provider_example:Nope"\n')
    assert "has no attribute 'Nope'" in text


def test_arguments_the_provider_refuses_are_named(tmp_path):
    text = problem(tmp_path, f'[experiments]\nprovider = "{PARITY}"\n'
                             '[experiments.provider_args]\nexperiment = "x"\ncolour = "red"\n')
    assert "could not be built with provider_args (colour, experiment)" in text
    assert "colour" in text.split(":", 2)[-1]  # the TypeError says which one


def test_a_class_that_is_not_a_provider_is_refused(tmp_path):
    text = problem(tmp_path, '[experiments]\nprovider = "collections:OrderedDict"\n')
    assert "is not an OpenFeature provider" in text and "resolve_object_details" in text


def test_a_spec_without_a_class_is_refused(tmp_path):
    assert "is not a class path" in problem(tmp_path, '[experiments]\nprovider = "flagd"\n')


def test_unknown_keys_are_refused(tmp_path):
    assert "unknown key(s) in [experiments]: flagfile" in problem(
        tmp_path, '[experiments]\nflagfile = "x.json"\n')


@pytest.mark.integration
def test_serve_with_a_configured_provider_logs_its_variants(catalog, client, policy, tmp_path):  # noqa: F811
    config = tmp_path / "ltrr.toml"
    config.write_text(parity())
    users = ["ann", "bob", "cy", "dee"]
    with serving(catalog, "--policy", policy, "--config", str(config)) as api:
        for user in users:
            answer = api.post("/search", json={"query": "love", "client_id": user, "k": 3},
                              headers={"X-Request-ID": f"req-{user}"})
            assert answer.status_code == 200, answer.text
        ready = api.get("/ready").json()
        deadline = time.monotonic() + 10
        while count(client, catalog.ubi_queries_index) < len(users) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    logged = {u: client.get(index=catalog.ubi_queries_index, id=f"req-{u}")["_source"]
              ["query_attributes"]["variant"] for u in users}
    assert logged == {u: f"ranker-test/{variant_of(u, ['control', 'treatment'])}"
                      for u in users}
    assert len(set(logged.values())) == 2
    assert ready["checks"]["flags"]["provider"] == "parity-test-provider", json.dumps(ready)
