"""``wirebridge keys create | list | revoke``: managed client keys, in the gateway's store.

Run against the same config (and ``WIREBRIDGE_HOME``) as the gateway: keys live in its response
store, so a running gateway sees a new or revoked key at its next request. Once any key exists,
every request to the gateway needs one (``auth/middleware.py``).

``create`` prints the key once — it is stored only as a hash and cannot be shown again.
``list`` never shows key material, only ids. Exit codes: 0 done, 1 the store failed or there
is no such key, 2 the config or an argument is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from wirebridge.auth.keys import create_key
from wirebridge.config import ConfigError, load_config
from wirebridge.store import KeyRecord, ResponseStore, StoreError, open_store

T = TypeVar("T")


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage client API keys (create, list, revoke)")
    commands = p.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="make a key and print it (shown only once)")
    _config_arg(create)
    create.add_argument("--name", help="a label for the key, shown by keys list")
    create.add_argument(
        "--models",
        type=_models,
        help="comma-separated models it may use (shell-style patterns such as gpt-5*); "
        "default: every model",
    )
    for flag, what in (("rpm", "requests per minute"), ("rpd", "requests per day")):
        create.add_argument(f"--{flag}", type=_limit, help=f"its own limit of {what}; 0: none")
    create.add_argument("--tpm", type=_limit, help="its own limit of tokens per minute; 0: none")
    create.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    create.set_defaults(run=run_create)

    listing = commands.add_parser("list", help="list keys (never their secret part)")
    _config_arg(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=run_list)

    revoke = commands.add_parser("revoke", help="revoke a key by its id; it stops working at once")
    _config_arg(revoke)
    revoke.add_argument("id", help="the key's id, as keys list shows it")
    revoke.set_defaults(run=run_revoke)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (default: built from the environment)")


def _models(text: str) -> tuple[str, ...]:
    models = tuple(name.strip() for name in text.split(",") if name.strip())
    if not models:
        raise argparse.ArgumentTypeError("name at least one model")
    return models


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, got {text!r}")
    return value


# -- commands ----------------------------------------------------------------------------------


def run_create(args: argparse.Namespace) -> int:
    async def create(store: ResponseStore) -> tuple[str, KeyRecord]:
        return await create_key(
            store, name=args.name, models=args.models, rpm=args.rpm, rpd=args.rpd, tpm=args.tpm
        )

    result = _with_store(args, create)
    if isinstance(result, int):
        return result
    plaintext, rec = result
    if args.json:
        print(orjson.dumps({"key": plaintext, **_record(rec)}).decode())
        return 0
    print(f"Created key {rec.id}{f' ({rec.name})' if rec.name else ''}: {_describe(rec)}.")
    print("The key is shown only this once; store it now:", file=sys.stderr)
    print(plaintext)
    return 0


def run_list(args: argparse.Namespace) -> int:
    async def listing(store: ResponseStore) -> list[KeyRecord]:
        return await store.list_keys()

    keys = _with_store(args, listing)
    if isinstance(keys, int):
        return keys
    if args.json:
        print(orjson.dumps([_record(rec) for rec in keys]).decode())
        return 0
    if not keys:
        print("no keys: the gateway needs none (unless server.api_keys sets some)")
        return 0
    rows = [("ID", "NAME", "CREATED", "REVOKED", "MODELS", "LIMITS")]
    rows += [
        (
            rec.id,
            rec.name or "-",
            _when(rec.created_at),
            _when(rec.revoked_at) if rec.revoked_at is not None else "-",
            ",".join(rec.models) if rec.models is not None else "all",
            _limits(rec),
        )
        for rec in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    async def revoke(store: ResponseStore) -> KeyRecord | None:
        await store.revoke_key(args.id)
        return await store.get_key(args.id)

    rec = _with_store(args, revoke)
    if isinstance(rec, int):
        return rec
    if rec is None:
        print(f"wirebridge: no key with id {args.id!r} (see wirebridge keys list)", file=sys.stderr)
        return 1
    print(f"Key {rec.id} revoked at {_when(rec.revoked_at)}.")
    return 0


# -- helpers -----------------------------------------------------------------------------------


def _with_store(args: argparse.Namespace, work: Callable[[ResponseStore], Awaitable[T]]) -> T | int:
    """``work`` on the configured store; an exit code if that cannot be done."""
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"wirebridge: config error: {e}", file=sys.stderr)
        return 2
    if config.store.backend == "memory":
        print(
            "wirebridge: the memory store keeps nothing between processes: configure a "
            "sqlite, postgres or redis store to manage keys",
            file=sys.stderr,
        )
        return 2

    async def run() -> T:
        store = await open_store(config.store)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreError as e:
        print(f"wirebridge: the store is unreachable: {e}", file=sys.stderr)
        return 1


def _record(rec: KeyRecord) -> dict[str, Any]:
    """What may be shown of a key: everything but its hash."""
    return {
        "id": rec.id,
        "name": rec.name,
        "created_at": rec.created_at,
        "revoked_at": rec.revoked_at,
        "models": list(rec.models) if rec.models is not None else None,
        "rpm": rec.rpm,
        "rpd": rec.rpd,
        "tpm": rec.tpm,
    }


def _when(ts: int | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _limits(rec: KeyRecord) -> str:
    parts = []
    for name in ("rpm", "rpd", "tpm"):
        value = getattr(rec, name)
        if value is not None:
            parts.append(f"{name}={value if value else 'none'}")
    return " ".join(parts) or "server's"


def _describe(rec: KeyRecord) -> str:
    models = ", ".join(rec.models) if rec.models is not None else "every model"
    return f"models: {models}; limits: {_limits(rec)}"
