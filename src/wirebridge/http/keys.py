"""Typed keys for what the aiohttp app carries."""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.gateway import Gateway

GATEWAY = web.AppKey("gateway", Gateway)
STARTED = web.AppKey("started", float)
