"""Processes, ports, /proc accounting and the machine description for ``bench/run.py``.

Standard library only: the harness must run before anything is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def raise_nofile(want: int = 65536) -> tuple[int, int]:
    """Raise the open-files limit (children inherit it); return the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        with contextlib.suppress(ValueError, OSError):  # only root may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want, want
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> int:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


NICE = 0  # bench/run.py --nice: scheduling priority of everything the harness starts


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """``taskset -c CPUS cmd`` (taskset execs, so the pid stays the command's own), under
    ``nice -n NICE`` when a priority was asked for."""
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    if NICE:
        cmd = ["nice", "-n", str(NICE), *cmd]
    return cmd


@dataclass
class Service:
    """A server the harness started: its own process group, its log file."""

    name: str
    cmd: list[str]
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, url: str, timeout: float = 60.0, ok=(200,)) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early; see {self.log}:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if http_get(url, timeout=1.0) in ok:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:g} s; see {self.log}")

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (aiohttp and uvicorn shut down cleanly on it), then SIGKILL, to this
        service's own process group only."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


# ---------------------------------------------------------------- /proc accounting


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (its exited children included)."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[11..14] = utime stime cutime cstime (field 14.. of stat, 0-based after comm)
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def proc_mem(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS since start or since ``reset_peak``), in kB."""
    out = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > clear_refs``); False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (pre-fork workers, uvicorn/granian children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = _read(f"/proc/{entry}/stat")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def system_busy() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine so far, from /proc/stat."""
    parts = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])  # guest time is already inside user
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class Sample:
    cpu_s: float = 0.0
    rss_kb: int = 0  # current RSS of the tree
    peak_rss_kb: int = 0  # peak of the tree's summed RSS, sampled
    peak_worker_kb: int = 0  # largest VmHWM of one process (exact, since reset_peak)
    processes: int = 0
    fds_peak: int = 0


@dataclass
class Monitor:
    """CPU time and RSS of a process tree over one scenario.

    CPU is the tree's utime+stime delta (from /proc/PID/stat), RSS the peak of VmHWM per
    process after resetting it at the start (exact) and the sampled sum over the tree (every
    ``interval`` seconds). The machine's busy time from /proc/stat is taken too, so time spent
    by processes outside the benchmark shows up as background load.
    """

    roots: dict[str, int]  # label -> root pid
    interval: float = 0.1
    count_fds: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _start_cpu: dict[int, float] = field(default_factory=dict)
    _last_cpu: dict[int, float] = field(default_factory=dict)
    _peak: dict[str, int] = field(default_factory=dict)
    _fds: dict[str, int] = field(default_factory=dict)
    _sys0: tuple[float, float] = (0.0, 0.0)
    _t0: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> Monitor:
        self._sys0 = system_busy()
        self._t0 = time.perf_counter()
        for pid in self._all_pids():
            with contextlib.suppress(OSError):
                self._start_cpu[pid] = proc_cpu(pid)
                reset_peak(pid)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _all_pids(self) -> list[int]:
        return [p for root in self.roots.values() for p in tree(root)]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for label, root in self.roots.items():
            total = 0
            fds = 0
            for pid in tree(root):
                with contextlib.suppress(OSError, ValueError):
                    total += proc_mem(pid).get("VmRSS", 0)
                    self._last_cpu[pid] = proc_cpu(pid)
                    if pid not in self._start_cpu:  # a worker born mid-scenario
                        self._start_cpu[pid] = 0.0
                    if self.count_fds:
                        fds += len(os.listdir(f"/proc/{pid}/fd"))
            self._peak[label] = max(self._peak.get(label, 0), total)
            self._fds[label] = max(self._fds.get(label, 0), fds)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        sys1 = system_busy()
        wall = time.perf_counter() - self._t0
        for label, root in self.roots.items():
            s = Sample()
            pids = tree(root)
            s.processes = len(pids)
            for pid in pids:
                with contextlib.suppress(OSError, ValueError):
                    mem = proc_mem(pid)
                    s.rss_kb += mem.get("VmRSS", 0)
                    s.peak_worker_kb = max(s.peak_worker_kb, mem.get("VmHWM", 0))
            for pid, start in self._start_cpu.items():
                if pid in pids:
                    s.cpu_s += self._last_cpu.get(pid, start) - start
            # one process: its exact peak; several: the sampled peak of their sum
            exact = s.peak_worker_kb if len(pids) == 1 else 0
            s.peak_rss_kb = max(exact, self._peak.get(label, 0))
            s.fds_peak = self._fds.get(label, 0)
            self.result[label] = s
        busy = sys1[0] - self._sys0[0]
        total = sys1[1] - self._sys0[1]
        self.result["_machine"] = {
            "wall_s": wall,
            "busy_cpu_s": busy,
            "capacity_cpu_s": total,
            "busy_pct": 100 * busy / total if total else 0.0,
        }


def account_external(mon: Monitor, external_cpu_s: float) -> float:
    """Background CPU (% of the machine): busy time not spent by monitored processes nor by
    ``external_cpu_s`` (the load generator, which reports its own)."""
    m = mon.result["_machine"]
    ours = sum(s.cpu_s for k, s in mon.result.items() if k != "_machine")
    other = max(0.0, m["busy_cpu_s"] - ours - external_cpu_s)
    return 100 * other / m["capacity_cpu_s"] if m["capacity_cpu_s"] else 0.0


# ---------------------------------------------------------------- machine description


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    with contextlib.suppress(OSError):
        for line in _read("/proc/meminfo").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def pkg_versions(python: str, names: list[str]) -> dict[str, str]:
    code = (
        "import json,sys\nfrom importlib import metadata\nout={}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n]=metadata.version(n)\n"
        "    except metadata.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    try:
        res = subprocess.run(
            [python, "-c", code, *names], capture_output=True, text=True, timeout=60
        )
        return dict(json.loads(res.stdout or "{}"))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}


def git_describe(repo: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{rev}{' + uncommitted changes in src/' if dirty else ''}" if rev else "unknown"


def machine() -> dict[str, Any]:
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5)
            m = re.search(r"wrk (\S+)", out.stdout + out.stderr)
            wrk_version = m.group(1) if m else "?"
    return {
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_mem_total_gib(), 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg": _read("/proc/loadavg").split()[:3] if os.path.exists("/proc/loadavg") else [],
        "wrk": wrk_version,
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    }
