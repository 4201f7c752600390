"""``wirebridge config check``: load the config as ``serve`` would and summarise it.

Exit codes: 0 the config is valid, 2 it is not (the message names the file, key and problem).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wirebridge.cli import options
from wirebridge.config import ConfigError, load_config
from wirebridge.config.model import Config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="check the configuration")
    commands = p.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate the config and print a summary")
    options.add_config_option(check)
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(options.config_error(e), file=sys.stderr)
        return 2
    print("\n".join(summary(config)))
    return 0


def summary(config: Config) -> list[str]:
    from wirebridge.cli.daemon import store_text
    from wirebridge.cli.serve import is_loopback

    server = config.server
    source = config.source or "environment"
    lines = [f"config {source} is valid"]
    lines.append(f"  listen:    {options.listen_url(server.host, server.port)}")
    lines.append(f"  store:     {store_text(config)}")
    lines.append(f"  providers: {len(config.providers)}")
    for p in config.providers.values():
        keys = sum(1 for k in p.keys if k)
        proxy = f", proxy {p.proxy}" if p.proxy else ""
        lines.append(
            f"    {p.name}: api {p.api}, {p.base_url}, profile {p.profile}, "
            f"{keys} key{'' if keys == 1 else 's'}{proxy}"
        )
    lines.append(f"  models:    {len(config.models)}")
    for name, route in config.models.items():
        targets = ", ".join(f"{prov}/{model}" for prov, model in route.all_targets)
        fallbacks = f" (fallbacks: {', '.join(route.fallbacks)})" if route.fallbacks else ""
        lines.append(f"    {name} -> {targets}{fallbacks}")
    lines.append(f"  aliases:   {len(config.aliases)}")
    lines += [f"    {name} -> {target}" for name, target in config.aliases.items()]
    lines.append(f"  client keys: {len(server.api_keys)} static")
    if not config.providers:
        lines.append("note: no provider: every model request will be answered with an error")
    if not is_loopback(server.host) and not server.api_keys:
        lines.append(
            f"note: {server.host} is not loopback and no static client key is set: serve "
            "refuses to start unless the store holds managed keys"
        )
    return lines
