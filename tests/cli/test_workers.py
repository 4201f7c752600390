"""The worker supervisor's sockets and restart policy, without forking the test process."""

from __future__ import annotations

import errno
import socket

import pytest

from tests.support.gateway import free_port
from wirebridge.cli import sockets, workers
from wirebridge.cli.workers import MAX_FAILURES, QUICK_EXIT, Slot, Supervisor
from wirebridge.config.model import Config


def test_one_reuseport_socket_per_slot() -> None:
    port = free_port()
    slots = sockets.listen("127.0.0.1", port, 3)
    try:
        assert len(slots) == 3
        socks = [s for slot in slots for s in slot]
        assert len({id(s) for s in socks}) == (3 if sockets.REUSE_PORT else 1)
        for s in socks:
            assert s.getsockname() == ("127.0.0.1", port)
            if sockets.REUSE_PORT:
                assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        with pytest.raises(OSError) as e:  # our own group holds the port: a new one may not
            sockets.check_port_free("127.0.0.1", port)
        assert e.value.errno == errno.EADDRINUSE
    finally:
        for slot in slots:
            for s in slot:
                s.close()
    sockets.check_port_free("127.0.0.1", port)  # free again


def test_a_port_someone_else_holds_is_refused() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError) as e:
            sockets.listen("127.0.0.1", other.getsockname()[1], 2)
        assert e.value.errno == errno.EADDRINUSE


def _supervisor(n: int = 1) -> Supervisor:
    return Supervisor(Config(), [Slot(i, []) for i in range(n)], serve=lambda slot, ready: 0)


def test_a_worker_that_never_served_stops_everything() -> None:
    sup = _supervisor()
    slot = sup.slots[0]
    slot.started = 0.0
    sup._exited(slot, 123, 1)
    assert sup.stopping and sup.exit_code == 1
    assert slot.respawn_at is None


def test_a_worker_that_served_a_while_is_restarted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sup = _supervisor()
    slot = sup.slots[0]
    now = 1000.0
    monkeypatch.setattr(workers.time, "monotonic", lambda: now)
    slot.started, slot.ready, slot.ever_ready = now - QUICK_EXIT - 1, True, True
    sup._exited(slot, 123, -9)
    assert not sup.stopping
    assert slot.failures == 0 and slot.respawn_at == now


def test_a_worker_dying_young_backs_off_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    sup = _supervisor()
    slot = sup.slots[0]
    now = 1000.0
    monkeypatch.setattr(workers.time, "monotonic", lambda: now)
    slot.ever_ready = True
    delays = []
    for _ in range(MAX_FAILURES - 1):
        slot.started, slot.ready = now - 0.5, True
        sup._exited(slot, 123, 1)
        assert slot.respawn_at is not None
        delays.append(slot.respawn_at - now)
    assert delays == sorted(delays) and delays[0] > 0
    assert not sup.stopping
    slot.started = now - 0.5
    sup._exited(slot, 123, 1)
    assert sup.stopping and sup.exit_code == 1


def test_exits_while_stopping_are_expected() -> None:
    sup = _supervisor(2)
    sup._stop(0)
    sup._exited(sup.slots[0], 123, 0)
    assert sup.exit_code == 0 and sup.slots[0].respawn_at is None
