"""Model routing: what a client asks for → which provider, which upstream model.

A name resolves, in order, as a configured model, an alias (to a model or ``provider@model``),
or ``provider@model`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    model: str  # the model name this route answers for (the client's, or a fallback's)
    provider: ProviderConfig
    profile: Profile
    upstream_model: str
    api_key: str | None = None  # the key this attempt uses (providers may have several)


@dataclass(frozen=True, slots=True)
class Choice:
    """One model to try: its routes (each target with each key) and how to balance them."""

    model: str
    routes: list[Route]
    balance: str = "round_robin"


class Router:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._profiles = {
            name: config.profiles.get(p.profile) or get_profile(p.profile)
            for name, p in config.providers.items()
        }
        self._plans: dict[str, list[Choice]] = {}

    def resolve(self, model: str) -> Route:
        """The first route for ``model`` (raises if the model is unknown)."""
        return self.plan(model)[0].routes[0]

    def plan(self, model: str) -> list[Choice]:
        """``model`` and then its fallbacks, each with every route it may take."""
        plan = self._plans.get(model)
        if plan is None:
            if len(self._plans) > 4096:  # provider@model names are the client's to invent
                self._plans.clear()
            first = self._choice(model)
            fallbacks = self._fallbacks(model)
            plan = self._plans[model] = [first, *(self._choice(f) for f in fallbacks)]
        return plan

    def _choice(self, model: str) -> Choice:
        route = self._resolve(model, model, depth=0)
        cfg = self._config.models.get(self._canonical(model))
        targets = cfg.all_targets if cfg is not None else ()
        if len(targets) <= 1:
            routes = [replace(route, api_key=key) for key in route.provider.keys]
            return Choice(model, routes, cfg.balance if cfg else "round_robin")
        routes = []
        for provider, upstream in targets:
            base = self._route(model, provider, upstream)
            routes += [replace(base, api_key=key) for key in base.provider.keys]
        return Choice(model, routes, cfg.balance if cfg else "round_robin")

    def _canonical(self, name: str) -> str:
        seen = 0
        while name in self._config.aliases and seen < 8:
            name, seen = self._config.aliases[name], seen + 1
        return name

    def _fallbacks(self, model: str) -> tuple[str, ...]:
        cfg = self._config.models.get(self._canonical(model))
        return cfg.fallbacks if cfg is not None else ()

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
        p = self._config.providers[provider]
        return Route(asked, p, self._profiles[provider], upstream_model, p.api_key)

    def model_names(self) -> list[str]:
        return [*self._config.models, *self._config.aliases]
