"""``wirebridge models``: the model names clients may ask for.

A name resolves as a configured model, then an alias, then ``provider@model`` for any model the
provider serves; Claude model names go through the ``claude:`` mapping. ``--remote`` asks each
provider's ``GET /models`` for the ``provider@model`` names it serves now.

Exit codes: 0 listed, 1 a provider could not be asked (``--remote``), 2 the config is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from wirebridge.cli import options
from wirebridge.cli.options import ServeOptions
from wirebridge.config import ConfigError
from wirebridge.config.model import Config

PROBE_TIMEOUT = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model names clients may ask for")
    options.add_config_option(p)
    p.add_argument("--remote", action="store_true", help="also ask each provider for its models")
    p.add_argument("--proxy", metavar="URL", help="http(s) proxy for --remote")
    p.add_argument(
        "--timeout",
        type=float,
        default=PROBE_TIMEOUT,
        metavar="SECONDS",
        help=f"per provider with --remote (default {PROBE_TIMEOUT:g})",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    opts = ServeOptions(config=args.config, proxy=args.proxy)
    try:
        config = options.load(opts)
    except ConfigError as e:
        print(options.config_error(e), file=sys.stderr)
        return 2
    print("\n".join(local_lines(config)))
    if not args.remote:
        return 0
    options.apply_proxy(opts.proxy)
    lines, failed = asyncio.run(remote_lines(config, args.timeout))
    print("\n".join(lines))
    return 1 if failed else 0


def local_lines(config: Config) -> list[str]:
    width = max((len(n) for n in (*config.models, *config.aliases)), default=0) + 2
    lines = [f"models ({config.source or 'environment'}):"]
    if not config.models:
        lines.append("  (none configured)")
    for name, route in config.models.items():
        targets = ", ".join(f"{prov}@{model}" for prov, model in route.all_targets)
        fallbacks = f"  (fallbacks: {', '.join(route.fallbacks)})" if route.fallbacks else ""
        lines.append(f"  {name:<{width}}-> {targets}{fallbacks}")
    if config.aliases:
        lines.append("aliases:")
        lines += [f"  {name:<{width}}-> {target}" for name, target in config.aliases.items()]
    claude = config.claude
    tiers = [(t, getattr(claude, t)) for t in ("big", "middle", "small")]
    if claude.aliases or any(target for _, target in tiers):
        lines.append("Claude model names:")
        for pattern, tier in (("opus", "big"), ("sonnet", "middle"), ("haiku", "small")):
            target = getattr(claude, tier)
            if target:
                lines.append(f"  *{pattern}*  -> {target}")
        lines += [f"  /{rule.match}/  -> {rule.model}" for rule in claude.aliases]
    lines.append("any model of a provider, as provider@model:")
    if not config.providers:
        lines.append("  (no provider configured)")
    for p in config.providers.values():
        lines.append(f"  {p.name}@<model>  ({p.api} api at {p.base_url})")
    return lines


async def remote_lines(config: Config, timeout: float) -> tuple[list[str], bool]:
    import aiohttp

    from wirebridge.cli.probe import probe_models

    providers = list(config.providers.values())
    async with aiohttp.ClientSession(trust_env=True) as session:
        probes = await asyncio.gather(
            *(probe_models(session, p, _first_key(p.keys), timeout) for p in providers)
        )
    lines, failed = [], False
    for p, probe in zip(providers, probes, strict=True):
        if probe.ok and probe.listed:
            n = len(probe.models)
            lines.append(f"{p.name} serves {n} model{'' if n == 1 else 's'}:")
            lines += [f"  {p.name}@{model}" for model in probe.models]
            continue
        failed = True
        why = probe.error if probe.status is None else f"HTTP {probe.status}"
        lines.append(f"{p.name}: could not list models at {probe.url}: {why}")
    return lines, failed


def _first_key(keys: tuple[str | None, ...]) -> str | None:
    return next((k for k in keys if k), None)
