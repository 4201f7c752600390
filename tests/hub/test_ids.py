"""Ids: unguessable, and response ids ordered by the time they were made."""

from __future__ import annotations

import re
import time

from wirebridge.hub import ids

RESPONSE_ID = re.compile(r"^resp_([0-9a-f]{12})([0-9a-f]{32})$")


def test_a_response_id_starts_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    match = RESPONSE_ID.match(ids.response_id())
    after = time.time_ns() // 1_000_000
    assert match is not None
    assert before <= int(match.group(1), 16) <= after


def test_response_ids_made_later_sort_after() -> None:
    made = []
    for _ in range(5):
        made.append(ids.response_id())
        time.sleep(0.002)  # the next millisecond at least
    assert sorted(made) == made


def test_response_ids_keep_128_random_bits() -> None:
    tails = {RESPONSE_ID.match(ids.response_id()).group(2) for _ in range(20_000)}  # type: ignore[union-attr]
    assert len(tails) == 20_000


def test_other_ids_are_a_prefix_and_128_random_bits() -> None:
    made = {ids.message_id() for _ in range(10_000)}
    assert len(made) == 10_000
    assert all(re.fullmatch(r"msg_[0-9a-f]{32}", i) for i in made)
