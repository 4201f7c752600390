"""A tiny provider for the CLI tests: ``GET /v1/models`` answers 200 to one api key and 401 to
any other (or none), as a real provider does; ``keyless=True`` answers everyone. Runs an aiohttp
server on a free loopback port in a thread, so it serves both in-process CLI calls (which run
their own event loop) and subprocesses."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class KeyedUpstream:
    def __init__(self, key: str = "sk-good-key", *, keyless: bool = False) -> None:
        self.key = key
        self.keyless = keyless
        self.port = 0
        self.seen: list[str | None] = []  # the Authorization header of each request
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _models(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        self.seen.append(auth)
        if not self.keyless and auth != f"Bearer {self.key}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=401)
        return web.json_response(
            {"object": "list", "data": [{"id": "keyed-model", "object": "model"}]}
        )

    def start(self) -> KeyedUpstream:
        ready = threading.Event()

        async def serve() -> None:
            app = web.Application()
            app.router.add_get("/v1/models", self._models)
            self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            assert site._server is not None
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="keyed-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("KeyedUpstream did not start")
        return self

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> KeyedUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
