"""Input token counts for ``POST /v1/responses/input_tokens``, without calling an upstream.

**Which count.** The model that would serve the request decides: the route's upstream model
when the name routes, else the name itself (an ``org/`` prefix and ``ft:`` are ignored).

* OpenAI families — names starting ``gpt-``, ``o1``, ``o3``, ``o4``, ``chatgpt-`` or ``codex`` —
  are counted with OpenAI's real BPE: ``cl100k_base`` for ``gpt-3.5*`` and ``gpt-4`` /
  ``gpt-4-*`` (not ``gpt-4o``, ``gpt-4.1``, ``gpt-4.5``), ``o200k_base`` for all the others,
  as tiktoken maps them. The ranks ship inside the ``bpe-openai`` wheel (byte-identical to
  OpenAI's published ``.tiktoken`` files), so nothing is downloaded at run time; the tokenizer
  is loaded on first use (o200k_base: about 80 ms and 35 MB; cl100k_base: half that).
* Every other model is an **estimate**: 4 characters a token, rounded up per text, which is
  close for English prose and code and low for CJK text. Other vendors' tokenizers are not
  available offline.

**What is counted.** The framing is OpenAI's published recipe for chat models (the cookbook's
"How to count tokens with tiktoken", whose examples it reproduces to the token); OpenAI's own
Responses endpoint may frame items slightly differently, so even a BPE count can be a few tokens
off theirs.

* ``instructions`` and every message: 3 tokens of framing, the role, and the text of its parts;
  tool calls (name and arguments or raw input), tool outputs, the summary a ``compaction`` item
  stands for, and reasoning text that would be replayed to the upstream's provider family;
* 3 tokens priming the reply;
* tools: OpenAI's function-counting recipe (``name:description`` and ``key:type:description``
  per property, enum values, fixed framing); a custom tool counts its description and grammar;
* a JSON-schema ``text.format``: its schema as compact JSON;
* fixed estimates for what cannot be tokenised: an image 85 tokens at ``detail: low``, else 765
  (a 1024x1024 image at high detail); a file 2,000; audio 1,000. Reasoning blobs another vendor
  encrypted are opaque and count nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import orjson

from wirebridge.hub.compaction import summary_text
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.tools import HubTool

log = logging.getLogger("wirebridge")

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 3  # <|start|>{role}<|message|> … <|end|>, less the role itself
REPLY_PRIMING = 3  # <|start|>assistant<|message|>
IMAGE_LOW_TOKENS = 85
IMAGE_TOKENS = 765
FILE_TOKENS = 2_000
AUDIO_TOKENS = 1_000

OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "codex")
_CL100K_PREFIXES = ("gpt-3.5", "gpt-35", "gpt-4-")

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})


@dataclass(frozen=True, slots=True)
class Tokenizer:
    """Counts the tokens of one text. ``encoding`` is a BPE name or ``"estimate"``."""

    encoding: str
    count: Callable[[str], int]

    @property
    def exact(self) -> bool:
        return self.encoding != "estimate"


def estimate(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


ESTIMATE = Tokenizer("estimate", estimate)


def encoding_for(model: str) -> str | None:
    """The BPE an OpenAI model uses, or ``None`` for other vendors' models."""
    name = model.lower().removeprefix("ft:").rpartition("/")[2]
    if not name.startswith(OPENAI_PREFIXES):
        return None
    if name == "gpt-4" or name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def tokenizer_for(model: str) -> Tokenizer:
    encoding = encoding_for(model)
    if encoding is None:
        return ESTIMATE
    count = _bpe(encoding)
    return ESTIMATE if count is None else Tokenizer(encoding, count)


@functools.cache
def _bpe(encoding: str) -> Callable[[str], int] | None:
    try:
        return _load_bindings().tokenizer_for_encoding(encoding).count
    except Exception as exc:  # not installed for this platform, or a broken install
        log.warning("BPE tokenizer %s unavailable (%s); counting estimates instead", encoding, exc)
        return None


def _load_bindings() -> Any:
    """``bpe_openai``'s Rust extension, whose ranks are compiled in. Loaded by itself when it
    can be: the package's ``__init__`` decodes every rank file in Python first (0.5 s, 70 MB)
    for an API this module does not use."""
    name = "bpe_openai._bindings"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("bpe_openai")  # finds the package without running it
    places = (spec.submodule_search_locations or ()) if spec is not None else ()
    for path in (Path(p) / f"_bindings{s}" for p in places for s in EXTENSION_SUFFIXES):
        ext = importlib.util.spec_from_file_location(name, path) if path.is_file() else None
        if ext is not None and ext.loader is not None:
            module = importlib.util.module_from_spec(ext)
            ext.loader.exec_module(module)
            sys.modules[name] = module  # a later ``import bpe_openai`` reuses it
            return module
    from bpe_openai import _bindings

    return _bindings


# -- counting ----------------------------------------------------------------------------------


def count_input_tokens(req: HubRequest, tok: Tokenizer, reasoning_family: str | None = None) -> int:
    """Tokens of ``req``'s instructions, input (history included) and tools. Reasoning text is
    counted only for ``reasoning_family``: the provider family that would be sent it."""
    c = tok.count
    total = REPLY_PRIMING
    if req.instructions:
        total += MESSAGE_OVERHEAD + c("system") + c(req.instructions)
    total += sum(_item(item, c, reasoning_family) for item in req.input)
    total += count_tools(req.tools.tools, tok)
    fmt = req.text_format
    if fmt is not None and fmt.get("type") == "json_schema":
        total += c(str(fmt.get("name") or "")) + _json(fmt.get("schema"), c)
    return total


def _item(item: Item, c: Callable[[str], int], reasoning_family: str | None) -> int:
    kind = item.get("type", "message")
    if kind == "message":
        role = str(item.get("role") or "user")
        return MESSAGE_OVERHEAD + c(role) + _content(item.get("content"), c)
    if kind == "function_call":
        return MESSAGE_OVERHEAD + _text(item.get("name"), c) + _text(item.get("arguments"), c)
    if kind == "custom_tool_call":
        return MESSAGE_OVERHEAD + _text(item.get("name"), c) + _text(item.get("input"), c)
    if kind in ("function_call_output", "custom_tool_call_output"):
        return MESSAGE_OVERHEAD + _content(item.get("output"), c)
    if kind == "compaction":
        text = summary_text(item)
        return MESSAGE_OVERHEAD + c("user") + (c(text) if text else 0)
    if kind == "reasoning":
        return _reasoning(item, c, reasoning_family)
    return 0


def _reasoning(item: Item, c: Callable[[str], int], family: str | None) -> int:
    pd = item.get("_provider")
    if pd is None or family is None or pd.family != family:
        return 0  # not replayed to this upstream (or opaque)
    text = pd.data.get("reasoning_content")
    return c(text) if isinstance(text, str) else 0


def _content(content: Any, c: Callable[[str], int]) -> int:
    if isinstance(content, str):
        return c(content)
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return 0
    return sum(_part(p, c) for p in content if isinstance(p, dict))


def _part(part: dict[str, Any], c: Callable[[str], int]) -> int:
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return _text(part.get("text"), c)
    if kind == "refusal":
        return _text(part.get("refusal"), c)
    if kind == "input_image":
        return IMAGE_LOW_TOKENS if part.get("detail") == "low" else IMAGE_TOKENS
    if kind == "input_file":
        return FILE_TOKENS
    if kind == "input_audio":
        return AUDIO_TOKENS
    return 0


def _text(value: Any, c: Callable[[str], int]) -> int:
    return c(value) if isinstance(value, str) and value else 0


def _json(value: Any, c: Callable[[str], int]) -> int:
    return 0 if value is None else c(orjson.dumps(value).decode())


# -- tools: OpenAI's function-counting recipe -------------------------------------------------

FUNC_END = 12
PROP_INIT = 3
PROP_KEY = 3
ENUM_INIT = -3
ENUM_ITEM = 3
_PROP_COUNTED = frozenset({"type", "description", "enum"})


def count_tools(tools: Iterable[HubTool], tok: Tokenizer) -> int:
    tools = list(tools)
    if not tools:
        return 0
    c = tok.count
    func_init = 10 if tok.encoding == "cl100k_base" else 7
    total = FUNC_END
    for tool in tools:
        total += func_init + c(f"{tool.wire_name}:{(tool.description or '').removesuffix('.')}")
        if tool.kind == "custom":
            fmt = tool.format or {}
            total += _text(fmt.get("definition"), c)
            continue
        props = (tool.parameters or {}).get("properties")
        if isinstance(props, dict) and props:
            total += PROP_INIT + sum(_property(k, v, c) for k, v in props.items())
    return total


def _property(key: str, schema: Any, c: Callable[[str], int]) -> int:
    if not isinstance(schema, dict):
        return PROP_KEY + c(key)
    total = PROP_KEY
    enum = schema.get("enum")
    if isinstance(enum, list):
        total += ENUM_INIT + sum(ENUM_ITEM + c(str(v)) for v in enum)
    desc = str(schema.get("description") or "").removesuffix(".")
    kind = schema.get("type")
    kind_text = (
        kind if isinstance(kind, str) else "" if kind is None else orjson.dumps(kind).decode()
    )
    total += c(f"{key}:{kind_text}:{desc}")
    rest = {k: v for k, v in schema.items() if k not in _PROP_COUNTED}
    return total + (_json(rest, c) if rest else 0)
