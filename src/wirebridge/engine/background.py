"""Background responses (``background: true``): run on after the request returns.

A run is a task owned by this gateway instance, not by the request that started it, so it
survives the client going away. Every event it produces is numbered and appended to the store,
so any instance can replay the stream from any point (``starting_after``); the final Response is
written through ``ResponseState.save`` like any stored response. While it runs, the instance
renews a lease on it; a run whose instance died loses its lease and the store's ``recover``
marks it failed. Cancelling works across instances through the store's cancel flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from wirebridge.engine.pipeline import open_turn
from wirebridge.errors import GatewayError, error_type
from wirebridge.frontends.responses.stream import ResponsesStreamEncoder
from wirebridge.hub import ids
from wirebridge.hub.accumulate import TERMINAL, ResponseBuilder
from wirebridge.hub.request import HubRequest, Item
from wirebridge.store import StoredResponse

log = logging.getLogger("wirebridge")

POLL_SECONDS = 0.2
CANCEL_POLL_SECONDS = 1.0
GC_EVERY = 3600.0
FINAL_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled"})
_TERMINAL_OF = {s: f"response.{s}" for s in ("completed", "incomplete", "failed")}
TERMINAL_WAIT = 5.0  # seconds a final Response's terminal event may take to be stored


class Run:
    """One background response in progress on this instance."""

    def __init__(self, response_id: str) -> None:
        self.id = response_id
        self.task: asyncio.Task[None] | None = None
        self.user_cancelled = False
        self._next: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def next_change(self) -> asyncio.Future[None]:
        """Resolved when events are next stored (or the run ends). Taken before reading the
        stored events, it cannot miss a change made after the read, whoever else is watching."""
        return self._next

    def changed(self) -> None:
        self._next.set_result(None)
        self._next = asyncio.get_running_loop().create_future()


class BackgroundRuns:
    def __init__(self, gateway: Any) -> None:
        self._gw = gateway
        self.instance = os.urandom(8).hex()
        self._runs: dict[str, Run] = {}
        self._shutting_down = False
        self._lease = float(gateway.config.server.background_lease)

    # -- starting ---------------------------------------------------------------------------

    async def start(self, req: HubRequest, new_items: list[Item], owner: str) -> dict[str, Any]:
        """Store the request as ``queued``, start running it, return the queued Response."""
        builder = ResponseBuilder(ids.response_id(), req)
        queued = builder.snapshot("queued")
        await self._gw.state.save(req, new_items, owner, queued)
        await self._gw.state.store.set_lease(builder.id, self.instance, time.time() + self._lease)
        run = Run(builder.id)
        self._runs[run.id] = run
        run.task = asyncio.create_task(self._run(run, req, new_items, owner, builder))
        return queued

    async def _run(
        self,
        run: Run,
        req: HubRequest,
        new_items: list[Item],
        owner: str,
        builder: ResponseBuilder,
    ) -> None:
        store = self._gw.state.store
        enc = ResponsesStreamEncoder(self._gw.config.server.event_dialect)
        renew = asyncio.create_task(self._keep_lease(run))
        try:
            head = [
                {"type": "response.created", "response": builder.snapshot("queued")},
                {"type": "response.queued", "response": builder.snapshot("queued")},
                {"type": "response.in_progress", "response": builder.snapshot()},
            ]
            await self._append(run, enc, head)
            await self._gw.state.save(req, new_items, owner, builder.snapshot())
            await self._generate(run, req, new_items, owner, builder, enc)
        except asyncio.CancelledError:
            await self._end_cancelled(run, req, new_items, owner, builder, enc)
        except GatewayError as e:
            failed = builder.failed(e.code or error_type(e), e.message)
            await self._gw.state.save(req, new_items, owner, failed["response"])
            await self._append(run, enc, [failed])
        except Exception:
            log.exception("background response %s failed", run.id)
            failed = builder.failed("server_error", "The gateway hit an internal error.")
            await self._gw.state.save(req, new_items, owner, failed["response"])
            await self._append(run, enc, [failed])
        finally:
            renew.cancel()
            self._runs.pop(run.id, None)
            run.changed()
            with contextlib.suppress(Exception):
                await store.set_lease(run.id, self.instance, 0.0)

    async def _generate(
        self,
        run: Run,
        req: HubRequest,
        new_items: list[Item],
        owner: str,
        builder: ResponseBuilder,
        enc: ResponsesStreamEncoder,
    ) -> None:
        turn = await open_turn(self._gw, req, stream=True, builder=builder)

        async def persist(response: dict[str, Any]) -> None:
            await self._gw.state.save(req, new_items, owner, response)

        turn.on_finish = persist
        try:
            async for batch in turn.batches():
                await self._append(run, enc, batch)
        finally:
            turn.close()

    async def _end_cancelled(
        self,
        run: Run,
        req: HubRequest,
        new_items: list[Item],
        owner: str,
        builder: ResponseBuilder,
        enc: ResponsesStreamEncoder,
    ) -> None:
        if run.user_cancelled or not self._shutting_down:
            final = builder.finish({"status": "cancelled"})
        else:
            final = builder.finish(
                {
                    "status": "failed",
                    "error": {"code": "server_error", "message": "The gateway shut down."},
                }
            )
        await asyncio.shield(self._gw.state.save(req, new_items, owner, final))

    async def _append(self, run: Run, enc: ResponsesStreamEncoder, events: list[Any]) -> None:
        numbered = [(ev["sequence_number"], ev) for ev in enc.numbered(events)]
        await self._gw.state.store.append_events(run.id, numbered)  # one write a batch
        run.changed()

    async def _keep_lease(self, run: Run) -> None:
        """Renew the lease every third of its life; look for a cancel request every second
        (another instance may have been asked to cancel this run)."""
        store = self._gw.state.store
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            if time.monotonic() - renewed >= self._lease / 3:
                await store.set_lease(run.id, self.instance, time.time() + self._lease)
                renewed = time.monotonic()
            if await store.cancel_requested(run.id) and run.task is not None:
                run.user_cancelled = True
                run.task.cancel()
                return

    # -- cancelling, watching, stopping ----------------------------------------------------------

    async def cancel(self, response_id: str) -> None:
        """Cancel a run here, or flag it for the instance running it; wait a little for it."""
        run = self._runs.get(response_id)
        if run is not None and run.task is not None:
            run.user_cancelled = True
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(run.task)
            return
        await self._gw.state.store.request_cancel(response_id)

    async def events(
        self, response_id: str, owner: str, after: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Stored events after ``after``, then new ones as they come, until the run ends: a
        list of them each time the store is read (the last one ends with the terminal event).

        A run writes its final Response before it stores the terminal batch's events (a stored
        response is written before its terminal event is seen), so a final Response does not
        end the stream: its terminal event follows at once. Only when it never comes (the
        run's instance died between the two writes) is it made from the Response."""
        store = self._gw.state.store
        last = after
        final: StoredResponse | None = None
        final_seen = 0.0
        while True:
            run = self._runs.get(response_id)
            change = run.next_change() if run is not None else None
            stored = await store.events(response_id, last)
            ends = [n for n, ev in enumerate(stored) if ev["type"] in TERMINAL]
            if ends:
                yield stored[: ends[0] + 1]
                return
            if stored:
                last = stored[-1]["sequence_number"]
                yield stored
            if final is not None:  # the events stored since the Response was found final
                if final.status not in _TERMINAL_OF:  # cancelled: no terminal event is stored
                    return
                if time.monotonic() - final_seen > TERMINAL_WAIT:
                    kind = _TERMINAL_OF[final.status]
                    yield [{"type": kind, "response": final.response, "sequence_number": last + 1}]
                    return
            else:
                rec = await store.get(response_id, owner)
                if rec is None:
                    return
                if rec.status in FINAL_STATUSES:
                    final, final_seen = rec, time.monotonic()
                    continue
            await _changed(change)

    async def maintain(self) -> None:
        """Forever: fail runs whose instance died; now and then delete expired responses."""
        store = self._gw.state.store
        every = self._lease / 2
        last_gc = 0.0
        while True:
            try:
                failed = await store.recover(time.time())
                if failed:
                    log.warning("marked %d orphaned background responses failed", len(failed))
                if time.time() - last_gc > GC_EVERY:
                    last_gc = time.time()
                    removed = await store.gc(last_gc)
                    if removed:
                        log.info("deleted %d expired stored responses", removed)
            except GatewayError as e:
                log.warning("store maintenance failed: %s", e)
            await asyncio.sleep(every)

    async def shutdown(self) -> None:
        self._shutting_down = True
        tasks = [r.task for r in self._runs.values() if r.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _changed(change: asyncio.Future[None] | None) -> None:
    """Until ``change`` (a run on this instance stored events), or a while."""
    if change is None:  # the run is elsewhere, or over: poll the store
        await asyncio.sleep(POLL_SECONDS)
        return
    with contextlib.suppress(TimeoutError):  # shielded: other streams wait on it too
        await asyncio.wait_for(asyncio.shield(change), timeout=1.0)
