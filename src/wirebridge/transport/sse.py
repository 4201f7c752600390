"""Server-sent events: an incremental parser for upstream streams.

``SSEParser.feed(bytes)`` returns the complete events in the bytes so far as ``(event, data)``
pairs; a partial line waits for the next feed. Parsing is done on bytes with ``split``, one pass,
because it runs once per upstream chunk for every stream the gateway carries.
"""

from __future__ import annotations


class SSEParser:
    def __init__(self) -> None:
        self._tail = b""
        self._event: bytes | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[tuple[bytes | None, bytes]]:
        buf = self._tail + chunk if self._tail else chunk
        if b"\r" in buf:
            buf = self._normalise_cr(buf)
        lines = buf.split(b"\n")
        self._tail = lines.pop()
        out: list[tuple[bytes | None, bytes]] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append((self._event, b"\n".join(self._data)))
                self._event, self._data = None, []
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                self._event = line[6:].strip()
            elif line == b"data":
                self._data.append(b"")
            # comments (":") and other fields (id, retry) carry nothing we use
        return out

    def _normalise_cr(self, buf: bytes) -> bytes:
        # CRLF and a bare CR both end a line; a CR at the very end may be half of a CRLF.
        held = buf.endswith(b"\r")
        if held:
            buf = buf[:-1]
        buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return buf + b"\r" if held else buf

    def close(self) -> list[tuple[bytes | None, bytes]]:
        """Events left when the stream ended without a final blank line."""
        out = self.feed(b"\n\n") if self._tail or self._data else []
        self._tail = b""
        return out
