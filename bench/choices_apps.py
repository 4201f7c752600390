"""The trivial JSON echo server of ``bench/choices.py``, on each HTTP server candidate.

Every variant reads the POST body, parses it with orjson, and answers it re-encoded with
orjson, so the difference between them is the server and framework, not the JSON library.

    python bench/choices_apps.py aiohttp PORT            # aiohttp.web + uvloop
    uvicorn choices_apps:starlette_app ...               # Starlette on uvicorn
    granian --interface asgi choices_apps:starlette_app  # Starlette on granian
    granian --interface asgi choices_apps:asgi_app       # bare ASGI on granian
    granian --interface rsgi choices_apps:rsgi_app       # granian's own RSGI interface
"""

from __future__ import annotations

import sys
from typing import Any

import orjson


def aiohttp_main(port: int) -> None:
    import asyncio

    import uvloop
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_post("/echo", echo)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _starlette() -> Any:
    try:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route
    except ImportError:  # not in the gateway's own venv: only the choices venv has it
        return None

    async def echo(request: Request) -> Response:
        body = orjson.loads(await request.body())
        return Response(orjson.dumps(body), media_type="application/json")

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


starlette_app = _starlette()

_HEADERS = [(b"content-type", b"application/json")]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    out = orjson.dumps(orjson.loads(b"".join(chunks)))
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": out})


async def rsgi_app(scope: Any, proto: Any) -> None:
    body = await proto()
    proto.response_bytes(
        200, [("content-type", "application/json")], orjson.dumps(orjson.loads(body))
    )


if __name__ == "__main__":
    if sys.argv[1] == "aiohttp":
        aiohttp_main(int(sys.argv[2]))
