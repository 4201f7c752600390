"""Benchmark wirebridge side by side with LiteLLM, over one mock Chat Completions upstream.

    python bench/run.py [--quick] [--scenarios NAME ...] [--duration S] [--out DIR]

1. Starts the mock upstream (``bench/mock_upstream.py --server raw``: JSON, or SSE with 50
   chunks; a second one with 10 ms between chunks) and measures it alone, with the same
   client, so the added latency has a baseline and the mock is shown not to be the bottleneck.
2. Starts wirebridge (one worker; two with ``serve --workers 2`` when the CLI has it) and
   LiteLLM's proxy (pinned, installed into ``bench/.venv-litellm``; not with ``--quick``).
3. Drives each scenario at each concurrency with ``bench/loadgen.py`` (asyncio + aiohttp +
   uvloop, closed loop) and, for JSON scenarios, with ``wrk`` too.
4. Measures the server's CPU time and peak RSS (/proc) in every run.
5. Extra scenarios: ``features`` (client keys + sqlite store + metrics), ``shared`` (the same
   with a Redis or PostgreSQL store, or rate limits in memory or Redis; not judged),
   ``slow-streams`` (5,000 concurrent streams, 10 ms per chunk), ``workers2``, ``profile``
   (py-spy).
6. Writes ``<out>/<date>-<host>.md`` and ``<out>/latest.md``, raw data in ``<out>/<date>-<host>/``.

On a machine with 2+ cores the server under test is pinned to CPU 0, and the mock and the
load generator to CPU 1 (``taskset``), so the two never compete for one core.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import pyspy
import report
from cpucap import CpuCaps
from harness import Monitor, Service, free_port, pinned
from scenarios import (
    BENCH_KEY,
    CHUNKS,
    DEFAULT_SCENARIOS,
    EXTRAS,
    LITELLM_ENV,
    QUICK_SCENARIOS,
    SCENARIOS,
    SLOW_DELAY_MS,
    SLOW_MODEL,
    Scenario,
    litellm_config,
    wirebridge_config,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LITELLM_VERSION = "1.106.0"
LITELLM_VENV = BENCH / ".venv-litellm"
DIRECT = "mock (direct)"
ONE_CPU = "wirebridge (one CPU)"  # c=1 again, the gateway on the client's and mock's CPU
DIRECT_APART = "mock (direct, other CPU)"  # the mock moved off the client's CPU
DIRECT_PAIRED = report.DIRECT_PAIRED  # the mock alone, right before each one-CPU round


@dataclass
class Ctx:
    args: argparse.Namespace
    raw: Path  # results, configs, logs, profiles of this run
    tmp: Path  # gateway homes and stores: deleted at the end
    python: str
    gw_cpus: str | None
    client_cpus: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    mock: Service | None = None
    slow: Service | None = None
    mock_port: int = 0
    slow_port: int = 0

    def note(self, text: str) -> None:
        print(f"[bench] note: {text}", flush=True)
        self.notes.append(text)


def log(text: str) -> None:
    print(f"[bench] {text}", flush=True)


# ---------------------------------------------------------------- load generators


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _loadgen(
    ctx: Ctx, url: str, scen: Scenario, body: Path, conc: int, headers: list[str], **kw: Any
) -> dict[str, Any]:
    a = ctx.args
    cmd = [ctx.python, str(BENCH / "loadgen.py"), "--url", url, "--body-file", str(body)]
    cmd += ["--concurrency", str(conc), "--duration", str(a.duration), "--warmup", str(a.warmup)]
    cmd += ["--marker", scen.marker]
    if scen.stream:
        cmd.append("--stream")
    if kw.get("per_worker"):
        cmd += ["--per-worker", str(kw["per_worker"]), "--ramp", str(kw.get("ramp", 0))]
    for h in headers:
        cmd += ["--header", h]
    timeout = a.warmup + a.duration + 120 + (600 if kw.get("per_worker") else 0)
    res = subprocess.run(
        pinned(cmd, ctx.client_cpus), capture_output=True, text=True, timeout=timeout
    )
    if res.returncode != 0:
        raise RuntimeError(f"loadgen failed ({res.returncode}): {res.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def _wrk(ctx: Ctx, url: str, body: Path, conc: int, headers: list[str]) -> dict[str, Any]:
    env = {**os.environ, "WRK_BODY_FILE": str(body), "WRK_HEADERS": "\n".join(headers)}
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{max(1, round(ctx.args.duration))}s", "--timeout", "30s"]
    cmd += ["-s", str(BENCH / "wrk" / "post.lua"), url]
    res = subprocess.run(
        pinned(cmd, ctx.client_cpus),
        capture_output=True,
        text=True,
        env=env,
        timeout=ctx.args.duration + 90,
    )
    line = next((x for x in res.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {res.stdout[-800:]} {res.stderr[-800:]}")
    w = json.loads(line.removeprefix("WRK_JSON "))
    secs = w["duration_us"] / 1e6
    return {
        "tool": "wrk",
        "concurrency": conc,
        "duration_s": round(secs, 3),
        "requests": w["requests"],
        "total_requests": w["requests"],
        "errors": sum(w["errors"].values()),
        "error_samples": {k: v for k, v in w["errors"].items() if v},
        "rps": round(w["requests"] / secs, 2) if secs else 0.0,
        "latency_ms": {k: round(v / 1000, 4) for k, v in w["latency_us"].items()},
        "ttfb_ms": None,
    }


def measure(
    ctx: Ctx,
    system: str,
    scen: Scenario,
    conc: int,
    base_url: str,
    server_pid: int,
    *,
    tool: str = "loadgen",
    body: dict[str, Any] | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    label: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """One run: load generator against ``base_url + scen.path``; the server's and the mocks'
    CPU and memory measured meanwhile."""
    name = label or scen.name
    body_file = ctx.raw / "bodies" / f"{name}.json"
    body_file.parent.mkdir(exist_ok=True)
    body_file.write_bytes(scen.body_bytes(**(body or {})))
    hdrs = [f"{k}: {v}" for k, v in (*scen.headers, *headers)]
    roots = {"server": server_pid}
    for svc in (ctx.mock, ctx.slow):
        if svc is not None and svc.pid != server_pid:
            roots[svc.name] = svc.pid
    url = base_url + scen.path
    cpu0 = _children_cpu()
    with Monitor(roots, count_fds=bool(kw.get("count_fds"))) as mon:
        if tool == "wrk":
            res = _wrk(ctx, url, body_file, conc, hdrs)
        else:
            res = _loadgen(ctx, url, scen, body_file, conc, hdrs, **kw)
    client_cpu = _children_cpu() - cpu0
    m = mon.result["_machine"]
    srv = mon.result["server"]
    total = res.get("total_requests") or res["requests"]
    rec = {
        "system": system,
        "scenario": name,
        "concurrency": conc,
        "stream": scen.stream,
        **res,
        "wall_s": round(m["wall_s"], 3),
        "server_cpu_s": round(srv.cpu_s, 3),
        "server_cpu_pct": round(100 * srv.cpu_s / m["wall_s"], 1),
        "server_cpu_ms_per_req": round(1000 * srv.cpu_s / total, 4) if total else None,
        "server_rss_mb": round(srv.rss_kb / 1024, 1),
        "server_peak_rss_mb": round(srv.peak_rss_kb / 1024, 1),
        "server_peak_worker_rss_mb": round(srv.peak_worker_kb / 1024, 1),
        "server_processes": srv.processes,
        "server_fds_peak": srv.fds_peak,
        "mock_cpu_pct": round(
            100 * sum(mon.result[k].cpu_s for k in roots if k != "server") / m["wall_s"], 1
        ),
        "client_cpu_pct": round(100 * client_cpu / m["wall_s"], 1),
        "background_cpu_pct": round(harness.account_external(mon, client_cpu), 1),
    }
    ctx.records.append(rec)
    lat = rec["latency_ms"] or {}
    log(
        f"{system:<16} {name:<16} c={conc:<5} {tool:<7} {rec['rps']:>9.1f} req/s  "
        f"p50 {lat.get('p50')} ms  p99 {lat.get('p99')} ms  errors {rec['errors']}  "
        f"cpu {rec['server_cpu_pct']}%  rss {rec['server_peak_rss_mb']} MB  "
        f"bg {rec['background_cpu_pct']}%"
    )
    return rec


def matrix(ctx: Ctx, systems: list[tuple[str, str, int]], scenario_names: list[str]) -> None:
    """Every scenario at every concurrency on every system, interleaved (system innermost) so
    that load from outside the benchmark hits all systems alike."""
    for name in scenario_names:
        scen = SCENARIOS[name]
        for conc in ctx.args.concurrency:
            for system, base_url, pid in systems:
                tools = ["loadgen", "wrk"] if ctx.args.wrk and not scen.stream else ["loadgen"]
                for tool in tools:
                    try:
                        measure(ctx, system, scen, conc, base_url, pid, tool=tool)
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                        ctx.note(f"{system} {name} c={conc} {tool} failed: {e}")


# ---------------------------------------------------------------- servers


def start_mocks(ctx: Ctx) -> None:
    ctx.mock_port, ctx.slow_port = free_port(), free_port()
    for name, port, delay in (("mock", ctx.mock_port, 0.0), ("slowmock", ctx.slow_port, 10.0)):
        cmd = [ctx.python, str(BENCH / "mock_upstream.py"), "--server", "raw"]
        cmd += ["--port", str(port), "--chunks", str(CHUNKS), "--delay-ms", str(delay)]
        svc = Service(name, pinned(cmd, ctx.client_cpus), ctx.raw / f"{name}.log").start()
        ctx.services.append(svc)
        svc.wait_ready(f"http://127.0.0.1:{port}/v1/models", timeout=30)
        if name == "mock":
            ctx.mock = svc
        else:
            ctx.slow = svc


def serve_help(ctx: Ctx) -> str:
    res = subprocess.run(
        [ctx.python, "-m", "wirebridge", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return res.stdout


def check_config(ctx: Ctx, path: Path) -> str | None:
    """None if wirebridge accepts the config file, else its error message."""
    code = "import sys\nfrom wirebridge.config import load_config\nload_config(sys.argv[1])"
    res = subprocess.run(
        [ctx.python, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    return None if res.returncode == 0 else (res.stderr.strip().splitlines() or ["?"])[-1]


def start_wirebridge(
    ctx: Ctx,
    name: str,
    *,
    workers: int = 1,
    features: bool = False,
    pin: bool = True,
    env_extra: dict[str, str] | None = None,
    store_url: str | None = None,
    rate_limits: str | None = None,
) -> tuple[Service, str]:
    """``features``: client keys and a store, SQLite unless ``store_url`` names a server."""
    port = free_port()
    home = ctx.tmp / f"home-{name}"
    home.mkdir(parents=True, exist_ok=True)
    cfg = ctx.raw / f"{name}.yaml"
    store = str(home / "store.db") if features else None

    def config(api_keys: bool) -> str:
        return wirebridge_config(
            port, ctx.mock_port, ctx.slow_port, store_path=store, store_url=store_url,
            api_keys=api_keys, rate_limits=rate_limits,
        )  # fmt: skip

    cfg.write_text(config(features))
    if features and (err := check_config(ctx, cfg)) is not None:
        ctx.note(f"server.api_keys is not accepted by this build ({err}); auth left off")
        ctx.extra["auth"] = False
        cfg.write_text(config(False))
    cmd = [ctx.python, "-m", "wirebridge", "serve", "--config", str(cfg)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    env = {**os.environ, "WIREBRIDGE_HOME": str(home), **(env_extra or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cpus = ctx.gw_cpus if pin else None
    svc = Service(name, pinned(cmd, cpus), ctx.raw / f"{name}.log", env).start()
    ctx.services.append(svc)
    svc.wait_ready(f"http://127.0.0.1:{port}/health", timeout=60)
    return svc, f"http://127.0.0.1:{port}"


def ensure_litellm(ctx: Ctx) -> Path | None:
    """``bench/.venv-litellm`` with ``litellm[proxy]==LITELLM_VERSION``; None (and a note)
    when it cannot be installed."""
    py = LITELLM_VENV / "bin" / "python"
    code = "from importlib.metadata import version; print(version('litellm'))"
    if py.exists():
        have = subprocess.run([str(py), "-c", code], capture_output=True, text=True).stdout
        if have.strip() == LITELLM_VERSION:
            return LITELLM_VENV
    log(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (a few minutes)")
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        with open(ctx.raw / "litellm-install.log", "w") as pip_log:
            subprocess.run(
                [str(py), "-m", "pip", "install", f"litellm[proxy]=={LITELLM_VERSION}"],
                check=True,
                timeout=1800,
                stdout=pip_log,
                stderr=subprocess.STDOUT,
            )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        tail = (ctx.raw / "litellm-install.log").read_text(errors="replace")[-600:]
        ctx.note(f"LiteLLM could not be installed ({e}); skipped. pip said: {tail.strip()}")
        return None
    return LITELLM_VENV


def start_litellm(ctx: Ctx, venv: Path) -> tuple[Service, str]:
    port = free_port()
    cfg = ctx.raw / "litellm.yaml"
    cfg.write_text(litellm_config(ctx.mock_port, ctx.slow_port))
    cmd = [str(venv / "bin" / "litellm"), "--config", str(cfg), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--num_workers", "1"]
    env = {**os.environ, **LITELLM_ENV}
    svc = Service("litellm", pinned(cmd, ctx.gw_cpus), ctx.raw / "litellm.log", env).start()
    ctx.services.append(svc)
    svc.wait_ready(f"http://127.0.0.1:{port}/health/liveliness", timeout=240)
    return svc, f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- extra scenarios


def features(ctx: Ctx, bare_url: str, bare_pid: int) -> None:
    """Client keys + sqlite store (``store: true``) + metrics, each run right after the same
    run on the bare gateway (still up), so both see the same machine."""
    ctx.extra.setdefault("auth", True)
    svc, url = start_wirebridge(ctx, "wirebridge-features", features=True)
    auth = ctx.extra["auth"]
    key_header = (("Authorization", f"Bearer {BENCH_KEY}"),) if auth else ()
    try:
        if auth:
            status = harness.http_get(url + "/v1/models")
            ctx.extra["auth_status_without_key"] = status
            if status != 401:
                ctx.note(f"auth configured but /v1/models without a key answered {status}")
        for name in ("responses-json", "responses-sse"):
            for conc in sorted({1, 16} & set(ctx.args.concurrency)) or [16]:
                scen = SCENARIOS[name]
                # c=16 is judged: single pairs ranged from 51 to 85 % on one VM, so it is
                # measured in several alternated pairs and the report takes the median.
                for n in range(report.FEATURE_ROUNDS if conc == 16 else 1):
                    bare = measure(ctx, report.BARE_PAIR, scen, conc, bare_url, bare_pid)
                    feat = measure(
                        ctx, report.FEAT, scen, conc, url, svc.pid,
                        body={"store": True}, headers=key_header,
                    )  # fmt: skip
                    bare["round"] = feat["round"] = n
                    if (name, conc) == ("responses-json", 16):
                        # what auth and metrics cost a client that stores nothing (Codex)
                        off = measure(
                            ctx, report.FEAT_NO_STORE, scen, conc, url, svc.pid,
                            body={"store": False}, headers=key_header,
                        )  # fmt: skip
                        off["round"] = n
        status = harness.http_get(url + "/metrics/prometheus", dict(key_header))
        ctx.extra["metrics_status"] = status
        if status != 200:
            ctx.note(f"/metrics/prometheus answered {status}: metrics not measured")
        store = ctx.tmp / "home-wirebridge-features" / "store.db"
        ctx.extra["store_bytes"] = store.stat().st_size if store.exists() else 0
    finally:
        svc.stop()


def shared(ctx: Ctx, bare_url: str, bare_pid: int) -> None:
    """The features gateway with its store in Redis or PostgreSQL, or with rate limits counted
    in memory or in Redis, each paired with the bare gateway as ``features`` is: what a
    deployment of several instances pays. Not judged: the target is the default store's."""
    try:
        from servers import start_store  # the test suite's helpers, which need pytest
    except ImportError as e:
        ctx.note(f"the shared phase needs the test suite's helpers ({e}): not measured")
        return
    scen = SCENARIOS["responses-json"]
    key_header = (("Authorization", f"Bearer {BENCH_KEY}"),) if ctx.extra.get("auth", True) else ()
    stops = []
    try:
        urls = {}
        for kind in ("redis", "postgres"):
            try:
                urls[kind], stop = start_store(kind, ctx.tmp, ctx.client_cpus)
            except (OSError, RuntimeError) as e:
                ctx.note(f"{kind} did not start ({e}): its rows are missing")
                continue
            stops.append(stop)
        for v in report.SHARED:
            if not ({v.store, v.rate_limits} & {"redis", "postgres"}) <= urls.keys():
                continue  # its server did not start (noted)
            store_url = None
            if v.store == "redis":
                store_url = f"{urls['redis']}/1"
            elif v.store == "postgres":
                store_url = urls["postgres"]
            limits = f"{urls['redis']}/2" if v.rate_limits == "redis" else v.rate_limits
            svc, url = start_wirebridge(
                ctx, f"wirebridge-{v.slug}", features=True, store_url=store_url, rate_limits=limits
            )
            try:
                for n in range(report.SHARED_ROUNDS):
                    bare = measure(ctx, v.bare, scen, 16, bare_url, bare_pid)
                    run = measure(
                        ctx, v.system, scen, 16, url, svc.pid,
                        body={"store": v.stored}, headers=key_header,
                    )  # fmt: skip
                    bare["round"] = run["round"] = n
            finally:
                svc.stop()
    finally:
        for stop in stops:
            stop()


PYMALLOC = "wirebridge (PYTHONMALLOC=pymalloc)"


def slow_streams_pymalloc(ctx: Ctx) -> None:
    """The slow streams again on a gateway kept on Python's own allocator (``serve`` switches
    to glibc's malloc by default, ``cli/allocator.py``): what the default saves in memory
    after a burst, and, on the usual c=16 runs first, what it costs in CPU."""
    env = {"PYTHONMALLOC": "pymalloc"}
    svc, url = start_wirebridge(ctx, "wirebridge-pymalloc", env_extra=env)
    try:
        for name in ("responses-json", "responses-sse"):
            if 16 in ctx.args.concurrency:
                measure(ctx, PYMALLOC, SCENARIOS[name], 16, url, svc.pid)
        slow_streams(ctx, svc, url, system=PYMALLOC, direct=False)
    finally:
        svc.stop()


def slow_streams(
    ctx: Ctx, svc: Service, url: str, *, system: str = "wirebridge", direct: bool = True
) -> None:
    n = ctx.args.slow_streams
    scen = SCENARIOS["responses-sse"]
    log(f"slow streams: {n} concurrent, {CHUNKS} chunks, {SLOW_DELAY_MS:g} ms apart")
    assert ctx.slow is not None
    if direct:  # the same streams straight from the slow mock: the client and the mock take them
        measure(
            ctx, DIRECT, SCENARIOS["chat-sse"], n, f"http://127.0.0.1:{ctx.slow_port}",
            ctx.slow.pid, label="slow-streams", per_worker=1, ramp=ctx.args.slow_ramp,
        )  # fmt: skip
    time.sleep(2)
    before = sum(harness.proc_mem(p).get("VmRSS", 0) for p in harness.tree(svc.pid))
    fds_before = _fds(svc.pid)
    rec = measure(
        ctx, system, scen, n, url, svc.pid, label="slow-streams",
        body={"model": SLOW_MODEL}, per_worker=1, ramp=ctx.args.slow_ramp, count_fds=True,
    )  # fmt: skip
    time.sleep(ctx.args.settle)
    after = sum(harness.proc_mem(p).get("VmRSS", 0) for p in harness.tree(svc.pid))
    rec.update(rss_before_mb=round(before / 1024, 1), rss_after_mb=round(after / 1024, 1))
    rec.update(settle_s=ctx.args.settle, fds_before=fds_before, fds_after=_fds(svc.pid))
    log(f"slow streams: RSS before {before / 1024:.1f} MB, after {after / 1024:.1f} MB")
    if ctx.args.settle_long > ctx.args.settle:
        # the gateway keeps idle upstream connections for a while: look again after that
        time.sleep(ctx.args.settle_long - ctx.args.settle)
        late = sum(harness.proc_mem(p).get("VmRSS", 0) for p in harness.tree(svc.pid))
        rec.update(rss_late_mb=round(late / 1024, 1), fds_late=_fds(svc.pid))
        rec["settle_long_s"] = ctx.args.settle_long
        log(f"slow streams: RSS {ctx.args.settle_long:g} s after: {late / 1024:.1f} MB")


def _fds(pid: int) -> int:
    total = 0
    for p in harness.tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


def profile(ctx: Ctx, svc: Service, url: str) -> None:
    """py-spy on the gateway while loadgen drives responses-json and -sse at c=16, and the
    Codex CLI turn streamed (where a large request's costs show)."""
    if pyspy.py_spy() is None:
        ctx.note("py-spy not found: no profile")
        return
    prof = ctx.raw / "profiles"
    prof.mkdir(exist_ok=True)
    for name in ("responses-json", "responses-sse", "codex-sse", "claude-sse"):
        scen = SCENARIOS[name]
        body = ctx.raw / "bodies" / f"{name}.json"
        body.parent.mkdir(exist_ok=True)
        body.write_bytes(scen.body_bytes())
        cmd = [ctx.python, str(BENCH / "loadgen.py"), "--url", url + scen.path]
        cmd += ["--body-file", str(body), "-c", "16", "--duration", str(ctx.args.duration)]
        cmd += ["--warmup", str(ctx.args.warmup), "--marker", scen.marker]
        cmd += ["--stream"] if scen.stream else []
        gen = subprocess.Popen(pinned(cmd, ctx.client_cpus), stdout=subprocess.PIPE)
        time.sleep(ctx.args.warmup)
        spies = pyspy.start(svc.pid, prof / f"{name}-c16", ctx.args.duration, ctx.client_cpus)
        pyspy.wait(spies, ctx.args.duration + 60)
        out, _ = gen.communicate(timeout=ctx.args.duration + 120)
        summary = pyspy.summarize(prof / f"{name}-c16.txt")
        summary["rps_while_profiled"] = json.loads(out.decode().strip().splitlines()[-1])["rps"]
        summary["svg"] = str((prof / f"{name}-c16.svg").relative_to(ctx.raw.parent))
        ctx.extra.setdefault("profile", {})[name] = summary
        log(f"profile {name}: {summary['samples']} samples, top own: {summary['own'][:3]}")


@contextlib.contextmanager
def _moved(pid: int, cpus: str, back: str | None) -> Iterator[None]:
    """Every thread of ``pid``'s process tree on ``cpus`` for a while, then back."""

    def pin(to: str) -> None:
        for p in harness.tree(pid):
            subprocess.run(["taskset", "-a", "-p", "-c", to, str(p)], capture_output=True)

    pin(cpus)
    try:
        yield
    finally:
        pin(back or ",".join(str(i) for i in range(os.cpu_count() or 1)))


def one_cpu_latency(ctx: Ctx, svc: Service, url: str) -> None:
    """The c=1 runs again with the gateway moved onto the CPU of the client and the mock.

    At concurrency 1 the client, the gateway and the mock take turns (one request in flight),
    so sharing a CPU costs no throughput; what it removes is the price of waking a process on
    another CPU. Pinned apart, a request through the gateway crosses CPUs four times and one
    straight to the mock not at all, so the difference of their p50s is partly that price.
    The mock moved off the client's CPU (two crossings) shows how much it is on this machine.

    ``responses-json`` is judged: it runs in ``report.LATENCY_ROUNDS`` rounds, each one the
    mock alone and then the gateway, so every difference compares runs a few seconds apart
    (the mock alone, measured at the start, can be 25 minutes older); the report takes the
    median round. One full run measured 0.617 ms and a short one an hour later 0.415 ms on
    the same code and machine: one pair is not enough.
    """
    if ctx.client_cpus is None or ctx.mock is None or 1 not in ctx.args.concurrency:
        return
    here = ctx.client_cpus.split(",")[0]
    names = [n for n in ("responses-json", "responses-sse") if n in ctx.args.matrix]
    mock_url = f"http://127.0.0.1:{ctx.mock_port}"
    with _moved(svc.pid, here, ctx.gw_cpus):
        for name in names:
            scen = SCENARIOS[name]
            if name != "responses-json" or ctx.args.quick:
                measure(ctx, ONE_CPU, scen, 1, url, svc.pid)
                continue
            assert scen.direct is not None
            for n in range(report.LATENCY_ROUNDS):
                direct = SCENARIOS[scen.direct]
                alone = measure(ctx, DIRECT_PAIRED, direct, 1, mock_url, ctx.mock.pid)
                gw = measure(ctx, ONE_CPU, scen, 1, url, svc.pid)
                alone["round"] = gw["round"] = n
    with _moved(ctx.mock.pid, ctx.gw_cpus or "0", ctx.client_cpus):
        for name in names:
            twin = SCENARIOS[name].direct
            assert twin is not None
            measure(ctx, DIRECT_APART, SCENARIOS[twin], 1, mock_url, ctx.mock.pid)


WORKER_CAP = 0.5  # of a core, per worker process, in the capped pair


def workers2(ctx: Ctx, help_text: str) -> None:
    """One worker against two: uncapped (the machine's limit), then, where cgroups allow,
    with every worker process capped at the same share of a core (the gateway's scaling)."""
    if "--workers" not in help_text:
        ctx.note("`wirebridge serve` has no --workers option yet: the 2-worker scenario skipped")
        return
    _worker_pair(ctx, "unpinned", None)
    caps = CpuCaps.available()
    if caps is None:
        ctx.note("no writable cgroup cpu controller: the capped worker pair skipped")
        return
    ctx.extra["worker_cap"] = WORKER_CAP
    try:
        _worker_pair(ctx, "capped", caps)
    finally:
        caps.release()


def _worker_pair(ctx: Ctx, kind: str, caps: CpuCaps | None) -> None:
    systems: list[tuple[str, str, int]] = []
    started: list[Service] = []
    try:
        for workers in (1, 2):
            svc, url = start_wirebridge(
                ctx, f"wirebridge-{workers}w-{kind}", workers=workers, pin=False
            )
            started.append(svc)
            if caps is not None:
                procs = harness.tree(svc.pid)
                for pid in procs if workers == 1 else procs[1:]:  # the workers, not the parent
                    caps.cap(pid, WORKER_CAP)
            systems.append((f"wb-{workers}w-{kind}", url, svc.pid))
        for sname in ("responses-json", "responses-sse"):
            scen = SCENARIOS[sname]
            # wrk too: the Python load generator needs a good part of a core for itself, and
            # with two workers on a two-core machine it competes with them.
            tools = ["loadgen", "wrk"] if ctx.args.wrk and not scen.stream else ["loadgen"]
            for conc in (16, 64):
                for system, url, pid in systems:
                    for tool in tools:
                        measure(ctx, system, scen, conc, url, pid, tool=tool)
    finally:
        for svc in started:
            svc.stop()


def choices(ctx: Ctx) -> None:
    out = ctx.raw / "choices.json"
    cmd = [ctx.python, str(BENCH / "choices.py"), "--json", str(out), "--duration"]
    cmd += [str(min(ctx.args.duration, 5.0))]
    log("choices: server / client / JSON microbenchmarks")
    res = subprocess.run(cmd, timeout=3600)
    if res.returncode == 0 and out.exists():
        ctx.extra["choices"] = json.loads(out.read_text())
    else:
        ctx.note(f"bench/choices.py failed ({res.returncode}); see its output")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few short runs, no LiteLLM, no extras")
    ap.add_argument(
        "--scenarios",
        nargs="+",
        help=f"of {', '.join([*SCENARIOS, *EXTRAS])} (comma or space separated)",
    )
    ap.add_argument("--duration", type=float, help="seconds measured per run (10; quick: 2)")
    ap.add_argument("--warmup", type=float, help="seconds before measuring (2; quick: 0.3)")
    ap.add_argument("--concurrency", help="comma separated (1,16,64; quick: 1,16)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="report directory")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--no-choices", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="do not taskset the processes")
    ap.add_argument(
        "--nice", type=int, default=0, help="run every process under nice -n N (root: N < 0)"
    )
    ap.add_argument("--slow-streams", type=int, help="concurrent slow streams (5000; quick: 200)")
    ap.add_argument("--slow-ramp", type=float, default=2.0, help="seconds to open them over")
    ap.add_argument("--settle", type=float, help="seconds after the slow streams (10; quick: 2)")
    ap.add_argument(
        "--settle-long",
        type=float,
        help="a second look at memory this long after them (75: past the gateway's 60 s "
        "upstream keep-alive; quick: none)",
    )
    args = ap.parse_args(argv)
    q = args.quick
    args.duration = args.duration or (2.0 if q else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if q else 2.0)
    conc = args.concurrency or ("1,16" if q else "1,16,64")
    args.concurrency = [int(x) for x in conc.split(",") if x]
    args.slow_streams = args.slow_streams or (200 if q else 5000)
    args.settle = args.settle if args.settle is not None else (2.0 if q else 10.0)
    if args.settle_long is None:
        args.settle_long = 0.0 if q else 75.0
    names = [n for s in (args.scenarios or []) for n in s.replace(",", " ").split()]
    unknown = [n for n in names if n not in SCENARIOS and n not in EXTRAS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    if not names:
        names = QUICK_SCENARIOS if q else [*DEFAULT_SCENARIOS, *EXTRAS]
    args.matrix = [n for n in names if n in SCENARIOS]
    args.extras = [n for n in names if n in EXTRAS]
    args.litellm = not (q or args.no_litellm)
    args.wrk = not (q or args.no_wrk) and shutil.which("wrk") is not None
    args.choices = not (q or args.no_choices)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.NICE = args.nice
    stamp = dt.date.today().isoformat()
    host = socket.gethostname().split(".")[0] or "host"
    args.out.mkdir(parents=True, exist_ok=True)
    raw = args.out / f"{stamp}-{host}"
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    nofile = harness.raise_nofile(max(65536, 4 * args.slow_streams + 1024))
    cpus = os.cpu_count() or 1
    pin = cpus >= 2 and not args.no_pin and shutil.which("taskset") is not None
    with tempfile.TemporaryDirectory(prefix="wirebridge-bench-") as tmp:
        ctx = Ctx(
            args,
            raw,
            Path(tmp),
            sys.executable,
            gw_cpus="0" if pin else None,
            client_cpus=",".join(str(i) for i in range(1, cpus)) if pin else None,
        )
        ctx.extra["nofile"] = nofile
        ctx.extra["started"] = dt.datetime.now().isoformat(timespec="seconds")
        ctx.extra["machine"] = harness.machine()
        if not args.wrk:
            ctx.note("wrk not used (--quick, --no-wrk or not installed)")
        try:
            run_all(ctx)
        finally:
            for svc in reversed(ctx.services):
                svc.stop()
        ctx.extra["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        ctx.extra["versions"] = versions(ctx)
    data = {"args": _jsonable(vars(args)), "records": ctx.records, "notes": ctx.notes, **ctx.extra}
    data["command"] = sys.argv[1:] if argv is None else argv
    (raw / "results.json").write_text(json.dumps(data, indent=1, default=str))
    text = report.render(data, raw.name)
    md = args.out / f"{stamp}-{host}.md"
    md.write_text(text)
    shutil.copyfile(md, args.out / "latest.md")
    log(f"report: {md}")
    return 0


def versions(ctx: Ctx) -> dict[str, dict[str, str]]:
    out = {
        "wirebridge venv": harness.pkg_versions(
            ctx.python,
            ["wirebridge", "aiohttp", "orjson", "uvloop", "multidict", "yarl", "prometheus_client"],
        )
    }
    out["wirebridge venv"]["wirebridge git"] = harness.git_describe(REPO)
    if ctx.args.litellm and (LITELLM_VENV / "bin" / "python").exists():
        out["litellm venv"] = harness.pkg_versions(
            str(LITELLM_VENV / "bin" / "python"),
            ["litellm", "fastapi", "starlette", "uvicorn", "httpx", "pydantic", "openai", "uvloop"],
        )
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def run_all(ctx: Ctx) -> None:
    a = ctx.args
    log(f"output: {ctx.raw}; pinning: server cpu {ctx.gw_cpus}, clients+mocks {ctx.client_cpus}")
    start_mocks(ctx)
    assert ctx.mock is not None
    mock_url = f"http://127.0.0.1:{ctx.mock_port}"
    log("phase 1: the mock alone")
    twins = sorted({d for n in a.matrix if (d := SCENARIOS[n].direct)})
    matrix(ctx, [(DIRECT, mock_url, ctx.mock.pid)], twins)

    help_text = serve_help(ctx)
    ctx.extra["workers_option"] = "--workers" in help_text
    svc, url = start_wirebridge(ctx, "wirebridge")
    systems = [("wirebridge", url, svc.pid)]
    lsvc = None
    if a.litellm:
        venv = ensure_litellm(ctx)
        if venv is not None:
            try:
                lsvc, lurl = start_litellm(ctx, venv)
                systems.append(("litellm", lurl, lsvc.pid))
            except RuntimeError as e:
                ctx.note(f"LiteLLM did not start: {e}")
    else:
        ctx.note("LiteLLM skipped (--quick or --no-litellm)")
    log(f"phase 2: {' and '.join(s[0] for s in systems)}, interleaved")
    matrix(ctx, systems, a.matrix)
    if lsvc is not None:
        lsvc.stop()
    log("phase 2b: concurrency 1 with the gateway on the client's CPU")
    one_cpu_latency(ctx, svc, url)
    if "profile" in a.extras:
        log("phase 3: profile")
        profile(ctx, svc, url)
    if "features" in a.extras:
        log("phase 4: wirebridge with auth + store + metrics, paired with the bare one")
        features(ctx, url, svc.pid)
    if "shared" in a.extras:
        log("phase 4b: Redis and PostgreSQL stores, rate limits, paired with the bare one")
        shared(ctx, url, svc.pid)
    if "slow-streams" in a.extras:
        log("phase 5: slow streams")
        slow_streams(ctx, svc, url)
    svc.stop()
    if "slow-streams" in a.extras and not a.quick:
        log("phase 5b: slow streams under pymalloc")
        slow_streams_pymalloc(ctx)
    if "workers2" in a.extras:
        log("phase 6: two workers")
        workers2(ctx, help_text)
    if a.choices:
        with contextlib.suppress(subprocess.TimeoutExpired):
            choices(ctx)


if __name__ == "__main__":
    sys.exit(main())
