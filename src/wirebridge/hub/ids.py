"""Identifiers in OpenAI's style: a type prefix and random hex. Cheap: one urandom call each."""

from __future__ import annotations

import os


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(16).hex()}"


def response_id() -> str:
    return new_id("resp")


def message_id() -> str:
    return new_id("msg")


def function_call_id() -> str:
    return new_id("fc")


def custom_call_id() -> str:
    return new_id("ctc")


def reasoning_id() -> str:
    return new_id("rs")
