"""py-spy on the gateway during a scenario, and a summary of where its samples went.

Two samplers run side by side on the gateway (``--nonblocking``: the process is never
paused; ``--gil``: only samples of a thread holding the GIL, so neither a thread waiting on
the event loop's poll nor an idle executor thread counts): one writes a flamegraph SVG, one
the raw collapsed stacks
(``frame;frame;...;leaf count``), which ``summarize`` folds into the top functions by own
time (the leaf of a sample) and by inclusive time, and into shares per layer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_BASE = re.compile(r"/wirebridge/(cli/|__main__\.py)")  # under every sample: not informative
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, duration: float, cpus: str | None) -> list[subprocess.Popen[bytes]]:
    exe = py_spy()
    if exe is None:
        return []
    procs = []
    for fmt, suffix in (("flamegraph", ".svg"), ("raw", ".txt")):
        cmd = [exe, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--gil"]
        cmd += ["--duration", str(max(1, round(duration))), "--format", fmt]
        cmd += ["--output", str(out.with_suffix(suffix))]
        if fmt == "raw":
            cmd += ["--full-filenames", "--nolineno"]
        if cpus and shutil.which("taskset"):
            cmd = ["taskset", "-c", cpus, *cmd]
        log = open(out.with_suffix(f".{fmt}.log"), "wb")  # noqa: SIM115 - closed with the proc
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait(procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.terminate()
            p.wait(10)


def _parse(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame)
    if not m:
        return frame, ""
    return m.group("func"), m.group("file")


def _short(file: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            tail = file.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3" and "/" in tail else tail
    return file.rsplit("/", 2)[-1] if "/" in file else file


def layer(file: str) -> str:
    """The package a frame belongs to, for the per-layer shares."""
    if "/wirebridge/" in file:
        parts = file.split("/wirebridge/", 1)[1].split("/")
        return "wirebridge/" + parts[0].removesuffix(".py")
    if "/site-packages/" in file:
        return file.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if file.startswith("<") or not file:
        return "other"
    return "stdlib:" + Path(file).stem


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Top own-time functions, top inclusive wirebridge functions, own time per layer."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    threaded = 0  # samples of executor threads, not of the event loop's thread
    for line in raw.read_text(errors="replace").split("\n"):
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        if not stack:  # holding the GIL with no Python frame (start-up, C callbacks)
            own["(no Python frame)"] += n
            layers["other"] += n
            continue
        frames = [_parse(f) for f in stack.split(";")]
        if frames[0][0] == "Thread._bootstrap":
            threaded += n
        func, file = frames[-1]
        own[f"{func} ({_short(file)})"] += n
        layers[layer(file)] += n
        seen = set()
        for func, file in frames:
            if "/wirebridge/" in file and not _BASE.search(file):
                key = f"{func} ({_short(file)})"
                if key not in seen:
                    seen.add(key)
                    incl[key] += n

    def pct(c: Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in c.most_common(k)] if total else []

    return {
        "samples": total,
        "executor_threads_pct": round(100 * threaded / total, 1) if total else 0.0,
        "own": pct(own, top),
        "inclusive_wirebridge": pct(incl, top),
        "layers": pct(layers, 12),
    }
