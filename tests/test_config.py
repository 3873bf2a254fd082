"""Settings: precedence, validation and secret hygiene (pure logic, no node)."""

from __future__ import annotations

import pytest

from ltrr_opensearch.config import Settings, redact_url
from ltrr_opensearch.errors import ConfigError


def test_env_overrides_toml_and_cli_overrides_env(tmp_path):
    config = tmp_path / "ltrr.toml"
    config.write_text('[opensearch]\nurl = "http://file-host:9200"\ntimeout = 5\n'
                      '[indices]\nprefix = "music"\n[bandit]\npolicy = "LinUCB"\n')
    env = {"LTRR_CONFIG": str(config), "LTRR_OPENSEARCH_URL": "http://env-a:9200,http://env-b:9201"}
    settings = Settings.load(env=env)
    assert settings.urls == ("http://env-a:9200", "http://env-b:9201")
    assert settings.timeout == 5
    assert settings.catalog_alias == "music-catalog"
    assert settings.section("bandit")["policy"] == "LinUCB"
    assert Settings.load(env=env, url="http://cli:9200").urls == ("http://cli:9200",)


def test_password_never_appears_in_repr_or_display_urls():
    settings = Settings.load(env={"LTRR_OPENSEARCH_URL": "https://admin:hunter2@host:9200",
                                  "LTRR_OPENSEARCH_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.display_urls
    assert settings.password.reveal() == "hunter2"


def test_redact_url_drops_credentials_but_keeps_host_port_and_path():
    assert redact_url("https://u:p@example.org:9200/x?y=1") == "https://example.org:9200/x?y=1"
    assert redact_url("http://example.org") == "http://example.org"


@pytest.mark.parametrize("env, message", [
    ({"LTRR_OPENSEARCH_URL": "localhost:9200"}, "invalid URL"),
    ({"LTRR_OPENSEARCH_URL": " , "}, "is empty"),
    ({"LTRR_OPENSEARCH_VERIFY_CERTS": "maybe"}, "true or false"),
    ({"LTRR_OPENSEARCH_TIMEOUT": "-1"}, "positive"),
    ({"LTRR_INDEX_PREFIX": "Music"}, "lowercase"),
    ({"LTRR_OPENSEARCH_CA_CERTS": "/nonexistent/ca.pem"}, "does not exist"),
])
def test_invalid_settings_raise_config_error_naming_the_problem(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(env=env)


def test_unknown_key_in_opensearch_section_is_rejected(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[opensearch]\nurls = "http://x:9200"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        Settings.load(env={"LTRR_CONFIG": str(config)})


def test_malformed_toml_names_the_file(tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("[opensearch\nurl=")
    with pytest.raises(ConfigError, match="broken.toml"):
        Settings.load(env={"LTRR_CONFIG": str(config)})


def test_the_example_config_is_valid_for_every_subsystem():
    from ltrr_opensearch.feedback.config import FeedbackConfig, MemoryConfig
    from ltrr_opensearch.retrieve.templates import TemplateRegistry
    from ltrr_opensearch.select.config import config_from_settings

    settings = Settings.load(env={"LTRR_CONFIG": "configs/ltrr.example.toml"})
    assert settings.urls == ("https://search-1:9200", "https://search-2:9200")
    assert config_from_settings(settings).name == "linucb"
    assert FeedbackConfig.from_settings(settings).weight("reformulation") == 0.4
    assert MemoryConfig.from_settings(settings).half_life_days == 14.0
    assert "q2e_memory" in TemplateRegistry.from_settings(settings).names


@pytest.mark.parametrize("raw", ["-1", "11", "two", "1.5"])
def test_index_replicas_out_of_range_or_not_a_count_is_refused(raw):
    with pytest.raises(ConfigError, match="LTRR_INDEX_REPLICAS must be a whole number"):
        Settings.load(env={"LTRR_INDEX_REPLICAS": raw})


def test_index_replicas_from_toml_and_env_auto_means_decided_by_the_cluster(tmp_path):
    config = tmp_path / "replicas.toml"
    config.write_text("[indices]\nreplicas = 2\n")
    assert Settings.load(env={"LTRR_CONFIG": str(config)}).index_replicas == 2
    assert Settings.load(env={"LTRR_CONFIG": str(config),
                              "LTRR_INDEX_REPLICAS": "auto"}).index_replicas is None
