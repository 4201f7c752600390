"""Gateway-sealed blobs: provider data a client carries between turns without seeing inside.

A reasoning item's ``encrypted_content`` is ``wb1.<base64url(nonce | AES-GCM ciphertext)>``. The
plaintext names the provider family it came from, so a blob is only ever replayed to that
family; a blob the gateway did not seal (another vendor's, or tampered) fails to open and is
never forwarded anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "wb1."
_AAD = b"wirebridge-seal-v1"


@dataclass(frozen=True, slots=True)
class ProviderData:
    """Data that belongs to one provider family and travels with a hub item."""

    family: str
    data: dict[str, Any]


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("seal key must be 32 bytes")
        self._key = key
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        # cryptography is loaded on first use: it costs a worker 7 MB of resident memory, and a
        # gateway whose upstreams send no reasoning to carry over never seals anything.
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(self._key)
        return self._aead

    @classmethod
    def from_secret(cls, secret: str) -> Sealer:
        return cls(hashlib.sha256(secret.encode()).digest())

    def seal(self, pd: ProviderData) -> str:
        nonce = os.urandom(12)
        plain = orjson.dumps({"f": pd.family, "d": pd.data})
        blob = nonce + self._cipher().encrypt(nonce, plain, _AAD)
        return _PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")

    def open(self, token: object) -> ProviderData | None:
        """The data inside ``token``, or None if the gateway did not seal it (never raises)."""
        if not isinstance(token, str) or not token.startswith(_PREFIX):
            return None
        aead = self._cipher()
        from cryptography.exceptions import InvalidTag  # loaded with the cipher

        try:
            blob = base64.urlsafe_b64decode(token[len(_PREFIX) :])
            plain = aead.decrypt(blob[:12], blob[12:], _AAD)
            obj = orjson.loads(plain)
            return ProviderData(family=obj["f"], data=obj["d"])
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte key file, creating it (mode 0600) on first start."""
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, path)
    return key
