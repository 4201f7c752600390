"""Azure OpenAI: URLs, auth headers and deployments from the ``azure:`` section; the section and
``responses:`` in config files; the ``azure`` provider from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirebridge.config import ConfigError, config_from_env, load_config
from wirebridge.config.model import ProviderConfig
from wirebridge.upstreams.azure import AzureSettings, resource_endpoint
from wirebridge.upstreams.responses import ResponsesSettings
from wirebridge.upstreams.responses.adapter import family_of, placement

EP = "https://res.openai.azure.com"
DEPLOY = {"gpt-4.1": "prod-41"}

# (api, api_version, model, url, body model)
PLACES = [
    (
        "chat",
        None,
        "gpt-4.1",
        f"{EP}/openai/deployments/prod-41/chat/completions?api-version=2024-10-21",
        "prod-41",
    ),
    (
        "chat",
        "2025-04-01-preview",
        "other",
        f"{EP}/openai/deployments/other/chat/completions?api-version=2025-04-01-preview",
        "other",
    ),
    ("chat", "v1", "gpt-4.1", f"{EP}/openai/v1/chat/completions", "prod-41"),
    ("chat", "preview", "x", f"{EP}/openai/v1/chat/completions?api-version=preview", "x"),
    ("responses", None, "gpt-4.1", f"{EP}/openai/v1/responses", "prod-41"),
    ("responses", "v1", "gpt-4.1", f"{EP}/openai/v1/responses", "prod-41"),
    ("responses", "latest", "m", f"{EP}/openai/v1/responses", "m"),
    ("responses", "preview", "m", f"{EP}/openai/v1/responses?api-version=preview", "m"),
    (
        "responses",
        "2025-03-01-preview",
        "gpt-4.1",
        f"{EP}/openai/responses?api-version=2025-03-01-preview",
        "prod-41",
    ),
    (
        "chat",
        None,
        "my deploy/1",
        f"{EP}/openai/deployments/my%20deploy%2F1/chat/completions?api-version=2024-10-21",
        "my deploy/1",
    ),
]


@pytest.mark.parametrize(("api", "version", "model", "url", "body_model"), PLACES)
def test_place(api: str, version: str | None, model: str, url: str, body_model: str) -> None:
    settings = AzureSettings(deployments=DEPLOY, api_version=version)
    placed = settings.place(api, EP + "/", "key1", model)
    assert placed.url == url
    assert placed.model == body_model
    assert placed.headers == {"api-key": "key1"}


def test_bearer_auth_and_no_key() -> None:
    bearer = AzureSettings(auth="bearer")
    assert bearer.place("responses", EP, "tok", "m").headers == {"Authorization": "Bearer tok"}
    assert AzureSettings().place("responses", EP, None, "m").headers == {}


@pytest.mark.parametrize(
    "base", [EP, EP + "/", EP + "/openai", EP + "/openai/v1", EP + "/openai/v1/"]
)
def test_resource_endpoint(base: str) -> None:
    assert resource_endpoint(base) == EP


def test_plain_provider_placement_and_family() -> None:
    plain = ProviderConfig(name="oai", base_url="http://h/v1", api="responses")
    assert placement(plain, "k", "m") == (
        "http://h/v1/responses",
        {"Authorization": "Bearer k"},
        "m",
    )
    assert placement(plain, None, "m")[1] == {}
    assert family_of(plain) == "oai"
    shared = ProviderConfig(
        name="oai2",
        base_url="http://h/v1",
        api="responses",
        sections={"responses": ResponsesSettings(family="openai")},
    )
    assert family_of(shared) == "openai"


def load(tmp_path: Path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path, env={"AZ_KEY": "secret"})


def test_config_sections(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
providers:
  az:
    api: responses
    base_url: https://res.openai.azure.com
    api_key: $AZ_KEY
    azure:
      deployments: {gpt-4.1: prod-41}
      api_version: 2025-03-01-preview
      auth: bearer
    responses: {stateful: true, family: openai}
  azchat:
    base_url: https://res.openai.azure.com
    azure: {api_version: 2024-10-21}
  oai:
    api: responses
""",
    )
    az = cfg.providers["az"]
    assert az.sections["azure"] == AzureSettings(
        deployments={"gpt-4.1": "prod-41"}, api_version="2025-03-01-preview", auth="bearer"
    )
    assert az.sections["responses"] == ResponsesSettings(stateful=True, family="openai")
    # an unquoted date is YAML's date; the api version is its text
    assert cfg.providers["azchat"].sections["azure"].api_version == "2024-10-21"
    assert cfg.providers["oai"].base_url == "https://api.openai.com/v1"  # api: responses default


@pytest.mark.parametrize(
    ("provider", "path", "fragment"),
    [
        (
            "{base_url: http://h, azure: {deployment: x}}",
            "azure.deployment",
            "unknown key 'deployment'",
        ),
        ("{base_url: http://h, azure: {auth: token}}", "azure.auth", "must be one of"),
        ("{base_url: http://h, azure: {deployments: [a]}}", "azure.deployments", "mapping"),
        ("{base_url: http://h, responses: {stateful: true}}", "responses", "api: responses"),
        (
            "{api: responses, base_url: http://h, responses: {stateful: maybe}}",
            "responses.stateful",
            "true or false",
        ),
    ],
)
def test_config_section_errors(tmp_path: Path, provider: str, path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, f"providers:\n  p: {provider}\n")
    assert exc.value.key_path == f"providers.p.{path}"
    assert fragment in exc.value.message


def test_environment_makes_an_azure_provider() -> None:
    cfg = config_from_env(
        {
            "AZURE_OPENAI_API_KEY": "k",
            "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/",
            "AZURE_API_VERSION": "2025-04-01-preview",
        }
    )
    az = cfg.providers["azure"]
    assert (az.base_url, az.api_key, az.api, az.profile) == (EP, "k", "chat", "openai")
    assert az.sections["azure"] == AzureSettings(api_version="2025-04-01-preview")
    url = az.sections["azure"].place("chat", az.base_url, az.api_key, "gpt-4o").url
    assert url == f"{EP}/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview"


def test_environment_azure_needs_an_endpoint() -> None:
    assert "azure" not in config_from_env({"AZURE_OPENAI_API_KEY": "k"}).providers
    cfg = config_from_env({"AZURE_OPENAI_ENDPOINT": EP})
    assert cfg.providers["azure"].sections["azure"] == AzureSettings()
