"""Two gateways, A and B, measured against each other in alternating slices.

    python bench/ab.py [--a-src DIR] [--a-env K=V ...] [--a-features] [--a-store-body]
                       [--b-src DIR] [--b-env K=V ...] [--b-features] [--b-store-body]
                       [--a-rate-limits memory|redis] [--b-rate-limits memory|redis]
                       [--a-managed-key] [--b-managed-key]
                       [--store sqlite|redis|postgres]
                       [--slices N] [--slice SECONDS] [--concurrency C] [--scenario NAME]
                       [--mock-delay-ms MS]

On this VM the speed of the same code moves by 10 to 15 % from one run to the next, so two
configurations run one after the other cannot be told apart below that. Here both gateways are
up at once on the server CPU and only one is driven at a time, in slices of a few seconds in the
order A B B A A B …: the machine's slow drift falls on both alike, and the ratio of their
throughputs comes out within a few percent (A against A: 0.999, 1.004 and 1.044).

Each side is the gateway of ``--X-src`` (a checkout's ``src`` folder, for before and after a
change; default: the installed one), with ``--X-env`` in its environment, serving the bench's
``responses-json`` request (or ``--scenario``'s: ``codex-json`` for a Codex CLI turn) at c=16
over the fast mock. ``--X-features`` configures it as the
features scenario does (client keys and the SQLite store; ``--store redis`` or ``postgres``
puts both sides' stores in one server the tool starts beside the mock, durable as such servers
are usually run: Redis appending every write to a file fsynced each second, PostgreSQL with
its defaults); ``--X-store-body`` sends ``store: true``. ``--X-rate-limits`` gives that side
per-key and per-address limits so high that they never refuse, counted in memory or in Redis:
what counting costs. ``--X-managed-key`` sends a managed key (``wirebridge keys create`` in
that side's store) instead of the configured one. ``--mock-delay-ms 1`` has the mock wait a
millisecond before each SSE chunk: one chunk a read, as tokens come from a real upstream. The
report gives each side's requests per second and server CPU per request over all of its slices,
B/A, and B/A of each A B B A group to show the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import Service, free_port, pinned, proc_cpu
from scenarios import BENCH_KEY, DEFAULT_SCENARIOS, SCENARIOS, Scenario, wirebridge_config
from servers import start_store

BENCH = Path(__file__).resolve().parent

STORES = ("sqlite", "redis", "postgres")
WARMUP = 0.3  # seconds of each slice not counted: connections opened, loops warm


@dataclass
class Side:
    name: str
    src: str | None
    env: dict[str, str]
    features: bool
    store_body: bool
    rate_limits: str | None
    managed_key: bool
    scenario: Scenario
    key: str = BENCH_KEY  # what the load generator sends
    svc: Service | None = None
    url: str = ""
    body: Path = Path()
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    slices: list[float] = field(default_factory=list)  # req/s of each slice

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _side(args: argparse.Namespace, name: str) -> Side:
    env = dict(kv.split("=", 1) for kv in getattr(args, f"{name}_env"))
    return Side(
        name.upper(),
        getattr(args, f"{name}_src"),
        env,
        getattr(args, f"{name}_features"),
        getattr(args, f"{name}_store_body"),
        getattr(args, f"{name}_rate_limits"),
        getattr(args, f"{name}_managed_key"),
        SCENARIOS[args.scenario],
    )


def start(side: Side, tmp: Path, mock_port: int, cpus: str | None, servers: dict[str, str]) -> None:
    port = free_port()
    home = tmp / f"home-{side.name}"
    home.mkdir()
    store = str(home / "store.db") if side.features else None
    url = None
    server = servers.get("store")
    if side.features and server:  # each side its own Redis database; PostgreSQL's tables shared
        url = f"{server}/{1 + (side.name == 'B')}" if server.startswith("redis") else server
    limits = side.rate_limits
    if limits == "redis":
        limits = f"{servers['redis']}/{3 + (side.name == 'B')}"
    cfg = tmp / f"{side.name}.yaml"
    cfg.write_text(
        wirebridge_config(
            port,
            mock_port,
            mock_port,
            store_path=store,
            store_url=url,
            api_keys=side.features,
            rate_limits=limits,
        )
    )
    side.body = tmp / f"{side.name}.json"
    responses = side.scenario.path == "/v1/responses"  # the only door with a ``store`` field
    side.body.write_bytes(
        side.scenario.body_bytes(**({"store": side.store_body} if responses else {}))
    )
    env = {**os.environ, "WIREBRIDGE_HOME": str(home), **side.env}
    if side.src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [side.src, env.get("PYTHONPATH")]))
    if side.managed_key:
        side.key = _create_key(cfg, env)
    cmd = [sys.executable, "-m", "wirebridge", "serve", "--config", str(cfg)]
    side.svc = Service(f"gateway-{side.name}", pinned(cmd, cpus), tmp / f"{side.name}.log", env)
    side.svc.start().wait_ready(f"http://127.0.0.1:{port}/health")
    side.url = f"http://127.0.0.1:{port}{side.scenario.path}"


def _create_key(cfg: Path, env: dict[str, str]) -> str:
    """A managed client key in the side's store (``wirebridge keys create``)."""
    cmd = [sys.executable, "-m", "wirebridge", "keys", "create", "--json", "--config", str(cfg)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"keys create failed: {done.stderr[-2000:]}")
    key: str = json.loads(done.stdout)["key"]
    return key


def drive(side: Side, seconds: float, conc: int, cpus: str | None) -> None:
    """One slice: load on this side alone; its requests, window and CPU added to its totals."""
    assert side.svc is not None
    cmd = [sys.executable, str(BENCH / "loadgen.py"), "--url", side.url]
    cmd += ["--body-file", str(side.body), "--concurrency", str(conc)]
    cmd += ["--marker", side.scenario.marker, "--duration", str(seconds), "--warmup", str(WARMUP)]
    cmd += ["--stream"] if side.scenario.stream else []
    for name, value in side.scenario.headers:
        cmd += ["--header", f"{name}: {value}"]
    if side.features:
        cmd += ["--header", f"Authorization: Bearer {side.key}"]
    cpu0 = proc_cpu(side.svc.pid)
    res = subprocess.run(pinned(cmd, cpus), capture_output=True, text=True, timeout=seconds + 120)
    side.cpu += proc_cpu(side.svc.pid) - cpu0
    if res.returncode != 0:
        raise RuntimeError(f"loadgen failed: {res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if out.get("errors"):
        raise RuntimeError(f"{side.name}: {out['errors']} errors in a slice; see {side.svc.log}")
    side.requests += out["requests"]
    side.seconds += out["duration_s"]
    side.slices.append(out["rps"])


def report(a: Side, b: Side) -> str:
    lines = ["| side | req/s | server CPU ms/req | slices |", "|---|---|---|---|"]
    for s in (a, b):
        # CPU counts the warm-up too: per request it is a little high, alike for both sides
        per_req = 1000 * s.cpu / s.requests if s.requests else 0.0
        lines.append(f"| {s.name} | {s.rps:,.0f} | {per_req:.3f} | {len(s.slices)} |")
    pairs = [y / x for x, y in zip(a.slices, b.slices, strict=False) if x]
    spread = ", ".join(f"{p:.3f}" for p in pairs)
    median = f"; median {statistics.median(pairs):.3f}" if pairs else ""
    ratio = f"{b.rps / a.rps:.3f}" if a.rps else "-"
    lines += ["", f"B/A: {ratio} (slice by slice: {spread}{median})"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for side in ("a", "b"):
        ap.add_argument(f"--{side}-src", help="a checkout's src folder (default: installed)")
        ap.add_argument(f"--{side}-env", action="append", default=[], metavar="K=V")
        ap.add_argument(f"--{side}-features", action="store_true", help="keys + sqlite store")
        ap.add_argument(f"--{side}-store-body", action="store_true", help="send store: true")
        ap.add_argument(f"--{side}-rate-limits", choices=("memory", "redis"), help="never refusing")
        ap.add_argument(
            f"--{side}-managed-key", action="store_true", help="a managed key (with --X-features)"
        )
    ap.add_argument("--store", choices=STORES, default="sqlite", help="the features' store")
    ap.add_argument("--slices", type=int, default=12, help="slices per side (even: A B B A …)")
    ap.add_argument("--slice", type=float, default=2.0, help="seconds of load per slice")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--scenario", choices=DEFAULT_SCENARIOS, default="responses-json")
    ap.add_argument("--no-pin", action="store_true", help="do not taskset the processes")
    ap.add_argument(
        "--mock-delay-ms",
        type=float,
        default=0.0,
        help="the mock's wait before each SSE chunk: one chunk a read, as from a real upstream",
    )
    args = ap.parse_args(argv)
    for side in ("a", "b"):
        if getattr(args, f"{side}_managed_key") and not getattr(args, f"{side}_features"):
            ap.error(f"--{side}-managed-key needs --{side}-features (a store to keep the key)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    several = (os.cpu_count() or 1) > 1 and not args.no_pin
    gw_cpus, client_cpus = ("0", "1") if several else (None, None)
    a, b = _side(args, "a"), _side(args, "b")
    with tempfile.TemporaryDirectory(prefix="wirebridge-ab-") as tmp_name:
        tmp = Path(tmp_name)
        mock_port = free_port()
        cmd = [sys.executable, str(BENCH / "mock_upstream.py"), "--server", "raw"]
        cmd += ["--delay-ms", str(args.mock_delay_ms)]
        mock = Service("mock", pinned([*cmd, "--port", str(mock_port)], client_cpus), tmp / "m.log")
        services = [mock]
        stops: list[Callable[[], None]] = []
        try:
            mock.start().wait_ready(f"http://127.0.0.1:{mock_port}/v1/models")
            servers: dict[str, str] = {}  # "store", and "redis" for the rate limits
            if args.store != "sqlite":
                servers["store"], stop = start_store(args.store, tmp, client_cpus)
                stops.append(stop)
                if args.store == "redis":
                    servers["redis"] = servers["store"]
            if "redis" not in servers and "redis" in (a.rate_limits, b.rate_limits):
                servers["redis"], stop = start_store("redis", tmp, client_cpus)
                stops.append(stop)
            for side in (a, b):
                start(side, tmp, mock_port, gw_cpus, servers)
                assert side.svc is not None
                services.append(side.svc)
            for i in range(args.slices):
                for side in (a, b) if i % 2 == 0 else (b, a):
                    drive(side, args.slice, args.concurrency, client_cpus)
        finally:
            for svc in services:
                svc.stop()
            for stop in stops:
                stop()
    print(report(a, b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
