"""Fixtures of the in-process CLI tests.

* ``home`` — a private ``WIREBRIDGE_HOME`` (pid, log, state files, sqlite store, secret key).
* ``write_config(data)`` — a YAML config file in the test's temp dir; returns its path.
* ``cli(*argv)`` — ``wirebridge.cli.main.main`` run in this process: ``(exit code, stdout,
  stderr)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from wirebridge.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("WIREBRIDGE_HOME", str(path))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    def write(data: dict[str, Any], name: str = "config.yaml") -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return str(path)

    return write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], home: Path) -> Callable[..., tuple[int, str, str]]:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
