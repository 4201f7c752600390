"""Incremental extraction of one JSON string field from a streamed JSON object.

Used to stream a custom tool's raw input while the upstream streams the function shim's
arguments, ``{"input": "..."}``, fragment by fragment. ``feed`` returns the newly decoded text of
the field; a field it cannot find returns nothing and the caller falls back to the full parse.
"""

from __future__ import annotations

import json
import re

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsonStringField:
    def __init__(self, key: str) -> None:
        self._start = re.compile(r'^\s*\{\s*"' + re.escape(key) + r'"\s*:\s*"')
        self._head = ""  # text seen before the value starts
        self._pending = ""  # an escape sequence split across fragments
        self._state = "seek"  # seek | value | done | lost

    @property
    def found(self) -> bool:
        """Whether the field's value has started (its text so far is what ``feed`` returned)."""
        return self._state in ("value", "done")

    def feed(self, fragment: str) -> str:
        if self._state == "seek":
            self._head += fragment
            m = self._start.match(self._head)
            if m is None:
                if len(self._head) > 64 or not _could_start(self._head):
                    self._state = "lost"
                return ""
            self._state = "value"
            fragment, self._head = self._head[m.end() :], ""
        if self._state != "value":
            return ""
        return self._decode(self._pending + fragment)

    def _decode(self, s: str) -> str:
        out: list[str] = []
        i, n = 0, len(s)
        self._pending = ""
        while i < n:
            c = s[i]
            if c == '"':
                self._state = "done"
                break
            if c != "\\":
                j = i
                while j < n and s[j] not in '"\\':
                    j += 1
                out.append(s[i:j])
                i = j
                continue
            if i + 1 >= n:
                self._pending = s[i:]
                break
            esc = s[i + 1]
            if esc == "u":
                # A high surrogate needs its low half too, or the text cannot be encoded.
                need = 12 if s[i + 2 : i + 4].lower() in ("d8", "d9", "da", "db") else 6
                if i + need > n:
                    self._pending = s[i:]
                    break
                out.append(_unicode_escape(s[i : i + need]))
                i += need
                continue
            out.append(_ESCAPES.get(esc, esc))
            i += 2
        return "".join(out)


def _unicode_escape(seq: str) -> str:
    try:
        text: str = json.loads(f'"{seq}"')
        text.encode()
        return text
    except (ValueError, UnicodeEncodeError):
        return "\ufffd"


def _could_start(head: str) -> bool:
    stripped = head.lstrip()
    return not stripped or stripped[0] == "{"
