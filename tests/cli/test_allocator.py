"""``wirebridge serve`` runs under glibc's malloc unless the operator chose an allocator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_chat import FakeChat
from tests.support.gateway import default_config
from wirebridge.cli.allocator import glibc, wanted


@pytest.mark.parametrize(
    ("argv", "environ", "libc", "expected"),
    [
        (["serve", "--port", "1"], {}, "glibc 2.36", True),
        (["serve"], {"PYTHONMALLOC": "pymalloc"}, "glibc 2.36", False),
        (["serve"], {"PYTHONMALLOC": "malloc"}, "glibc 2.36", False),  # already switched
        (["serve"], {}, None, False),  # musl and the rest keep their default
        (["doctor"], {}, "glibc 2.36", False),  # only a serving process
        ([], {}, "glibc 2.36", False),
    ],
)
def test_when_to_switch(
    argv: list[str], environ: dict[str, str], libc: str | None, expected: bool
) -> None:
    assert wanted(argv, environ, libc) is expected


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in raw if b"=" in e)


def test_serve_runs_under_glibc_malloc(fake_chat: FakeChat, start_gateway: Any) -> None:
    assert glibc(), "the CI machine runs glibc"
    gw = start_gateway(default_config(fake_chat.base_url))
    # the same process (execve keeps the pid), now with the allocator set
    assert _environ(gw.proc.pid).get("PYTHONMALLOC") == "malloc"


def test_an_allocator_the_operator_chose_is_kept(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(default_config(fake_chat.base_url), env={"PYTHONMALLOC": "pymalloc"})
    assert _environ(gw.proc.pid).get("PYTHONMALLOC") == "pymalloc"
