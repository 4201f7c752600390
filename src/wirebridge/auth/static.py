"""Static client keys: ``server.api_keys`` in the config, or ``wirebridge serve --api-key``.

A presented key is compared with every configured key, all of them every time (no early exit),
with ``hmac.compare_digest`` over SHA-256 digests, so neither which key matched nor how much
of a wrong key was right shows in the time an answer takes. Only the digests are kept.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from wirebridge.auth.keys import Client


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class StaticKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key) for key in keys if key)
        # Requests made with static key n are client "static:<n>" (from 1, in config order);
        # their owner tag stays the one derived from the key, as before keys were required.
        self._clients = tuple(Client(id=f"static:{n}") for n in range(1, len(self._digests) + 1))

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str) -> Client | None:
        digest = _digest(presented)
        found = -1
        for n, expected in enumerate(self._digests):
            equal = hmac.compare_digest(digest, expected)
            found = n if equal else found
        return self._clients[found] if found >= 0 else None
