"""CPU quotas per process (cgroups), so that N workers can be measured as if each had a core.

On a two-core machine that also runs the load generator and the mock, two uncapped workers
are limited by the machine (the client and the mock need CPU too), not by how the gateway
scales. Capping every worker process at the same share of a core, in a cgroup of its own,
measures the scaling itself: one capped worker against two, each with the same budget, and the
load generator and the mock with room to spare. Standard library only; cgroup v1's ``cpu``
controller or cgroup v2's ``cpu.max``, where this process may create groups (root, usually).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PERIOD_US = 20_000  # short periods: a capped process is held back in small slices, not 100 ms ones


def _v1() -> Path | None:
    root = Path("/sys/fs/cgroup/cpu")
    return root if (root / "cpu.cfs_quota_us").exists() else None


def _v2() -> Path | None:
    root = Path("/sys/fs/cgroup")
    controllers = root / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return root
    return None


class CpuCaps:
    """``cap(pid, cores)`` moves a process into a group of its own with that quota;
    ``release()`` moves them all back and removes the groups."""

    def __init__(self, root: Path, v1: bool) -> None:
        self.root, self.v1 = root, v1
        self.groups: list[Path] = []

    @classmethod
    def available(cls) -> CpuCaps | None:
        for root, v1 in ((_v1(), True), (_v2(), False)):
            if root is None:
                continue
            probe = root / f"wirebridge-bench-probe-{os.getpid()}"
            try:
                probe.mkdir()
                probe.rmdir()
            except OSError:
                continue
            return cls(root, v1)
        return None

    def cap(self, pid: int, cores: float) -> None:
        group = self.root / f"wirebridge-bench-{pid}"
        group.mkdir(exist_ok=True)
        self.groups.append(group)
        quota = int(cores * PERIOD_US)
        if self.v1:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        (group / "cgroup.procs").write_text(str(pid))  # every thread of the process moves

    def release(self) -> None:
        for group in self.groups:
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.root / "cgroup.procs").write_text(pid)
                group.rmdir()
        self.groups.clear()
