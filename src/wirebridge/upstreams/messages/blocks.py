"""Hub content parts → Anthropic content blocks (hub → wire), one part at a time.

* text-like parts (``input_text``, ``output_text``, ``summary_text``, ``refusal``) → ``text``
  blocks; an empty one is left out, since Anthropic refuses empty text blocks.
* Images: a ``data:`` URL → a base64 source (jpeg, png, gif or webp), an http(s) URL → a url
  source. Files: a PDF → a base64 ``document``, plain text → a text ``document``, a URL → a url
  ``document``; by ``file_id`` neither can be sent.
* A tool output's content → a string or blocks; the ``Error: `` prefix a Messages front door
  writes is taken off again when ``is_error`` carries it.
* ``ProviderData`` of the ``anthropic`` family → a ``thinking`` (with its ``signature``) or
  ``redacted_thinking`` block; anything else is never sent.
* ``_cache_control`` marks become ``cache_control``.

Kept apart from ``turns.py``, which places these blocks into alternating turns; what Anthropic
cannot take raises ``Untranslatable`` naming the part.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.seal import ProviderData
from wirebridge.upstreams.messages import FAMILY

Block = dict[str, Any]

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:([^;,]+)((?:;[^;,]*)*?);base64,(.*)$", re.DOTALL)
_TEXT_KINDS = frozenset({"input_text", "output_text", "text", "summary_text"})


def copy_cache_control(source: dict[str, Any], block: Block) -> None:
    mark = source.get("_cache_control")
    if mark is not None:
        block["cache_control"] = mark


def text_block(part: Any, where: str, role: str) -> Block | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_KINDS:
        text = part.get("text")
    elif kind == "refusal":
        text = part.get("refusal")
    else:
        raise Untranslatable(
            f"Content part '{kind}' cannot be sent in a {role} message to an Anthropic upstream.",
            param=where,
        )
    if not isinstance(text, str) or not text:
        return None  # Anthropic refuses empty text blocks; an empty one says nothing
    block: Block = {"type": "text", "text": text}
    copy_cache_control(part, block)
    return block


def user_block(part: Any, where: str) -> Block | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "input_image":
        block = _image(part, where)
    elif kind == "input_file":
        block = _document(part, where)
    else:
        return text_block(part, where, "user")
    copy_cache_control(part, block)
    return block


def _image(part: dict[str, Any], where: str) -> Block:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise Untranslatable(
            "input_image by file_id cannot be sent to an Anthropic upstream; send image_url "
            "(a data: URL or an https URL).",
            param=where,
        )
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media, data = _data_url(url, where)
    if media not in IMAGE_TYPES:
        raise Untranslatable(
            f"Image type '{media}' cannot be sent to an Anthropic upstream; it takes "
            f"{', '.join(sorted(IMAGE_TYPES))}.",
            param=where,
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}


def _document(part: dict[str, Any], where: str) -> Block:
    filename = part.get("filename") if isinstance(part.get("filename"), str) else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            media, payload = _data_url(data, where)
        else:  # bare base64: the file name says what it is
            media, payload = _media_of(filename), data
        source = _document_source(media, payload, where)
    elif isinstance(url, str) and url:
        source = {"type": "url", "url": url}
    else:
        raise Untranslatable(
            "input_file by file_id cannot be sent to an Anthropic upstream; send file_data "
            "(a base64 data: URL) or file_url.",
            param=where,
        )
    block: Block = {"type": "document", "source": source}
    if filename:
        block["title"] = filename
    return block


def _document_source(media: str, payload: str, where: str) -> dict[str, Any]:
    if media == "application/pdf":
        return {"type": "base64", "media_type": media, "data": payload}
    if media.startswith("text/"):
        try:
            text = base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "input_file.file_data is not valid base64 text.", param=where
            ) from None
        return {"type": "text", "media_type": "text/plain", "data": text}
    raise Untranslatable(
        f"input_file of type '{media}' cannot be sent to an Anthropic upstream; it takes PDF "
        "and plain-text documents.",
        param=where,
    )


def _media_of(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith((".txt", ".md", ".csv")):
        return "text/plain"
    return "application/pdf" if name.endswith(".pdf") or not name else "application/octet-stream"


def _data_url(url: str, where: str) -> tuple[str, str]:
    m = _DATA_URL.match(url)
    if m is None:
        raise Untranslatable(
            "Only base64 data: URLs (data:<type>;base64,...) or http(s) URLs can be sent to an "
            "Anthropic upstream.",
            param=where,
        )
    return m.group(1).strip().lower(), m.group(3)


def result_content(output: Any, where: str) -> str | list[Block]:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    blocks = []
    for k, part in enumerate(output if isinstance(output, list) else [output]):
        block = user_block(part, f"{where}[{k}]")
        if block is not None:
            blocks.append(block)
    return blocks


def strip_error_prefix(content: str | list[Block]) -> str | list[Block]:
    """Undo the ``Error: `` a Messages front door writes for clients without an error flag:
    here ``is_error`` carries it."""
    if isinstance(content, str):
        return (
            content.removeprefix("Error:").removeprefix(" ")
            if content.startswith("Error:")
            else content
        )
    if content and content[0]["type"] == "text" and content[0]["text"].startswith("Error:"):
        text = content[0]["text"].removeprefix("Error:").removeprefix(" ")
        return [{**content[0], "text": text}, *content[1:]] if text else content[1:]
    return content


def thinking_block(pd: ProviderData | None) -> Block | None:
    if pd is None or pd.family != FAMILY:
        return None
    data = pd.data
    redacted = data.get("redacted", data.get("redacted_thinking"))
    if isinstance(redacted, str) and redacted:
        return {"type": "redacted_thinking", "data": redacted}
    text, signature = data.get("thinking"), data.get("signature")
    if isinstance(text, str) and isinstance(signature, str) and signature:
        return {"type": "thinking", "thinking": text, "signature": signature}
    return None  # unsigned thinking: Anthropic would refuse it
