"""``wirebridge doctor``: check everything a gateway run needs, one line per check.

Each line is ``ok <check> — <what was found>`` or ``FAIL <check> — <what to do>``:

* ``config`` — the file (or environment) loads, with the options laid over it;
* ``client-auth`` — not listening beyond loopback without client keys (``serve`` refuses that);
* ``provider <name>`` — ``GET {base_url}/models`` answers 2xx with each of its keys (401/403:
  the key is rejected; anything else non-2xx or no answer is a failure too, with its cause);
* ``credentials <name>`` — a key is set where the provider wants one (asked by the same request
  without a key when none is set); for ``api: chatgpt`` the sign-in file exists and holds tokens;
* ``store`` — the response store opens and answers a ping;
* ``port`` — the port is free, or held by this gateway's own running daemon.

Nothing is skipped silently: when the config does not load, one more FAIL line says what was
not checked. Without server options, the options the last ``start`` saved are checked (what
``restart`` would run). Exit code 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import aiohttp

from wirebridge.cli import options
from wirebridge.cli.options import DaemonFiles, ServeOptions
from wirebridge.cli.probe import Probe, probe_models
from wirebridge.config import ConfigError
from wirebridge.config.model import Config, ProviderConfig

PROBE_TIMEOUT = 5.0
CHATGPT_API = "chatgpt"


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    name: str
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'} {self.name} — {self.detail}"


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check config, providers, keys, store and port")
    options.add_server_options(p, workers=False)
    options.add_file_options(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=PROBE_TIMEOUT,
        metavar="SECONDS",
        help=f"per provider request (default {PROBE_TIMEOUT:g})",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wirebridge.cli.process import read_state

    files = DaemonFiles.from_args(args)
    state = read_state(files.state)
    files = files.with_saved(args, state)
    opts = ServeOptions.from_args(args)
    saved = ServeOptions.from_json(state.get("options"))
    given = any(getattr(opts, f.name) not in (None, ()) for f in fields(opts))
    if not given and saved != ServeOptions():
        opts = saved
        print(f"checking the options the last start saved in {files.state}")
    checks = list(_config_checks(opts, files, state, args.timeout))
    for check in checks:
        print(check.line(), flush=True)
    failed = sum(not c.ok for c in checks)
    if failed:
        print(f"{failed} of {len(checks)} checks failed")
        return 1
    print(f"all {len(checks)} checks passed")
    return 0


def _config_checks(
    opts: ServeOptions, files: DaemonFiles, state: dict[str, Any], timeout: float
) -> Iterable[Check]:
    try:
        config = options.load(opts)
    except ConfigError as e:
        yield Check(False, "config", f"{e} — fix it and run `wirebridge config check`")
        yield Check(
            False,
            "not-checked",
            "providers, credentials, store and port need a config that loads",
        )
        return
    yield Check(True, "config", _config_summary(config))
    yield _client_auth(config)
    options.apply_proxy(opts.proxy)
    yield from asyncio.run(_async_checks(config, timeout))
    yield _port(config, files, state)


def _config_summary(config: Config) -> str:
    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    return (
        f"{config.source or 'environment'}: "
        f"{count(len(config.providers), 'provider', 'providers')}, "
        f"{count(len(config.models), 'model', 'models')}, "
        f"{count(len(config.aliases), 'alias', 'aliases')}"
    )


def _client_auth(config: Config) -> Check:
    from wirebridge.cli.serve import bind_refusal, is_loopback

    server = config.server
    if is_loopback(server.host):
        return Check(True, "client-auth", f"{server.host} is loopback: only this machine connects")
    if server.api_keys:
        n = len(server.api_keys)
        return Check(True, "client-auth", f"{n} static client key(s) for {server.host}")
    refusal = bind_refusal(config)
    if refusal is None:
        return Check(True, "client-auth", f"managed client keys protect {server.host}")
    return Check(False, "client-auth", refusal)


async def _async_checks(config: Config, timeout: float) -> list[Check]:
    out: list[Check] = []
    if not config.providers:
        out.append(
            Check(
                False,
                "providers",
                "none configured, so every request fails — add providers: to the config "
                "or set a provider variable such as OPENAI_API_KEY",
            )
        )
    async with _session() as session:
        results = await asyncio.gather(
            *(_provider(session, p, timeout) for p in config.providers.values())
        )
    for pair in results:
        out.extend(pair)
    out.append(await _store(config))
    return out


def _session() -> aiohttp.ClientSession:
    # trust_env: HTTPS_PROXY / NO_PROXY apply as they do to the gateway's own session.
    return aiohttp.ClientSession(trust_env=True)


# -- providers ---------------------------------------------------------------------------------


async def _provider(
    session: aiohttp.ClientSession, p: ProviderConfig, timeout: float
) -> tuple[Check, Check]:
    if p.api == CHATGPT_API:
        return await _chatgpt(session, p, timeout)
    keys = [k for k in p.keys if k]
    if not keys:
        probe = await probe_models(session, p, None, timeout)
        return _provider_check(p, [(None, probe)]), _keyless_credentials(p, probe)
    probes = await asyncio.gather(*(probe_models(session, p, k, timeout) for k in keys))
    n = len(keys)
    creds = Check(True, f"credentials {p.name}", f"{n} api key{'' if n == 1 else 's'} set")
    return _provider_check(p, list(zip(keys, probes, strict=True))), creds


def _provider_check(p: ProviderConfig, probes: Sequence[tuple[str | None, Probe]]) -> Check:
    name = f"provider {p.name}"
    many = len(probes) > 1
    for i, (key, probe) in enumerate(probes):
        which = f"key {i + 1} of {len(probes)} ({_tail(key)}) " if many else ""
        if probe.status is None:
            return Check(
                False,
                name,
                f"cannot reach {probe.url}: {probe.error} — check base_url, the proxy "
                "settings and that the server is up",
            )
        if probe.rejected:
            fix = (
                f"set a valid api_key for {p.name}"
                if key
                else f"{p.name} wants an api key: set api_key"
            )
            return Check(
                False, name, f"{which}rejected: {probe.url} answered HTTP {probe.status} — {fix}"
            )
        if not probe.ok:
            return Check(
                False, name, f"{which}{probe.url} answered HTTP {probe.status}{_hint(probe)}"
            )
    probe = probes[0][1]
    n = len(probe.models)
    found = f"{n} model{'' if n == 1 else 's'}" if probe.listed else "not a model list"
    keys = f", {len(probes)} keys accepted" if many else ""
    return Check(True, name, f"{probe.url} answered {probe.status} ({found}){keys}")


def _hint(probe: Probe) -> str:
    if probe.status in (404, 405):
        return " — is base_url right? (OpenAI-compatible APIs usually end in /v1)"
    if probe.status == 429:
        return " — rate limited, so the key could not be checked: run doctor again later"
    if probe.status is not None and probe.status >= 500:
        return " — the provider has a problem: try again later"
    return " — check base_url and the provider's headers"


def _keyless_credentials(p: ProviderConfig, probe: Probe) -> Check:
    name = f"credentials {p.name}"
    if probe.rejected:
        return Check(
            False,
            name,
            f"no api key set and {probe.url} wants one (HTTP {probe.status}) — set "
            f"providers.{p.name}.api_key (e.g. api_key: ${{{p.name.upper()}_API_KEY}})",
        )
    if probe.ok:
        return Check(True, name, "no api key set, and none needed: /models answered without one")
    return Check(
        False,
        name,
        "no api key set, and whether one is needed could not be checked (see the provider "
        "line) — set api_key if the provider wants one",
    )


async def _chatgpt(
    session: aiohttp.ClientSession, p: ProviderConfig, timeout: float
) -> tuple[Check, Check]:
    """A ChatGPT plan has no api key: its sign-in file is the credential, and the backend is
    only checked for an answer (its model list wants a fresh token)."""
    from wirebridge.auth.chatgpt import ChatGPTAuthError, ChatGPTTokens, read_auth_file
    from wirebridge.upstreams.codex import DEFAULT_SETTINGS, ChatGPTSettings

    settings = p.sections.get(CHATGPT_API)
    if not isinstance(settings, ChatGPTSettings):
        settings = DEFAULT_SETTINGS
    path = settings.auth_path
    try:
        tokens = ChatGPTTokens.from_file(read_auth_file(path), path)
        creds = Check(
            True, f"credentials {p.name}", f"ChatGPT sign-in {path} (account {tokens.account_id})"
        )
    except ChatGPTAuthError as e:
        creds = Check(
            False, f"credentials {p.name}", f"{e.message} — run `wirebridge login chatgpt`"
        )
    probe = await probe_models(session, p, None, timeout)
    name = f"provider {p.name}"
    if probe.status is None:
        fix = "check base_url and the proxy settings"
        return Check(False, name, f"cannot reach {probe.url}: {probe.error} — {fix}"), creds
    return (
        Check(True, name, f"{probe.url} answered {probe.status} (sign-in checked separately)"),
        creds,
    )


def _tail(key: str | None) -> str:
    if not key:
        return "no key"
    return f"…{key[-4:]}" if len(key) > 8 else "…"


# -- store and port ----------------------------------------------------------------------------


async def _store(config: Config) -> Check:
    from wirebridge.cli.daemon import store_text
    from wirebridge.store import StoreError, open_store

    what = store_text(config)
    try:
        store = await open_store(config.store)
        try:
            await store.ping()
        finally:
            await store.close()
    except StoreError as e:
        return Check(False, "store", f"{e} — check the store: section and that the server is up")
    return Check(True, "store", what)


def _port(config: Config, files: DaemonFiles, state: dict[str, Any]) -> Check:
    from wirebridge.cli.process import running_pid
    from wirebridge.cli.sockets import check_port_free

    host, port = config.server.host, config.server.port
    where = f"{host}:{port}"
    try:
        check_port_free(host, port)
    except OSError as e:
        pid = running_pid(files.pid)
        ours = pid is not None and state.get("port") == port and state.get("host") == host
        if e.errno == errno.EADDRINUSE and ours:
            return Check(True, "port", f"{where} is in use by this gateway's daemon (pid {pid})")
        fix = (
            "stop whatever listens there or pick another --port"
            if e.errno == errno.EADDRINUSE
            else "pick an address of this machine"
        )
        why = e.strerror or str(e)
        return Check(False, "port", f"cannot listen on {where}: {why} — {fix}")
    return Check(True, "port", f"{where} is free")
