"""Microbenchmarks behind wirebridge's HTTP server, HTTP client and JSON library choices.

    python bench/choices.py [--duration S] [--json OUT.json] [--md OUT.md]

* **Server**: a trivial JSON echo (read body, orjson parse, orjson answer) on aiohttp.web,
  Starlette on uvicorn, Starlette on granian, bare ASGI on uvicorn and granian, and granian's
  RSGI; one process pinned to CPU 0, driven by ``wrk -t1 -c16`` on CPU 1.
* **Client**: the upstream call, wirebridge's own client vs aiohttp vs httpx (HTTP/1.1,
  pooled), 1 and 16 concurrent
  requests to the raw mock: a JSON answer (read + orjson parse) and a 50-chunk SSE stream
  (read line by line, orjson-parse each ``data:`` line); client pinned to CPU 0, mock to
  CPU 1. The number that matters is the client's CPU per request.
* **JSON**: orjson vs the standard library on a typical Response body, a stream event and an
  upstream chunk.

The candidates that are not gateway dependencies (uvicorn, starlette, granian, httpx) are
installed, pinned, into ``bench/.venv-choices``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
from harness import Monitor, Service, free_port, pinned

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-choices"
PKGS = [
    "aiohttp==3.14.5",
    "orjson==3.13.0",
    "uvloop==0.23.0",
    "httpx==0.28.1",
    "starlette==1.10.0",
    "uvicorn[standard]==0.54.0",
    "granian==2.8.7",
]


def ensure_venv(notes: list[str]) -> str | None:
    py = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if py.exists() and marker.exists() and marker.read_text() == "\n".join(PKGS):
        return str(py)
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", *PKGS],
            check=True,
            timeout=1200,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        notes.append(f"could not install {', '.join(PKGS)}: {e}; only aiohttp measured")
        return None
    marker.write_text("\n".join(PKGS))
    return str(py)


# ---------------------------------------------------------------- JSON


def typical_response() -> dict[str, Any]:
    """A non-streamed Response as the gateway answers it: reasoning + message, every field."""
    text = "Hello! Here is a short greeting for the benchmark. " * 8
    return {
        "id": "resp_6d66a3409bd2f2fbd42a1ca320ef44c5",
        "object": "response",
        "created_at": 1795328191,
        "completed_at": 1795328192,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": "You are a helpful assistant.",
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": "bench-model",
        "output": [
            {
                "id": "rs_70c8eae17e08a77f71d48701b16c0cbe",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "The user wants a greeting."}],
                "encrypted_content": "wb1." + "gQJ3a0L4P1UCy7t4jGmVMC_GopxvGW3w3TQduraxm5T" * 4,
            },
            {
                "id": "msg_0d2ec3121f9c40dc1c928f34a8b978a1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            },
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": None,
        "safety_identifier": None,
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 25,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 120,
            "output_tokens_details": {"reasoning_tokens": 8},
            "total_tokens": 145,
        },
        "user": None,
        "metadata": {},
    }


def json_bench() -> list[dict[str, Any]]:
    resp = typical_response()
    delta = {
        "type": "response.output_text.delta",
        "item_id": "msg_0d2ec3121f9c40dc1c928f34a8b978a1",
        "output_index": 1,
        "content_index": 0,
        "delta": "tok17 ",
        "logprobs": [],
        "sequence_number": 23,
    }
    chunk = (
        b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"bench-model","choices":[{"index":0,"delta":{"content":"tok17 "},'
        b'"finish_reason":null,"logprobs":null}]}'
    )
    resp_bytes = orjson.dumps(resp)

    def std_dumps(o: Any) -> bytes:
        return json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()

    cases = [
        ("encode a Response (JSON answer)", len(resp_bytes), lambda: std_dumps(resp),
         lambda: orjson.dumps(resp)),
        ("decode a Response (a stored one, a request of that size)", len(resp_bytes),
         lambda: json.loads(resp_bytes), lambda: orjson.loads(resp_bytes)),
        ("encode a stream event (output_text.delta)", len(orjson.dumps(delta)),
         lambda: std_dumps(delta), lambda: orjson.dumps(delta)),
        ("decode an upstream chat chunk", len(chunk), lambda: json.loads(chunk),
         lambda: orjson.loads(chunk)),
    ]  # fmt: skip
    rows = []
    for name, size, std, fast in cases:
        t_std, t_fast = _per_call(std), _per_call(fast)
        rows.append(
            {
                "operation": name,
                "bytes": size,
                "json_us": round(t_std * 1e6, 3),
                "orjson_us": round(t_fast * 1e6, 3),
                "speedup": round(t_std / t_fast, 1),
            }
        )
    return rows


def _per_call(fn: Any) -> float:
    timer = timeit.Timer(fn)
    n, _ = timer.autorange()
    return min(timer.repeat(5, n)) / n


# ---------------------------------------------------------------- servers


def _wrk(url: str, body: Path, conc: int, seconds: float, cpus: str | None) -> dict[str, Any]:
    env = {**os.environ, "WRK_BODY_FILE": str(body), "WRK_HEADERS": ""}
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    cmd += ["-s", str(BENCH / "wrk" / "post.lua"), url]
    res = subprocess.run(
        pinned(cmd, cpus), capture_output=True, text=True, env=env, timeout=seconds + 60
    )
    line = next(x for x in res.stdout.splitlines() if x.startswith("WRK_JSON "))
    w = json.loads(line.removeprefix("WRK_JSON "))
    w["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    w["n_errors"] = sum(w["errors"].values())
    return w


def _wait_port(port: int, svc: Service, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not svc.alive():
            raise RuntimeError(f"{svc.name} exited: {svc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{svc.name} did not listen on {port}")


def server_bench(
    py_choices: str | None, duration: float, cpus: tuple[str | None, str | None], logs: Path
) -> list[dict[str, Any]]:
    srv_cpu, cli_cpu = cpus
    body = logs / "echo-body.json"
    body.write_bytes(orjson.dumps(typical_response()))

    def uvicorn(app: str) -> list[str]:
        return [str(py_choices), "-m", "uvicorn", app, "--app-dir", str(BENCH), "--loop",
                "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "--host", "127.0.0.1", "--port"]  # fmt: skip

    def granian(interface: str, app: str) -> list[str]:
        return [str(py_choices), "-m", "granian", "--interface", interface, "--loop", "uvloop",
                "--workers", "1", "--no-ws", "--log-level", "warning", "--host", "127.0.0.1",
                app, "--port"]  # fmt: skip

    candidates: list[tuple[str, list[str]]] = [
        ("aiohttp.web (uvloop)", [sys.executable, str(BENCH / "choices_apps.py"), "aiohttp"]),
    ]
    if py_choices:
        candidates += [
            ("Starlette on uvicorn (uvloop, httptools)", uvicorn("choices_apps:starlette_app")),
            ("Starlette on granian (ASGI, uvloop)", granian("asgi", "choices_apps:starlette_app")),
            ("bare ASGI on uvicorn (uvloop, httptools)", uvicorn("choices_apps:asgi_app")),
            ("bare ASGI on granian (uvloop)", granian("asgi", "choices_apps:asgi_app")),
            ("bare RSGI on granian (uvloop)", granian("rsgi", "choices_apps:rsgi_app")),
        ]
    rows = []
    for name, cmd in candidates:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(BENCH)}
        svc = Service(name, pinned([*cmd, str(port)], srv_cpu), logs / f"server-{port}.log", env)
        svc.start()
        try:
            _wait_port(port, svc)
            url = f"http://127.0.0.1:{port}/echo"
            _wrk(url, body, 16, 1, cli_cpu)  # warm-up
            with Monitor({"server": svc.pid}) as mon:
                w = _wrk(url, body, 16, duration, cli_cpu)
            cpu = mon.result["server"].cpu_s
            rows.append(
                {
                    "server": name,
                    "rps": round(w["rps"], 1),
                    "p50_ms": round(w["latency_us"]["p50"] / 1000, 3),
                    "p99_ms": round(w["latency_us"]["p99"] / 1000, 3),
                    "cpu_us_per_req": round(1e6 * cpu / max(1, w["requests"]), 1),
                    "errors": w["n_errors"],
                }
            )
            print(f"[choices] server {name}: {rows[-1]}", flush=True)
        except (RuntimeError, StopIteration, subprocess.TimeoutExpired) as e:
            rows.append({"server": name, "error": str(e)[:300]})
        finally:
            svc.stop()
    return rows


# ---------------------------------------------------------------- clients


async def _client_run(lib: str, mode: str, url: str, conc: int, seconds: float) -> dict[str, Any]:
    stream = mode == "sse"
    body = orjson.dumps(
        {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    )
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-mock"}
    done = 0
    counting = False
    stop = False

    if lib == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        async def one() -> None:
            async with session.post(url, data=body, headers=headers) as r:
                if stream:
                    async for line in r.content:
                        if line.startswith(b"data: {"):
                            orjson.loads(line[6:])
                else:
                    orjson.loads(await r.read())

        close = session.close
    elif lib == "wirebridge":
        # the gateway's own client, reading a stream the way the gateway does (SSEParser)
        from wirebridge.transport.client import HttpClient
        from wirebridge.transport.sse import SSEParser

        wb = HttpClient()

        async def one() -> None:
            r = await wb.post(url, body, headers, connect_timeout=10, read_timeout=30)
            if stream:
                parser = SSEParser()
                async for chunk in r.iter_any():
                    for _, data in parser.feed(chunk):
                        if data.startswith(b"{"):
                            orjson.loads(data)
            else:
                orjson.loads(await r.read())

        close = wb.close
    else:
        import httpx

        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=conc * 2),
            timeout=30,
        )

        async def one() -> None:
            if stream:
                async with client.stream("POST", url, content=body, headers=headers) as r:
                    async for text in r.aiter_lines():
                        if text.startswith("data: {"):
                            orjson.loads(text[6:])
            else:
                r = await client.post(url, content=body, headers=headers)
                orjson.loads(r.content)

        close = client.aclose

    async def worker() -> None:
        nonlocal done
        while not stop:
            await one()
            if counting:
                done += 1

    tasks = [asyncio.create_task(worker()) for _ in range(conc)]
    await asyncio.sleep(0.5)
    counting = True
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    counting = False
    elapsed = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    stop = True
    await asyncio.gather(*tasks)
    await close()
    cpu = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
    return {"rps": round(done / elapsed, 1), "cpu_us_per_req": round(1e6 * cpu / max(1, done), 1)}


def client_bench(
    py_choices: str | None, duration: float, cpus: tuple[str | None, str | None], logs: Path
) -> list[dict[str, Any]]:
    if py_choices is None:
        return []
    cli_cpu, mock_cpu = cpus
    port = free_port()
    cmd = [sys.executable, str(BENCH / "mock_upstream.py"), "--server", "raw", "--port", str(port)]
    mock = Service("mock", pinned(cmd, mock_cpu), logs / "client-mock.log").start()
    rows = []
    try:
        mock.wait_ready(f"http://127.0.0.1:{port}/v1/models")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        for lib in ("wirebridge", "aiohttp", "httpx"):
            # wirebridge's own client runs where wirebridge is installed; the others in the
            # choices venv (the same aiohttp version in both)
            python = sys.executable if lib == "wirebridge" else py_choices
            for conc in (1, 16):
                row: dict[str, Any] = {"client": lib, "concurrency": conc}
                for mode in ("json", "sse"):
                    run = [python, __file__, "--client-run", lib, mode, url, str(conc)]
                    run.append(str(duration))
                    res = subprocess.run(
                        pinned(run, cli_cpu),
                        capture_output=True,
                        text=True,
                        timeout=duration + 120,
                    )
                    if res.returncode != 0:
                        row[f"{mode}_error"] = res.stderr[-300:]
                        continue
                    out = json.loads(res.stdout.strip().splitlines()[-1])
                    row[f"{mode}_rps"] = out["rps"]
                    row[f"{mode}_cpu_us"] = out["cpu_us_per_req"]
                rows.append(row)
                print(f"[choices] client {row}", flush=True)
    finally:
        mock.stop()
    return rows


# ---------------------------------------------------------------- report


def render(data: dict[str, Any], level: int = 1) -> list[str]:
    h = "#" * level
    out = [f"{h} Choices: server, client, JSON library", ""]
    servers = [r for r in data.get("server", []) if "rps" in r]
    if servers:
        base = next((r for r in servers if r["server"].startswith("aiohttp")), servers[0])
        out += [
            f"{h}# HTTP server - trivial JSON echo, one process on CPU 0, `wrk -t1 -c16` on CPU 1",
            "",
            "Server CPU per request (utime+stime of the server's processes over the requests "
            "wrk completed) is the number to compare: req/s and p99 move with any other load "
            "on the machine, CPU per request much less. Every variant parses and encodes with "
            "orjson.",
            "",
            "| server | req/s | p50 ms | p99 ms | server CPU us/req | CPU vs aiohttp |",
            "|---|---|---|---|---|---|",
        ]
        for r in servers:
            out.append(
                f"| {r['server']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['cpu_us_per_req']:.0f} | {r['cpu_us_per_req'] / base['cpu_us_per_req']:.2f}x |"
            )
        out.append("")
    failed = [r for r in data.get("server", []) if "error" in r]
    out += [f"- {r['server']} failed: {r['error']}" for r in failed]
    clients = data.get("client", [])
    if clients:
        out += [
            f"{h}# HTTP client - the upstream call, client on CPU 0, raw mock on CPU 1",
            "",
            "The client's own CPU per request (getrusage) is the number to compare. All run "
            "under uvloop and parse with orjson; `wirebridge` is the gateway's own client "
            "(`transport/client.py`, httptools), which replaced aiohttp's for upstream calls.",
            "",
            "| client | concurrent | JSON req/s | JSON CPU us/req | SSE (50 chunks) streams/s "
            "| SSE CPU us/stream |",
            "|---|---|---|---|---|---|",
        ]
        for r in clients:
            out.append(
                f"| {r['client']} | {r.get('concurrency', 16)} | {r.get('json_rps', '-')} | "
                f"{r.get('json_cpu_us', '-')} | {r.get('sse_rps', '-')} | "
                f"{r.get('sse_cpu_us', '-')} |"
            )
        out.append("")
    if data.get("json"):
        out += [
            f"{h}# JSON library - per call, best of 5",
            "",
            "| operation | bytes | json (stdlib) us | orjson us | orjson speed-up |",
            "|---|---|---|---|---|",
        ]
        for r in data["json"]:
            out.append(
                f"| {r['operation']} | {r['bytes']:,} | {r['json_us']:.2f} | "
                f"{r['orjson_us']:.2f} | {r['speedup']:.1f}x |"
            )
        out.append("")
    if data.get("versions"):
        out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()))
        out.append("")
    out += [f"- {n}" for n in data.get("notes", [])]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--md", type=Path, help="write the Markdown section here")
    ap.add_argument("--client-run", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client_run:
        lib, mode, url, conc, seconds = args.client_run
        import uvloop

        result = uvloop.run(_client_run(lib, mode, url, int(conc), float(seconds)))
        print(json.dumps(result))
        return 0
    harness.raise_nofile()
    n = os.cpu_count() or 1
    pin = n >= 2 and shutil.which("taskset") is not None
    cpus = ("0", ",".join(str(i) for i in range(1, n))) if pin else (None, None)
    notes: list[str] = []
    if not pin:
        notes.append("not pinned (fewer than 2 CPUs or no taskset)")
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"wirebridge-choices-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    py_choices = ensure_venv(notes)
    data: dict[str, Any] = {"json": json_bench()}
    print(f"[choices] json: {data['json']}", flush=True)
    if shutil.which("wrk"):
        data["server"] = server_bench(py_choices, args.duration, cpus, logs)
    else:
        notes.append("wrk not installed: servers not measured")
    data["client"] = client_bench(py_choices, args.duration, cpus, logs)
    if py_choices:
        data["versions"] = harness.pkg_versions(
            py_choices, ["aiohttp", "httpx", "starlette", "uvicorn", "granian", "orjson", "uvloop"]
        )
    data["notes"] = notes
    shutil.rmtree(logs, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    text = "\n".join(render(data)) + "\n"
    if args.md:
        args.md.write_text(text)
    if not args.json and not args.md:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
