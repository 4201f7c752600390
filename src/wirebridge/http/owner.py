"""Who owns a stored response: a tag derived from the client's key.

A response belongs to the key that created it, so another key cannot read, chain from or
delete it. The tag is a hash (the store never holds key material); a request with no key gets
the anonymous owner "".
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from wirebridge.auth.keys import CLIENT


def client_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or request.headers.get("api-key") or None


def owner_of(request: web.Request) -> str:
    client = request.get(CLIENT)  # set by the auth middleware: a managed key owns by its id
    if client is not None and client.owner is not None:
        return str(client.owner)
    key = client_key(request)
    if key is None:
        return ""
    return hashlib.sha256(b"wirebridge-owner\x00" + key.encode()).hexdigest()[:32]
