"""The ChatGPT / Codex subscription upstream (``api: chatgpt``) and its ``chatgpt:`` section.

The backend behind a ChatGPT plan (``https://chatgpt.com/backend-api/codex``) speaks the
Responses API, so requests are encoded and streams decoded by ``upstreams/responses``; what is
different lives in ``adapter.py``: OAuth tokens from Codex's ``auth.json`` instead of an API key,
always streaming, ``store: false``, instruction injection, and parameters the backend refuses.

A provider's ``chatgpt:`` section (all keys optional)::

    providers:
      chatgpt:
        api: chatgpt                 # base_url defaults to https://chatgpt.com/backend-api/codex
        chatgpt:
          auth_file: ~/.codex/auth.json   # default: $CODEX_HOME/auth.json, else ~/.codex/auth.json
          issuer: https://auth.openai.com # authorize_url and token_url default to <issuer>/oauth/…
          authorize_url: ...              # used by `wirebridge login chatgpt --config`
          token_url: ...                  # where tokens are refreshed
          client_id: app_...              # default: Codex CLI's public OAuth client
          refresh_margin_seconds: 300     # refresh this long before the access token expires
          instructions_mode: append       # override | append | disabled
          instructions: "..."             # inline text, or
          instructions_file: prompt.md    # text from a file (relative to the config file)
          params: propagate               # propagate (drop refused ones) | block (400)

``instructions_mode``: ``override`` sends the configured text as ``instructions`` and moves the
client's own instructions to a leading ``developer`` message (nothing is dropped); ``append``
sends the configured text followed by the client's; ``disabled`` sends the client's unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wirebridge.auth.chatgpt import (
    CODEX_CLIENT_ID,
    DEFAULT_ISSUER,
    DEFAULT_REFRESH_MARGIN,
    default_auth_file,
)
from wirebridge.config.errors import Where
from wirebridge.config.sections import DEFAULT_BASE_URLS, Section, register
from wirebridge.config.values import (
    check_keys,
    choice,
    http_url,
    mapping,
    optional,
    positive_number,
    string,
)

API = "chatgpt"
DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
INSTRUCTION_MODES = ("override", "append", "disabled")
PARAM_MODES = ("propagate", "block")
_KEYS = (
    *("auth_file", "issuer", "authorize_url", "token_url", "client_id"),
    *("refresh_margin_seconds", "instructions_mode", "instructions", "instructions_file"),
    "params",
)


@dataclass(frozen=True, slots=True)
class ChatGPTSettings:
    auth_file: Path | None = None  # None: default_auth_file() when the gateway starts
    issuer: str = DEFAULT_ISSUER
    authorize_url: str | None = None  # None: <issuer>/oauth/authorize
    token_url: str | None = None  # None: <issuer>/oauth/token
    client_id: str = CODEX_CLIENT_ID
    refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN
    instructions_mode: str = "append"
    instructions: str | None = None  # the configured text (inline or read from a file)
    params: str = "propagate"

    @property
    def auth_path(self) -> Path:
        return self.auth_file or default_auth_file()

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.issuer.rstrip("/") + "/oauth/token"

    @property
    def authorize_endpoint(self) -> str:
        return self.authorize_url or self.issuer.rstrip("/") + "/oauth/authorize"


DEFAULT_SETTINGS = ChatGPTSettings()


def parse_settings(raw: object, at: Where) -> ChatGPTSettings:
    data = mapping(raw, at)
    check_keys(data, at, _KEYS)
    base = _base_dir(at)
    if data.get("instructions") is not None and data.get("instructions_file") is not None:
        raise at.key("instructions_file").error("give instructions or instructions_file, not both")
    text = optional(data, at, "instructions", _text, None)
    if data.get("instructions_file") is not None:
        text = _read_text(data["instructions_file"], at.key("instructions_file"), base)
    mode = optional(data, at, "instructions_mode", _instruction_mode, "append")
    if mode == "override" and not text:
        raise at.key("instructions_mode").error(
            "override needs the text to send: set instructions or instructions_file"
        )
    d = DEFAULT_SETTINGS
    return ChatGPTSettings(
        auth_file=optional(data, at, "auth_file", lambda v, w: _path(v, w, base), None),
        issuer=optional(data, at, "issuer", http_url, d.issuer),
        authorize_url=optional(data, at, "authorize_url", _url, None),
        token_url=optional(data, at, "token_url", _url, None),
        client_id=optional(data, at, "client_id", _stripped, d.client_id),
        refresh_margin_seconds=optional(
            data, at, "refresh_margin_seconds", _seconds, d.refresh_margin_seconds
        ),
        instructions_mode=mode,
        instructions=text,
        params=optional(data, at, "params", lambda v, w: choice(v, w, PARAM_MODES), d.params),
    )


def _base_dir(at: Where) -> Path | None:
    """Relative paths are relative to the config file, as elsewhere in the config."""
    file = Path(at.file)
    return file.absolute().parent if file.is_file() else None


def _path(value: object, at: Where, base: Path | None) -> Path:
    path = Path(string(value, at).strip()).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _read_text(value: object, at: Where, base: Path | None) -> str:
    path = _path(value, at, base)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise at.error(f"cannot read {path}: {e.strerror or e}") from None
    if not text.strip():
        raise at.error(f"{path} is empty")
    return text


def _text(value: object, at: Where) -> str:
    return string(value, at)


def _stripped(value: object, at: Where) -> str:
    return string(value, at).strip()


def _url(value: object, at: Where) -> str:
    """A full endpoint URL (a query is allowed here, unlike a base URL)."""
    text = string(value, at).strip()
    if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
        raise at.error(f"must be an http:// or https:// URL, got {value!r}")
    return text


def _seconds(value: object, at: Where) -> float:
    if value == 0:
        return 0.0
    return positive_number(value, at)


def _instruction_mode(value: object, at: Where) -> str:
    return choice(value, at, INSTRUCTION_MODES)


register(API, Section(parse=parse_settings, apis=(API,)))
DEFAULT_BASE_URLS[API] = DEFAULT_BASE_URL
