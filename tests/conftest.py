"""Shared fixtures.

* ``fake_chat_server`` (session) — one :class:`~tests.support.fake_chat.FakeChat` for the run.
* ``fake_chat`` — the same server, reset (script, records) before and after each test.
* ``gateway`` (module) — a wirebridge process over ``fake_chat_server`` with the default config
  (models ``fake-model`` and ``gpt-5.5``); ``.base_url``, ``.url("/v1")``, ``.log_text()``.
* ``start_gateway(config_text_or_dict, env=None)`` — start another gateway for this test only
  (a dict is dumped as YAML with ``server.listen_addr`` filled in; text may use ``{{port}}``);
  ``gateway_config(**server)`` gives the default config as a dict to modify.
* ``openai_client`` / ``async_openai_client`` — the official SDK pointed at ``gateway``.

When a test fails, the log lines each gateway it used wrote during the test are attached to the
report as a "gateway log" section.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_chat import FakeChat
from tests.support.gateway import Gateway, default_config


@pytest.fixture(scope="session")
def fake_chat_server() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_chat(fake_chat_server: FakeChat) -> Iterator[FakeChat]:
    fake_chat_server.reset()
    yield fake_chat_server
    fake_chat_server.reset()


@pytest.fixture
def gateway_config(fake_chat_server: FakeChat) -> Callable[..., dict[str, Any]]:
    def make(**server: Any) -> dict[str, Any]:
        return default_config(fake_chat_server.base_url, **server)

    return make


@pytest.fixture(scope="module")
def gateway(
    fake_chat_server: FakeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("gateway")
    gw = Gateway.start(default_config(fake_chat_server.base_url), workdir)
    try:
        yield gw
    finally:
        gw.stop()


class GatewayFactory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.gateways: list[Gateway] = []

    def __call__(self, config: str | dict[str, Any], env: dict[str, str] | None = None) -> Gateway:
        gw = Gateway.start(config, self.root / f"gw{len(self.gateways)}", env=env)
        self.gateways.append(gw)
        return gw

    def stop_all(self) -> None:
        for gw in self.gateways:
            gw.stop()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def openai_client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        base_url=gateway.url("/v1"), api_key="sk-client", max_retries=0, timeout=30
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def async_openai_client(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(
        base_url=gateway.url("/v1"), api_key="sk-client", max_retries=0, timeout=30
    )
    try:
        yield client
    finally:
        await client.close()


# -- attach gateway logs to failing tests ------------------------------------------------------


def _gateways_of(item: pytest.Item) -> list[Gateway]:
    found: list[Gateway] = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Gateway):
            found.append(value)
        elif isinstance(value, GatewayFactory):
            found.extend(value.gateways)
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    item.stash[_LOG_MARKS] = {id(gw): gw.log_size() for gw in _gateways_of(item)}
    return (yield)


_LOG_MARKS = pytest.StashKey[dict[int, int]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.failed:
        marks = item.stash.get(_LOG_MARKS, {})
        for n, gw in enumerate(_gateways_of(item)):
            text = gw.log_text(since=marks.get(id(gw), 0))
            state = "running" if gw.alive else f"exited {gw.proc.returncode}"
            title = f"gateway log #{n} (port {gw.port}, {state}, {gw.log_path})"
            report.sections.append((title, text or "(nothing logged during this test)"))
    return report
