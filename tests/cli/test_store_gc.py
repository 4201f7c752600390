"""``wirebridge store gc`` as a user runs it: a subprocess over a config file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.gateway import free_port
from wirebridge.config.model import StoreConfig
from wirebridge.store import StoredResponse, open_store


def _gc(config: dict | str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREBRIDGE_")}
    env["WIREBRIDGE_HOME"] = str(tmp_path / "home")
    cmd = [sys.executable, "-m", "wirebridge", "store", "gc", "--config", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)


def _record(rid: str, expires_at: int | None) -> StoredResponse:
    response = {"id": rid, "object": "response", "status": "completed", "output": []}
    return StoredResponse(rid, "", response, [], None, int(time.time()) - 100, expires_at)


async def _seed(cfg: StoreConfig) -> None:
    store = await open_store(cfg)
    try:
        now = int(time.time())
        for rid, expires in (("resp_old1", now - 10), ("resp_old2", now - 1), ("resp_live", None)):
            await store.put(_record(rid, expires))
        await store.put(_record("resp_later", now + 3600))
    finally:
        await store.close()


async def _ids(cfg: StoreConfig) -> list[str]:
    store = await open_store(cfg)
    try:
        ids = ("resp_old1", "resp_old2", "resp_live", "resp_later")
        return [rid for rid in ids if await store.get(rid, "") is not None]
    finally:
        await store.close()


def test_gc_deletes_expired_responses(tmp_path: Path) -> None:
    db = tmp_path / "state" / "wb.db"
    cfg = StoreConfig(backend="sqlite", path=db)
    asyncio.run(_seed(cfg))
    config = {"store": {"backend": "sqlite", "path": str(db)}}
    first = _gc(config, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "deleted 2 expired responses (sqlite store)"
    assert asyncio.run(_ids(cfg)) == ["resp_live", "resp_later"]
    again = _gc(config, tmp_path)
    assert again.returncode == 0 and again.stdout.strip().startswith("deleted 0 expired")


def test_gc_on_the_default_sqlite_file(tmp_path: Path) -> None:
    result = _gc({"store": {"backend": "sqlite"}}, tmp_path)  # <WIREBRIDGE_HOME>/wirebridge.db
    assert result.returncode == 0, result.stderr
    assert "deleted 0 expired responses" in result.stdout


@pytest.mark.parametrize(
    ("store", "name"),
    [
        ({"backend": "postgres", "url": "postgresql://u:secret@127.0.0.1:{port}/db"}, "postgres"),
        ({"backend": "redis", "url": "redis://:secret@127.0.0.1:{port}/0"}, "redis"),
    ],
)
def test_unreachable_store_is_a_clear_error(tmp_path: Path, store: dict, name: str) -> None:
    store = {**store, "url": store["url"].format(port=free_port())}  # nothing listens there
    started = time.monotonic()
    result = _gc({"store": store}, tmp_path)
    assert result.returncode == 1
    prefix = f"wirebridge: the response store is unreachable: {name} store "
    assert result.stderr.startswith(prefix), result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    assert result.stdout == ""
    assert time.monotonic() - started < 30


def test_bad_config_exits_2(tmp_path: Path) -> None:
    result = _gc("store: {backend: nosuch}\n", tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("wirebridge: config error:")


def test_memory_store_has_nothing_to_collect(tmp_path: Path) -> None:
    result = _gc({"store": {"backend": "memory"}}, tmp_path)
    assert result.returncode == 0 and "nothing to delete" in result.stdout
