"""Sealer: provider data sealed for one family opens only from an intact blob we sealed."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from wirebridge.hub.seal import ProviderData, Sealer, load_or_create_key

SEALER = Sealer(bytes(range(32)))
PD = ProviderData("deepseek", {"reasoning_content": "Let me think. é😀"})


def test_round_trip_keeps_family_and_data() -> None:
    blob = SEALER.seal(PD)
    assert blob.startswith("wb1.")
    assert "think" not in blob
    assert SEALER.open(blob) == PD
    assert SEALER.seal(PD) != blob  # a fresh nonce every time


def _flip(blob: str, pos: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(blob[4:]))
    raw[pos] ^= 1
    return "wb1." + base64.urlsafe_b64encode(bytes(raw)).decode()


BLOB = SEALER.seal(PD)

NOT_OURS = [
    pytest.param(None, id="none"),
    pytest.param(42, id="not_a_string"),
    pytest.param("", id="empty"),
    pytest.param("gAAAAABpZ0ZoYWtlLW9wZW5haS1ibG9i", id="openai_style_blob"),
    pytest.param("wb1.", id="prefix_only"),
    pytest.param("wb1.!!!not-base64!!!", id="not_base64"),
    pytest.param("wb1.AAAA", id="too_short"),
    pytest.param(_flip(BLOB, 0), id="tampered_nonce"),
    pytest.param(_flip(BLOB, 20), id="tampered_ciphertext"),
    pytest.param(_flip(BLOB, -1), id="tampered_tag"),
    pytest.param(BLOB[:-4], id="truncated"),
    pytest.param(Sealer(b"\x01" * 32).seal(PD), id="sealed_with_another_key"),
]


@pytest.mark.parametrize("token", NOT_OURS)
def test_blob_not_sealed_by_us_does_not_open(token: object) -> None:
    assert SEALER.open(token) is None


def test_from_secret_is_stable() -> None:
    blob = Sealer.from_secret("s3cret").seal(PD)
    assert Sealer.from_secret("s3cret").open(blob) == PD
    assert Sealer.from_secret("other").open(blob) is None


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        Sealer(b"short")


def test_key_file_created_once_with_private_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state" / "secret.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key


_FOOTPRINT = """
import sys
from wirebridge.hub.seal import ProviderData, Sealer
sealer = Sealer.from_secret("s" * 40)
assert sealer.open("not ours") is None
print("before", "cryptography" in sys.modules)
sealer.open(sealer.seal(ProviderData("deepseek", {"reasoning_content": "x"})))
print("after", "cryptography" in sys.modules)
"""


def test_cryptography_is_loaded_only_to_seal_or_open() -> None:
    # a worker pays 7 MB of resident memory for it, and most never seal anything
    probe = f"import wirebridge.http.app, wirebridge.cli.serve\n{_FOOTPRINT}"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["before", "False", "after", "True"]
