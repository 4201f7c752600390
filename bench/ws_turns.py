"""Responses turns over WebSockets: turns per second and the gateway's CPU per turn.

    python bench/ws_turns.py [--connections 16] [--seconds 6] [--rounds 3] [--scenario codex-sse]

Starts the fast mock (on CPU 1 when there are two) and one gateway (on CPU 0) with
``server.websocket_compression`` off and one with it on, then drives each in turn, for
``--rounds`` alternating rounds, from ``--connections`` sockets that each run one
``response.create`` after another (the scenario's body, ``store: false``) and read its events
to ``response.completed``. The client offers permessage-deflate, as Codex CLI does. Reports,
for each gateway, the median round's turns per second and CPU milliseconds per turn: what
compressing every event frame costs (``bench/README.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from harness import Service, free_port, pinned, proc_cpu
from scenarios import SCENARIOS, wirebridge_config

BENCH = Path(__file__).resolve().parent
TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


async def _drive(url: str, frame: bytes, sockets: int, seconds: float) -> tuple[int, int]:
    """Turns completed and turns that failed, from ``sockets`` sockets over ``seconds``."""
    counts = [0, 0]
    stop = time.monotonic() + seconds
    text = frame.decode()

    async def one(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(url, compress=15) as ws:
            while time.monotonic() < stop:
                await ws.send_str(text)
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise RuntimeError(f"the socket ended mid-turn: {msg}")
                    kind = orjson.loads(msg.data)["type"]
                    if kind in TERMINAL:
                        counts[kind != "response.completed"] += 1
                        break

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session) for _ in range(sockets)))
    return counts[0], counts[1]


def _round(svc: Service, url: str, frame: bytes, args: argparse.Namespace) -> tuple[float, float]:
    assert svc.proc is not None
    asyncio.run(_drive(url, frame, args.connections, 1.0))  # warm-up: sockets, caches
    cpu0, t0 = proc_cpu(svc.proc.pid), time.monotonic()
    done, failed = asyncio.run(_drive(url, frame, args.connections, args.seconds))
    elapsed, cpu = time.monotonic() - t0, proc_cpu(svc.proc.pid) - cpu0
    if failed or not done:
        raise RuntimeError(f"{failed} of {done + failed} turns failed; see {svc.log}")
    return done / elapsed, 1000 * cpu / done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--scenario",
        choices=[n for n in SCENARIOS if n.startswith(("responses", "codex"))],
        default="codex-sse",
    )
    args = ap.parse_args(argv)
    body = dict(SCENARIOS[args.scenario].body, store=False)
    body.pop("stream", None)
    frame = orjson.dumps({"type": "response.create", **body})
    two = (os.cpu_count() or 1) > 1
    gw_cpus, client_cpus = ("0", "1") if two else (None, None)
    results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory(prefix="wirebridge-ws-") as tmp_name:
        tmp = Path(tmp_name)
        mock_port = free_port()
        mock_cmd = [sys.executable, str(BENCH / "mock_upstream.py"), "--server", "raw"]
        services = [
            Service(
                "mock", pinned([*mock_cmd, "--port", str(mock_port)], client_cpus), tmp / "m.log"
            )
        ]
        urls = {}
        try:
            services[0].start().wait_ready(f"http://127.0.0.1:{mock_port}/v1/models")
            for name in results:
                port = free_port()
                cfg = wirebridge_config(port, mock_port, mock_port).replace(
                    "server:\n",
                    f"server:\n  websocket_compression: {str(name == 'on').lower()}\n",
                    1,
                )
                path = tmp / f"{name}.yaml"
                path.write_text(cfg)
                home = tmp / f"home-{name}"
                home.mkdir()
                cmd = [sys.executable, "-m", "wirebridge", "serve", "--config", str(path)]
                env = {**os.environ, "WIREBRIDGE_HOME": str(home)}
                svc = Service(f"gateway-{name}", pinned(cmd, gw_cpus), tmp / f"{name}.log", env)
                svc.start().wait_ready(f"http://127.0.0.1:{port}/health")
                services.append(svc)
                urls[name] = (svc, f"ws://127.0.0.1:{port}/v1/responses")
            for _ in range(args.rounds):
                for name, (svc, url) in urls.items():
                    results[name].append(_round(svc, url, frame, args))
                    print(
                        f"[ws] compression {name}: {results[name][-1][0]:,.0f} turns/s, "
                        f"{results[name][-1][1]:.3f} ms CPU a turn",
                        flush=True,
                    )
        finally:
            for svc in services:
                svc.stop()
    print(
        f"\n{args.connections} sockets, `{args.scenario}` turns, the client offering compression "
        f"(medians of {args.rounds} rounds):\n"
    )
    print("| `websocket_compression` | turns/s | CPU ms a turn |\n|---|---|---|")
    for name, rows in results.items():
        tps = statistics.median(r[0] for r in rows)
        ms = statistics.median(r[1] for r in rows)
        print(f"| {name} | {tps:,.0f} | {ms:.3f} |")
    print(json.dumps({n: [list(r) for r in rows] for n, rows in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
