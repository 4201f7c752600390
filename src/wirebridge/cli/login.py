"""``wirebridge login chatgpt``: sign in with a ChatGPT plan for ``api: chatgpt`` providers.

Runs the OAuth PKCE flow (``auth/pkce.py``): prints the sign-in URL (and opens a browser unless
``--no-browser``), waits for the browser to come back to ``http://localhost:<port>/auth/callback``,
and writes the tokens to ``auth.json`` in Codex's format — the same file Codex uses, so either
program's sign-in serves both. Settings come from the flags, else from the ``chatgpt:`` section
of ``--provider`` in ``--config``, else Codex's defaults.

Exit codes: 0 signed in, 1 the sign-in failed or timed out, 2 the config or flags are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import webbrowser
from pathlib import Path
from typing import Any

from wirebridge.auth.chatgpt import ChatGPTAuthError, ChatGPTTokens
from wirebridge.auth.pkce import DEFAULT_PORT, DEFAULT_TIMEOUT, LoginFlow, LoginSettings, login
from wirebridge.config import ConfigError, load_config
from wirebridge.upstreams import registry  # noqa: F401 - every upstream's config section
from wirebridge.upstreams.codex import API, DEFAULT_SETTINGS, ChatGPTSettings


def register(sub: Any) -> None:
    p = sub.add_parser("login", help="sign in to a subscription upstream")
    kinds = p.add_subparsers(dest="login_kind", required=True, metavar="UPSTREAM")
    c = kinds.add_parser("chatgpt", help="sign in with ChatGPT (for api: chatgpt providers)")
    c.add_argument("--auth-file", help="where to write the tokens (default: Codex's auth.json)")
    c.add_argument("--issuer", help="OAuth issuer URL (default https://auth.openai.com)")
    c.add_argument("--client-id", help="OAuth client id (default: Codex CLI's)")
    c.add_argument(
        "--port",
        type=int,
        help=f"callback port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    c.add_argument("--no-browser", action="store_true", help="only print the sign-in URL")
    c.add_argument("--config", help="read the chatgpt: section of --provider from this file")
    c.add_argument("--provider", help="the provider (api: chatgpt) whose settings to use")
    c.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the browser (default {DEFAULT_TIMEOUT:g})",
    )
    c.set_defaults(run=run_chatgpt)


def run_chatgpt(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except (ConfigError, ValueError) as e:
        print(f"wirebridge: {e}", file=sys.stderr)
        return 2
    try:
        data = asyncio.run(login(settings, _shower(args.no_browser)))
    except ChatGPTAuthError as e:
        print(f"wirebridge: sign-in failed: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wirebridge: sign-in cancelled", file=sys.stderr)
        return 1
    tokens = ChatGPTTokens.from_file(data, settings.auth_file)
    print(f"Signed in (ChatGPT account {tokens.account_id}); tokens saved to {settings.auth_file}")
    return 0


def _settings(args: argparse.Namespace) -> LoginSettings:
    section = _section(args.config, args.provider)
    port = DEFAULT_PORT if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {port}")
    if args.timeout <= 0:
        raise ValueError("--timeout must be positive")
    issuer = (args.issuer or section.issuer).rstrip("/")
    from_flags = args.issuer is not None  # an --issuer wins over the section's endpoints too
    return LoginSettings(
        auth_file=Path(args.auth_file).expanduser() if args.auth_file else section.auth_path,
        issuer=issuer,
        authorize_endpoint=None if from_flags else section.authorize_url,
        token_url=None if from_flags else section.token_url,
        client_id=args.client_id or section.client_id,
        port=port,
        timeout=args.timeout,
    )


def _section(config: str | None, provider: str | None) -> ChatGPTSettings:
    if config is None:
        if provider is not None:
            raise ValueError("--provider needs --config")
        return DEFAULT_SETTINGS
    cfg = load_config(config)
    chatgpt = [p for p in cfg.providers.values() if p.api == API]
    if provider is not None:
        chosen = cfg.providers.get(provider)
        if chosen is None or chosen.api != API:
            names = ", ".join(p.name for p in chatgpt) or "none"
            raise ValueError(
                f"{config}: no provider {provider!r} with api: {API} (those there are: {names})"
            )
    elif len(chatgpt) == 1:
        chosen = chatgpt[0]
    else:
        names = ", ".join(p.name for p in chatgpt) or "none"
        raise ValueError(f"{config}: name the provider with --provider (api: {API}: {names})")
    found = chosen.sections.get(API)
    return found if isinstance(found, ChatGPTSettings) else DEFAULT_SETTINGS


def _shower(no_browser: bool) -> Any:
    def show(url: str, flow: LoginFlow) -> None:
        print("Sign in with ChatGPT by opening this URL in a browser:\n", flush=True)
        print(f"  {url}\n", flush=True)
        print(
            f"Waiting for the browser to return to {flow.redirect_uri} ... (Ctrl-C to cancel)",
            flush=True,
        )
        if not no_browser:
            webbrowser.open(url)

    return show
