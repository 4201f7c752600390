"""Server-to-client WebSocket text frames: the events of one upstream batch in one write.

aiohttp writes each frame with a write of its own, a system call per event: about a third of
the CPU of a Codex CLI turn over a socket (``bench/ws_turns.py``: 1.09 against 0.77 ms a turn
when a batch goes as one write). So the frames are built here (RFC 6455 §5.2: FIN set, the
text opcode, the payload's length; a server never masks) and written together on the
request's transport. aiohttp keeps everything else: the handshake, the reading side, pings,
pongs and the close, each of its frames a write of its own, so no frame is ever cut by
another. With permessage-deflate negotiated the frames go through aiohttp one by one, since
compression carries state from each frame to the next.
"""

from __future__ import annotations

from aiohttp import WSMsgType, web


def text_frame_header(length: int) -> bytes:
    if length < 126:
        return bytes((0x81, length))
    if length < 1 << 16:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")


class TextFrames:
    """``await frames.send(payloads)``: each payload (UTF-8 JSON) a text frame, all in one
    write; then, like aiohttp's own writer, wait while a slow client holds the transport
    paused."""

    __slots__ = ("_request", "_ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.BaseRequest) -> None:
        self._ws = ws
        self._request = request

    async def send(self, payloads: list[bytes]) -> None:
        ws = self._ws
        if ws.compress:
            for payload in payloads:
                await ws.send_frame(payload, WSMsgType.TEXT)
            return
        transport = self._request.transport
        if ws.closed or transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to a closed WebSocket")
        parts: list[bytes] = []
        for payload in payloads:
            parts.append(text_frame_header(len(payload)))
            parts.append(payload)
        transport.writelines(parts)
        protocol = self._request.protocol
        if protocol.writing_paused:
            # what aiohttp's own writer awaits (no public API offers it): a future the protocol
            # resolves when the transport resumes, or fails when the connection is lost; a slow
            # client costs no wake-ups while it is behind
            await protocol._drain_helper()
