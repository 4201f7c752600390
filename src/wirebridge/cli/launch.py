"""The ``wirebridge`` executable (and ``python -m wirebridge``).

It settles the allocator (``allocator.py``) before importing the rest: a ``serve`` that must
run again under glibc's malloc does so before paying for a second start-up.
"""

from __future__ import annotations

import sys

from wirebridge.cli import allocator


def run() -> None:
    allocator.use_system_malloc(sys.argv[1:])
    from wirebridge.cli.main import main

    sys.exit(main())
