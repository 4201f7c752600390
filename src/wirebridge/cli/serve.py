"""``wirebridge serve``: run the gateway in the foreground, in one process or ``--workers N``.

Options (``cli/options.py``) are laid over the config file. Listening on anything but loopback
(127.0.0.0/8, ::1, ``localhost``) needs client authentication — a static key (``--api-key``,
``server.api_keys``) or a managed key in the store (``wirebridge keys create``) — otherwise the
gateway refuses to start: whoever reaches the port would spend the providers' credits.

With one worker the gateway runs in this process. With more, this process becomes a supervisor
of forked workers sharing the port (``cli/workers.py``).

Exit codes: 0 stopped when asked, 1 could not serve (port taken, workers failing), 2 the config
or flags are wrong, or listening would be unsafe.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from dataclasses import replace
from typing import Any

from wirebridge.cli import options
from wirebridge.cli.options import ServeOptions, listen_url
from wirebridge.cli.sockets import BACKLOG
from wirebridge.cli.workers import SHUTDOWN_TIMEOUT
from wirebridge.config import ConfigError
from wirebridge.config.model import Config

log = logging.getLogger("wirebridge")


class Refused(Exception):
    """Serving with these settings would be unsafe; the message says what to do instead."""


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the gateway in the foreground")
    options.add_server_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    opts = ServeOptions.from_args(args)
    handed = options.take_api_keys()  # from `wirebridge start`, never on the command line
    if handed:
        opts = replace(opts, api_keys=(*opts.api_keys, *handed))
    try:
        config = prepare(opts)
    except ConfigError as e:
        print(options.config_error(e), file=sys.stderr)
        return 2
    except Refused as e:
        print(f"wirebridge: {e}", file=sys.stderr)
        return 2
    options.apply_proxy(opts.proxy)
    _configure_logging(config)
    if not config.providers:
        log.warning("no upstream provider configured: requests will be answered with an error")
    _use_uvloop()
    workers = opts.workers or 1
    if workers > 1:
        from wirebridge.cli.workers import run as supervise

        return supervise(config, workers)
    return _serve_one(config)


def prepare(opts: ServeOptions) -> Config:
    """The config to serve with these options; ``ConfigError`` or ``Refused``."""
    config = options.load(opts)
    refusal = bind_refusal(config)
    if refusal is not None:
        raise Refused(refusal)
    return config


def _serve_one(config: Config) -> int:
    from aiohttp import web

    from wirebridge.http.app import create_app
    from wirebridge.observe.memory import tune_collector

    app = create_app(config)
    tune_collector()
    host, port = config.server.host, config.server.port

    def listening(*_: object) -> None:  # run_app calls it once the socket is bound
        log.info("wirebridge listening on %s (config: %s)", listen_url(host, port), config.source)

    try:
        web.run_app(
            app,
            host=host,
            port=port,
            print=listening,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            backlog=BACKLOG,
        )
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", host, port, e)
        return 1
    return 0


# -- who may listen where --------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) and the name ``localhost``; nothing else."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False  # another host name: it may resolve to anything
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def bind_refusal(config: Config) -> str | None:
    """Why serving ``config`` must be refused, or ``None`` when it is safe."""
    server = config.server
    if is_loopback(server.host) or server.api_keys:
        return None
    managed, problem = asyncio.run(managed_keys_exist(config))
    if managed:
        return None
    where = f"{server.host}:{server.port}"
    why = f" ({problem})" if problem else ""
    return (
        f"refusing to listen on {where} without client authentication{why}: anyone who can "
        "reach it could use your providers' keys. Give --api-key KEY (or server.api_keys in "
        "the config), create a managed key with `wirebridge keys create`, or bind to "
        "127.0.0.1 (--host 127.0.0.1)."
    )


async def managed_keys_exist(config: Config) -> tuple[bool, str | None]:
    """Whether the store holds managed client keys; ``(False, why)`` if it cannot be asked."""
    try:
        from wirebridge.auth.keys import has_managed_keys
    except ImportError:  # no managed keys in this build
        return False, None
    from wirebridge.store import StoreError, open_store

    try:
        store = await open_store(config.store)
    except StoreError as e:
        return False, f"the store, which holds managed keys, is unreachable: {e}"
    try:
        return bool(await has_managed_keys(store)), None
    except StoreError as e:
        return False, f"could not read managed keys from the store: {e}"
    finally:
        await store.close()


# -- process setup ---------------------------------------------------------------------------


def _configure_logging(config: Config) -> None:
    from wirebridge.observe.logs import configure_logging

    configure_logging(config.server.log_level, config.server.log_format)


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # not on Windows; the default loop works, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
