"""Ordered schema migrations shared by the SQLite and PostgreSQL stores.

Each migration is a module ``vNNNN_name.py`` in this package holding ``SQL`` (both dialects) and
optionally ``SQLITE`` / ``POSTGRES`` (a dialect's own text, replacing ``SQL`` for it). They are
Python modules rather than ``.sql`` files so that they ship in every kind of install without
package-data configuration. Statements are separated by a ``;`` at the end of a line.

A store applies, at open and inside one transaction each, the migrations newer than the highest
version recorded in ``wirebridge_schema``; a database that records a version this code does not
know was written by a newer wirebridge and is refused rather than guessed at. Adding a table
(managed client keys, say) is a new module with the next number.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS wirebridge_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""

_MODULE = re.compile(r"^v(\d{4})_(\w+)$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def migrations(dialect: Dialect) -> list[Migration]:
    """Every migration for ``dialect``, by version; the versions must run 1, 2, 3, …"""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE.match(info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        text = getattr(module, dialect.upper(), None) or module.SQL
        found.append(Migration(int(match.group(1)), match.group(2), split_statements(text)))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration v{expected:04d} is missing (found {migration.name})")
    return found


def split_statements(text: str) -> tuple[str, ...]:
    parts = re.split(r";[ \t]*(?:\n|$)", text)
    return tuple(part.strip() for part in parts if part.strip())


def pending(known: list[Migration], current: int | None) -> list[Migration]:
    """The migrations to apply over a database at version ``current`` (``None`` = empty)."""
    have = current or 0
    if known and have > known[-1].version:
        raise ValueError(
            f"the database schema is at version {have}, newer than this wirebridge knows "
            f"({known[-1].version}); upgrade wirebridge"
        )
    return [m for m in known if m.version > have]
