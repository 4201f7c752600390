"""A serving process allocates through glibc's malloc, not pymalloc.

After a burst — thousands of streams at once — pymalloc keeps nearly all the memory it took:
it frees a 1 MiB arena only when every block in it is free, and a few long-lived blocks (event
loop handles, parser objects) pin most arenas. The bench measured 56 MB before 5,000 slow
streams and 117 MB for good after them. Through glibc's malloc the same burst is handed back
by the release that follows it (``observe/memory.py``: ``gc`` and ``malloc_trim``). The price
is speed: in alternating slices (``bench/ab.py``) pymalloc served 10 to 16 % more requests a
second; an operator who prefers that sets ``PYTHONMALLOC=pymalloc``.

Python chooses its allocator once, at start-up, from ``PYTHONMALLOC``; so ``wirebridge serve``
started from the command line executes itself again, once, with ``PYTHONMALLOC=malloc`` — the
same process id, the same arguments and environment. An allocator the operator chose (any
``PYTHONMALLOC`` already set, ``pymalloc`` included) is kept, and so is every platform
without glibc.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

ENV = "PYTHONMALLOC"


def glibc() -> str | None:
    """glibc's version string ("glibc 2.36"), or None on another C library."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        return None


def wanted(argv: Sequence[str], environ: Mapping[str, str], libc: str | None) -> bool:
    """Whether this command line should run under glibc's malloc and does not yet."""
    return bool(argv) and argv[0] == "serve" and ENV not in environ and bool(libc)


def use_system_malloc(argv: Sequence[str]) -> None:
    """Execute ``wirebridge argv`` again under glibc's malloc, when ``wanted``; else return."""
    if wanted(argv, os.environ, glibc()):
        sys.stdout.flush()
        sys.stderr.flush()
        env = {**os.environ, ENV: "malloc"}
        os.execve(sys.executable, [sys.executable, "-m", "wirebridge", *argv], env)
