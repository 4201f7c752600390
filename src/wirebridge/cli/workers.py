"""``wirebridge serve --workers N``: N forked worker processes serving one port.

The process that runs ``serve`` becomes a supervisor. It checks the port is free, opens one
listening socket per worker *slot* with ``SO_REUSEPORT`` and keeps them open, then forks the
workers; worker *i* serves slot *i*'s socket with its own event loop, ``Gateway``, upstream
connection pool and store connection. The kernel spreads new connections over the slots'
sockets by a hash of their addresses.

The supervisor forwards SIGTERM, SIGINT and SIGHUP to the workers as SIGTERM (a second signal
kills them), restarts a worker that dies (backing off when one keeps dying young), and exits
when asked or when a worker cannot start at all. Workers ignore SIGINT themselves, so Ctrl-C in
a terminal, which signals the whole process group, stops them once, through the supervisor.
With ``PROMETHEUS_MULTIPROC_DIR`` set, the supervisor removes every dead worker's live gauges
(streams in flight), which a killed worker cannot remove itself.

Why slots, measured on the 2-core development machine (wrk, 2 workers, aiohttp + uvloop):

* one socket bound before forking and shared by all workers: whichever worker wakes first
  accepts a whole burst of connections, and keep-alive clients stay where they landed — in 3 of
  about 13 runs of ``wrk -c16`` one worker served everything and the other nothing;
* ``SO_REUSEPORT`` sockets bound by each worker: never lopsided (36/64 at worst), but a worker
  that dies takes its socket's accept queue with it (13 to 28 connections reset per SIGKILL under
  ``wrk -c32`` without keep-alive, against 2 to 20 for the shared socket);
* ``SO_REUSEPORT`` sockets held by the supervisor (this design): balanced like the second, and a
  dead worker's queue waits in the socket the supervisor still holds until its replacement
  accepts it (2 or 3 resets per SIGKILL: only the requests in flight). Throughput was the same
  within the noise of a shared machine (about 12k to 15k ``/health`` req/s with 2 workers).

Without ``SO_REUSEPORT`` (not Linux) all slots share one socket bound before forking.

Each worker has its own ``memory`` store, if that backend is chosen: a ``previous_response_id``
made on one worker is unknown to the others (the supervisor warns). The sealing key is created
before forking so that every worker seals with the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from wirebridge.cli.options import listen_url
from wirebridge.cli.sockets import BACKLOG, listen
from wirebridge.config.model import Config
from wirebridge.config.paths import state_dir

log = logging.getLogger("wirebridge")

SHUTDOWN_TIMEOUT = 25.0  # seconds in-flight requests get to finish after SIGTERM
TICK = 0.2  # seconds between supervisor checks when no signal comes
QUICK_EXIT = 5.0  # a worker dying within this long of starting counts as failing
MAX_FAILURES = 5  # consecutive quick failures of one slot before the supervisor gives up
STOP_GRACE = SHUTDOWN_TIMEOUT + 5.0  # workers still alive this long after SIGTERM are killed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_READY = struct.Struct("!HI")  # slot index, worker pid: one atomic pipe write per ready worker
Mask = set[int | signal.Signals]  # what pthread_sigmask returns


@dataclass
class Slot:
    index: int
    socks: list[socket.socket]
    pid: int | None = None
    started: float = 0.0
    ready: bool = False
    ever_ready: bool = False
    failures: int = 0  # consecutive quick failures
    respawn_at: float | None = None


@dataclass
class Supervisor:
    config: Config
    slots: list[Slot]
    # Runs in the forked worker: serves the slot, calls ready() once serving, returns the code.
    serve: Callable[[Slot, Callable[[], None]], int]
    stopping: bool = False
    exit_code: int = 0
    kill_at: float = 0.0
    announced: bool = False
    _ready_r: int = -1
    _ready_w: int = -1
    _buffer: bytes = b""

    def run(self) -> int:
        watched = {*STOP_SIGNALS, signal.SIGCHLD}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        self._ready_r, self._ready_w = os.pipe()
        os.set_blocking(self._ready_r, False)
        try:
            for slot in self.slots:
                self._spawn(slot, old_mask)
            while self._live() or not self.stopping:
                info = signal.sigtimedwait(watched, TICK)
                if info is not None and info.si_signo != signal.SIGCHLD:
                    self._on_signal(info.si_signo)
                self._read_ready()
                self._reap()
                self._respawn_due(old_mask)
                if self.stopping and self._live() and time.monotonic() >= self.kill_at:
                    log.warning("workers still running %.0f s after SIGTERM: killing", STOP_GRACE)
                    self._signal_all(signal.SIGKILL)
                    self.kill_at = float("inf")
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            os.close(self._ready_r)
            os.close(self._ready_w)
            self._close_sockets()
        log.info("wirebridge stopped")
        return self.exit_code

    # -- workers -------------------------------------------------------------------------------

    def _spawn(self, slot: Slot, mask: Mask) -> None:
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._worker(slot, mask, parent)
        slot.pid, slot.started, slot.ready, slot.respawn_at = pid, time.monotonic(), False, None

    def _worker(self, slot: Slot, mask: Mask, parent: int) -> NoReturn:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor forwards it
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _die_with(parent)
            os.close(self._ready_r)
            mine = {id(s) for s in slot.socks}
            for other in self.slots:
                for s in other.socks:
                    if id(s) not in mine:
                        s.close()
            code = self.serve(slot, self._ready_callback(slot))
        except BaseException:
            log.exception("worker %d (pid %d) failed", slot.index, os.getpid())
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _ready_callback(self, slot: Slot) -> Callable[[], None]:
        """Run in the worker once its sockets are served: tells the supervisor it is up."""

        def ready() -> None:
            os.write(self._ready_w, _READY.pack(slot.index, os.getpid()))

        return ready

    def _read_ready(self) -> None:
        try:
            self._buffer += os.read(self._ready_r, 4096)
        except BlockingIOError:
            return
        while len(self._buffer) >= _READY.size:
            index, pid = _READY.unpack_from(self._buffer)
            self._buffer = self._buffer[_READY.size :]
            slot = self.slots[index] if index < len(self.slots) else None
            if slot is not None and slot.pid == pid:
                slot.ready = slot.ever_ready = True
                log.debug("worker %d (pid %d) ready", index, pid)
        if not self.announced and all(s.ready for s in self.slots):
            self.announced = True
            server = self.config.server
            pids = ", ".join(str(s.pid) for s in self.slots)
            log.info(
                "wirebridge listening on %s with %d workers (pids %s; supervisor %d; config: %s)",
                listen_url(server.host, server.port),
                len(self.slots),
                pids,
                os.getpid(),
                self.config.source,
            )

    def _reap(self) -> None:
        self._read_ready()  # a worker that said it was ready and then died did get ready
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            _forget_metrics(pid)
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is not None:
                slot.pid = None
                self._exited(slot, pid, os.waitstatus_to_exitcode(status))

    def _exited(self, slot: Slot, pid: int, code: int) -> None:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if self.stopping:
            log.debug("worker %d (pid %d) %s", slot.index, pid, how)
            return
        young = time.monotonic() - slot.started < QUICK_EXIT or not slot.ready
        slot.failures = slot.failures + 1 if young else 0
        if not slot.ever_ready:
            log.error("worker %d (pid %d) %s before it could serve: stopping", slot.index, pid, how)
            self._stop(1)
        elif slot.failures >= MAX_FAILURES:
            log.error(
                "worker %d (pid %d) %s; it failed %d times in a row: stopping",
                slot.index,
                pid,
                how,
                slot.failures,
            )
            self._stop(1)
        else:
            delay = 0.0 if slot.failures == 0 else min(0.25 * 2 ** (slot.failures - 1), 5.0)
            log.warning("worker %d (pid %d) %s; restarting it", slot.index, pid, how)
            slot.respawn_at = time.monotonic() + delay

    def _respawn_due(self, mask: Mask) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.pid is None and slot.respawn_at is not None and now >= slot.respawn_at:
                if self.stopping:
                    slot.respawn_at = None
                else:
                    self._spawn(slot, mask)

    def _live(self) -> list[int]:
        return [s.pid for s in self.slots if s.pid is not None]

    # -- stopping ------------------------------------------------------------------------------

    def _on_signal(self, signo: int) -> None:
        if self.stopping:
            log.warning("%s again: killing the workers", signal.Signals(signo).name)
            self._signal_all(signal.SIGKILL)
            return
        log.info("%s: stopping %d workers", signal.Signals(signo).name, len(self._live()))
        self._stop(0)

    def _stop(self, code: int) -> None:
        self.exit_code = max(self.exit_code, code)
        if self.stopping:
            return
        self.stopping = True
        self.kill_at = time.monotonic() + STOP_GRACE
        for slot in self.slots:
            slot.respawn_at = None
        # Our copies of the sockets go now, so the port is free once the workers have drained.
        self._close_sockets()
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signo: int) -> None:
        for pid in self._live():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signo)

    def _close_sockets(self) -> None:
        for slot in self.slots:
            for s in slot.socks:
                s.close()


# -- one worker --------------------------------------------------------------------------------


def serve_sockets(app: object, socks: list[socket.socket], ready: Callable[[], None]) -> int:
    """Serve ``app`` on already listening ``socks`` until SIGTERM; in a worker process."""
    from aiohttp import web

    assert isinstance(app, web.Application)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    stop = asyncio.Event()

    async def main() -> None:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await runner.setup()
        for sock in socks:
            await web.SockSite(runner, sock, backlog=BACKLOG).start()
        ready()
        await stop.wait()

    try:
        loop.run_until_complete(main())
    finally:
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0


def _forget_metrics(pid: int) -> None:
    """Drop a dead worker's live gauges (streams in flight) from the multiprocess directory: a
    worker killed, or stopped without its app's cleanup, leaves them behind to be summed."""
    from wirebridge.observe.metrics import METRICS

    try:
        METRICS.process_exited(pid)
    except OSError as e:
        log.warning("could not remove the metrics of worker pid %d: %s", pid, e)


def _die_with(parent: int) -> None:
    """SIGTERM this worker when the supervisor dies, however it dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


# -- entry -------------------------------------------------------------------------------------


def run(config: Config, n: int) -> int:
    """Serve ``config`` with ``n`` workers until asked to stop; the exit code."""
    if not hasattr(os, "fork"):
        log.error("--workers needs fork(); run one process per port on this system instead")
        return 2
    from wirebridge.http.app import create_app  # imported once, before forking
    from wirebridge.observe.memory import tune_collector

    server = config.server
    try:
        sockets = listen(server.host, server.port, n)
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", server.host, server.port, e)
        return 1
    if config.store.backend == "memory":
        log.warning(
            "store backend memory with %d workers: each worker keeps its own responses, so "
            "previous_response_id only works when the same worker serves the next turn",
            n,
        )
    _create_sealing_key(config)
    slots = [Slot(i, socks) for i, socks in enumerate(sockets)]

    def serve(slot: Slot, ready: Callable[[], None]) -> int:
        app = create_app(config)
        tune_collector()
        return serve_sockets(app, slot.socks, ready)

    return Supervisor(config, slots, serve).run()


def _create_sealing_key(config: Config) -> None:
    """Create the key file now, or each worker might create its own, and seal with it."""
    if config.server.secret_key:
        return
    from wirebridge.hub.seal import load_or_create_key

    load_or_create_key(config.server.key_file or state_dir() / "secret.key")
