"""Spreading requests over the keys and targets of a model, and passing over failing ones.

A slot is one (provider, upstream model, key). ``order`` ranks a model's slots for the next
attempt: slots cooling down after a failure go last; the rest rotate (round robin) or go by
fewest requests in flight. State is per process; with several workers each balances its own
share, which is what round robin needs anyway.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route

Slot = tuple[str, str, str | None]


def slot(route: Route) -> Slot:
    return (route.provider.name, route.upstream_model, route.api_key)


class Balancer:
    def __init__(self) -> None:
        self._in_flight: Counter[Slot] = Counter()
        self._cool_until: dict[Slot, float] = {}
        self._turn: Counter[str] = Counter()

    def order(self, model: str, routes: list[Route], strategy: str) -> list[Route]:
        if len(routes) == 1:
            return routes
        now = time.monotonic()
        if strategy == "least_in_flight":
            ranked = sorted(routes, key=lambda r: self._in_flight[slot(r)])
        else:
            start = self._turn[model] % len(routes)
            self._turn[model] += 1
            ranked = routes[start:] + routes[:start]
        return sorted(ranked, key=lambda r: self._cool_until.get(slot(r), 0.0) > now)

    def acquire(self, route: Route) -> None:
        self._in_flight[slot(route)] += 1

    def release(self, route: Route) -> None:
        s = slot(route)
        self._in_flight[s] -= 1
        if self._in_flight[s] <= 0:
            del self._in_flight[s]

    def failed(self, route: Route) -> None:
        if route.provider.cooldown > 0:
            self._cool_until[slot(route)] = time.monotonic() + route.provider.cooldown

    def succeeded(self, route: Route) -> None:
        self._cool_until.pop(slot(route), None)
