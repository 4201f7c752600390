"""Reading request bodies: under the size cap, decoded per ``Content-Encoding``, read once.

aiohttp's own decoding is off (``create_app``): it turned a corrupt gzip body into a 500 and an
encoding it could not decode into a plain-text 400 of its own, outside every envelope, and what
it can decode depends on which optional packages happen to be installed. Here ``gzip``,
``x-gzip`` and ``deflate`` are decoded with zlib and ``zstd`` (which Codex CLI can send) with
``zstandard``, imported on the first such body; anything else is a 415. The cap applies to the
decoded body too, so a small bomb is a 413, decoded no further than the cap.

A middleware that needs the body (the model a key may use, the body log) reads it here first;
the decoded bytes (or the error) wait on the request for the handler, which takes them.
"""

from __future__ import annotations

import zlib
from typing import Any

from aiohttp import web

from wirebridge.errors import GatewayError, InvalidRequest, PayloadTooLarge, UnsupportedEncoding

_READ = web.RequestKey("wirebridge.body", object)  # bytes, or the GatewayError reading raised
_ZLIB = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# zstd input fed at a time: a 4-byte block can stand for 128 KB, so 512 bytes for 16 MB at most
_ZSTD_SLICE = 512


async def read_body(request: web.Request, limit: int, *, keep: bool = False) -> bytes:
    """The whole body, decoded, at most ``limit`` bytes before and after decoding.

    ``keep`` leaves it on the request for a later reader (middlewares); the last reader, the
    handler, takes it, so that no copy lives on with the request (64 Codex CLI requests of
    40 KB in flight would hold 2.5 MB for nothing)."""
    got = request.get(_READ) if keep else request.pop(_READ, None)
    if isinstance(got, GatewayError):
        raise _fresh(got)  # a new one each time, never bound here: no frame ↔ traceback cycle
    if got is None:
        try:
            got = _decode(await _read_raw(request, limit), request.headers, limit)
        except GatewayError as e:
            if keep:
                request[_READ] = _fresh(e)
            raise
        if keep:
            request[_READ] = got
    assert isinstance(got, bytes)
    return got


def _fresh(e: GatewayError) -> GatewayError:
    return type(e)(e.message, param=e.param, code=e.code, headers=e.headers, status=e.http_status)


async def _read_raw(request: web.Request, limit: int) -> bytes:
    # From the stream rather than with request.read(), which keeps a copy on the request and
    # builds the body twice (a bytearray, then the bytes).
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"The request body is {length} bytes; this gateway accepts at most {limit} bytes."
        )
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
    except web.RequestPayloadError as e:  # a malformed chunked body, or one cut short
        detail = " ".join(str(e).split())
        raise InvalidRequest(f"The request body could not be read ({detail}).") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _decode(raw: bytes, headers: Any, limit: int) -> bytes:
    named = headers.get("Content-Encoding")
    if not named:
        return raw
    encodings = [e.strip().lower() for e in named.split(",") if e.strip()]
    for encoding in reversed(encodings):  # the last applied comes off first
        if encoding == "identity":
            continue
        if encoding in _ZLIB:
            raw = _inflate(raw, _ZLIB[encoding], encoding, limit)
        elif encoding == "zstd":
            raw = _unzstd(raw, limit)
        else:
            raise UnsupportedEncoding(
                f"The request body is encoded as '{encoding}'; this gateway decodes gzip, "
                "deflate and zstd, or a body sent as is."
            )
    return raw


def _inflate(raw: bytes, wbits: int, encoding: str, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(raw, limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise _too_large(limit)
        out += d.flush()
    except zlib.error as e:
        if encoding == "deflate" and wbits > 0:  # some clients send raw deflate, no zlib header
            return _inflate(raw, -zlib.MAX_WBITS, encoding, limit)
        raise InvalidRequest(f"The request body is not valid {encoding} data ({e}).") from None
    if not d.eof:
        raise InvalidRequest(f"The request body's {encoding} data ends before its end.")
    if len(out) > limit:
        raise _too_large(limit)
    return out


def _unzstd(raw: bytes, limit: int) -> bytes:
    import zstandard  # on the first zstd body: most gateways never see one

    # fed a slice at a time, so that a bomb grows past the cap by one slice's worth at most
    d = zstandard.ZstdDecompressor().decompressobj()
    parts: list[bytes] = []
    size = 0
    view = memoryview(raw)
    try:
        for at in range(0, len(raw), _ZSTD_SLICE):
            part = d.decompress(view[at : at + _ZSTD_SLICE])
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            parts.append(part)
    except zstandard.ZstdError as e:
        raise InvalidRequest(f"The request body is not valid zstd data ({e}).") from None
    if not d.eof:
        raise InvalidRequest("The request body's zstd data ends before its end.")
    return b"".join(parts)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body, decoded, is larger than {limit} bytes.")
