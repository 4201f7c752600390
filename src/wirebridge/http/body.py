"""Reading request bodies under the configured size cap."""

from __future__ import annotations

from aiohttp import web

from wirebridge.errors import PayloadTooLarge


async def read_body(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"The request body is {length} bytes; this gateway accepts at most {limit} bytes."
        )
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.") from None
