"""``wirebridge store gc``: delete expired stored responses.

Expired responses are already invisible (``store/base.py``); ``gc`` reclaims their space. Run it
from cron or a timer against the same config the gateway uses. Exit codes: 0 done, 1 the store
is unreachable or failed, 2 the config is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from wirebridge.config import ConfigError, load_config
from wirebridge.config.model import StoreConfig
from wirebridge.store import StoreError, open_store


def register(sub: Any) -> None:
    p = sub.add_parser("store", help="maintain the response store")
    commands = p.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    gc = commands.add_parser("gc", help="delete stored responses whose ttl_days have passed")
    gc.add_argument("--config", help="YAML config file (default: built from the environment)")
    gc.set_defaults(run=run_gc)


def run_gc(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"wirebridge: config error: {e}", file=sys.stderr)
        return 2
    cfg = config.store
    if cfg.backend == "memory":
        print("the memory store keeps nothing between processes: nothing to delete")
        return 0
    try:
        deleted = asyncio.run(_gc(cfg, time.time()))
    except StoreError as e:
        print(f"wirebridge: the response store is unreachable: {e}", file=sys.stderr)
        return 1
    print(f"deleted {deleted} expired response{'' if deleted == 1 else 's'} ({cfg.backend} store)")
    return 0


async def _gc(cfg: StoreConfig, now: float) -> int:
    store = await open_store(cfg)
    try:
        return await store.gc(now)
    finally:
        await store.close()
