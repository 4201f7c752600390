"""Model routing: what a client asks for → which provider, which upstream model.

A name resolves, in order, as a configured model, an alias (to a model or ``provider@model``),
or ``provider@model`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirebridge.config.model import Config, ProviderConfig
from wirebridge.errors import ModelNotFound, NotConfigured
from wirebridge.providers.profiles import Profile, get_profile

HOW_TO_CONFIGURE = (
    "No upstream provider is configured. Set OPENAI_API_KEY, DEEPSEEK_API_KEY, GROQ_API_KEY, "
    "OPENROUTER_API_KEY, OLLAMA_BASE_URL or VLLM_BASE_URL before starting wirebridge, or start "
    "it with --config FILE listing models and providers (see the README)."
)


@dataclass(frozen=True, slots=True)
class Route:
    model: str  # the name the client used
    provider: ProviderConfig
    profile: Profile
    upstream_model: str


class Router:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._profiles = {name: get_profile(p.profile) for name, p in config.providers.items()}
        self._cache: dict[str, Route] = {}

    def resolve(self, model: str) -> Route:
        route = self._cache.get(model)
        if route is None:
            route = self._cache[model] = self._resolve(model, model, depth=0)
        return route

    def _resolve(self, asked: str, name: str, depth: int) -> Route:
        cfg = self._config
        if not cfg.providers:
            raise NotConfigured(HOW_TO_CONFIGURE)
        m = cfg.models.get(name)
        if m is not None:
            return self._route(asked, m.provider, m.upstream_model)
        target = cfg.aliases.get(name)
        if target is not None and depth < 8:
            return self._resolve(asked, target, depth + 1)
        provider, sep, upstream = name.partition("@")
        if sep and provider in cfg.providers and upstream:
            return self._route(asked, provider, upstream)
        raise ModelNotFound(
            f"The model '{asked}' does not exist or you do not have access to it. "
            f"Known models: {', '.join(self.model_names()) or 'none'}; any provider's model can "
            f"be addressed as provider@model (providers: {', '.join(cfg.providers)}).",
            param="model",
        )

    def _route(self, asked: str, provider: str, upstream_model: str) -> Route:
        return Route(
            asked, self._config.providers[provider], self._profiles[provider], upstream_model
        )

    def model_names(self) -> list[str]:
        return [*self._config.models, *self._config.aliases]
