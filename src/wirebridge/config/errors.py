"""Configuration errors, and ``Where``: the place in a config a value came from.

A config error is read by a person fixing a file, so it always names the file (or
``environment``) and the key path of the offending value, e.g.
``config.yaml: models[0].provider.base_url: required string is missing``. Config errors never
reach a client, which is why this is not part of the ``wirebridge.errors`` tree.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(Exception):
    def __init__(self, file: str, key_path: str, message: str) -> None:
        super().__init__(file, key_path, message)
        self.file = file
        self.key_path = key_path
        self.message = message

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key_path, self.message) if part)


@dataclass(frozen=True, slots=True)
class Where:
    """A key path being read; every reader takes one so its errors can say where they are."""

    file: str
    path: str = ""

    def key(self, name: str) -> Where:
        return Where(self.file, f"{self.path}.{name}" if self.path else name)

    def index(self, i: int) -> Where:
        return Where(self.file, f"{self.path}[{i}]")

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.file, self.path, message)
