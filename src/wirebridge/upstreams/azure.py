"""Azure OpenAI: where a call goes and how it authenticates, from a provider's ``azure:`` section.

A provider whose ``base_url`` is the Azure resource endpoint (``https://NAME.openai.azure.com``,
with or without a trailing ``/openai`` or ``/openai/v1``) and that carries an ``azure:`` section::

    providers:
      azure:
        api: chat            # or responses
        base_url: https://NAME.openai.azure.com
        api_key: $AZURE_OPENAI_API_KEY
        azure:
          deployments: {gpt-4.1: my-gpt41-deployment}   # upstream model -> deployment name
          api_version: 2024-10-21                       # see below
          auth: api-key                                 # or bearer (a Microsoft Entra token)

is called at

* chat, dated ``api_version`` (default ``2024-10-21``):
  ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={api_version}``;
* chat, ``api_version: v1`` (or ``latest`` / ``preview``):
  ``{endpoint}/openai/v1/chat/completions``;
* responses, no ``api_version`` (or ``v1`` / ``latest``): ``{endpoint}/openai/v1/responses``;
  ``preview`` adds ``?api-version=preview``; a dated version uses the older preview route
  ``{endpoint}/openai/responses?api-version={api_version}``;

with the key in an ``api-key`` header (``auth: bearer``: ``Authorization: Bearer``). The model
the body names is the deployment: ``deployments`` maps upstream model names to deployment names,
and a model it does not list is taken to be its own deployment name.

Adapters find this through the provider's sections: a section object with a ``place`` method
decides the URL, the auth headers and the model of a call (see ``AzureSettings.place``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

from wirebridge.config.errors import Where
from wirebridge.config.sections import Section, register
from wirebridge.config.values import check_keys, choice, mapping, optional, string

DEFAULT_CHAT_API_VERSION = "2024-10-21"  # the newest GA data-plane version of the dated routes
_V1 = ("v1", "latest", "preview")  # api_version values that select the /openai/v1 routes
_AUTH = ("api-key", "bearer")
_KEYS = ("deployments", "api_version", "auth")


class Placement(NamedTuple):
    url: str
    headers: dict[str, str]  # authentication headers (replacing the default Bearer header)
    model: str  # what the request body names as its model


@dataclass(frozen=True, slots=True)
class AzureSettings:
    deployments: dict[str, str] = field(default_factory=dict)
    api_version: str | None = None
    auth: str = "api-key"

    def deployment(self, model: str) -> str:
        return self.deployments.get(model, model)

    def place(self, api: str, base_url: str, api_key: str | None, model: str) -> Placement:
        """Where a call of ``api`` ("chat" or "responses") for upstream ``model`` goes."""
        endpoint = resource_endpoint(base_url)
        deployment = self.deployment(model)
        version = self.api_version
        if api == "chat":
            if version in _V1:
                url = endpoint + "/openai/v1/chat/completions" + _preview_query(version)
            else:
                url = (
                    f"{endpoint}/openai/deployments/{quote(deployment, safe='')}/chat/completions"
                    f"?api-version={quote(version or DEFAULT_CHAT_API_VERSION, safe='')}"
                )
        elif version is None or version in _V1:
            url = endpoint + "/openai/v1/responses" + _preview_query(version)
        else:
            url = f"{endpoint}/openai/responses?api-version={quote(version, safe='')}"
        return Placement(url, self._auth(api_key), deployment)

    def _auth(self, api_key: str | None) -> dict[str, str]:
        if not api_key:
            return {}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {api_key}"}
        return {"api-key": api_key}


def _preview_query(version: str | None) -> str:
    return "?api-version=preview" if version == "preview" else ""


def resource_endpoint(base_url: str) -> str:
    """``https://NAME.openai.azure.com`` from a base URL that may already end in the API path."""
    url = base_url.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def parse_settings(raw: object, at: Where) -> AzureSettings:
    data = mapping(raw, at)
    check_keys(data, at, _KEYS)
    deployments = {
        str(name): string(value, at.key("deployments").key(str(name)))
        for name, value in mapping(data.get("deployments"), at.key("deployments")).items()
    }
    version = optional(data, at, "api_version", _api_version, None)
    return AzureSettings(
        deployments=deployments,
        api_version=version,
        auth=optional(data, at, "auth", lambda v, w: choice(v, w, _AUTH), "api-key"),
    )


def _api_version(value: object, at: Where) -> str:
    text = string(str(value) if not isinstance(value, str) else value, at).strip()
    return text.lower() if text.lower() in _V1 else text


register("azure", Section(parse=parse_settings, apis=("chat", "responses")))
