"""``wirebridge serve``: run the gateway in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace
from typing import Any

from aiohttp import web

from wirebridge.config import ConfigError, load_config
from wirebridge.config.model import Config


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the gateway in the foreground")
    p.add_argument("--config", help="YAML config file (default: built from the environment)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (default 8765)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"wirebridge: config error: {e}", file=sys.stderr)
        return 2
    config = _apply_flags(config, args)
    logging.basicConfig(
        level=config.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    log = logging.getLogger("wirebridge")
    if not config.providers:
        log.warning("no upstream provider configured: requests will be answered with an error")
    _use_uvloop()
    from wirebridge.http.app import create_app

    app = create_app(config)
    host, port = config.server.host, config.server.port
    log.info("wirebridge listening on http://%s:%d (config: %s)", host, port, config.source)
    web.run_app(app, host=host, port=port, print=None, access_log=None, handler_cancellation=True)
    return 0


def _apply_flags(config: Config, args: argparse.Namespace) -> Config:
    server = config.server
    if args.host:
        server = replace(server, host=args.host)
    if args.port is not None:
        server = replace(server, port=args.port)
    if args.log_level:
        server = replace(server, log_level=args.log_level)
    return replace(config, server=server)


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # not on Windows; the default loop works, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
