"""A fake server on loopback, in a thread with its own event loop.

Every scripted fake (chat, Responses, Anthropic, ChatGPT) is one of these: it answers on a free
port of 127.0.0.1 while sync and async tests alike talk to it. A subclass only says which routes
it serves (``add_routes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from aiohttp import web

MAX_BODY = 256 * 1024 * 1024


class LoopbackServer:
    host: str = "127.0.0.1"
    port: int | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # report to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        name = type(self).__name__
        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{name} did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        self.add_routes(app.router)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop)
            with contextlib.suppress(Exception):
                fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Any:
        return self.start() if self._loop is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()
