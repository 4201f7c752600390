"""auth.chatgpt without the network: JWT claims, expiry, the auth.json file and its writes."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from tests.support.fake_chatgpt import make_jwt
from wirebridge.auth import authfile
from wirebridge.auth.authfile import (
    ChatGPTAuthError,
    auth_file_data,
    default_auth_file,
    read_auth_file,
    write_auth_file,
)
from wirebridge.auth.chatgpt import ChatGPTTokens
from wirebridge.auth.jwt import account_id_of, jwt_claims, jwt_expiry

AUTH = "https://api.openai.com/auth"


# -- JWTs --------------------------------------------------------------------------------------


def test_jwt_expiry_is_the_exp_claim() -> None:
    assert jwt_expiry(make_jwt({"exp": 1_900_000_000, "iat": 1})) == 1_900_000_000.0


def test_jwt_payload_without_padding_decodes() -> None:
    # payload lengths that need 1 and 2 "=" of padding once the JWT has stripped them
    for extra in ("a", "ab", "abc"):
        token = make_jwt({"exp": 42, "x": extra})
        assert "=" not in token
        assert jwt_claims(token)["x"] == extra


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b",
        "a..c",
        "x.!!!.y",
        "x." + base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=") + ".y",
        "x." + base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=") + ".y",
    ],
)
def test_jwt_expiry_of_garbage_is_none(token: str) -> None:
    assert jwt_expiry(token) is None


@pytest.mark.parametrize("exp", [None, "1900000000", True, [1]])
def test_jwt_expiry_ignores_non_numeric_exp(exp: object) -> None:
    claims = {} if exp is None else {"exp": exp}
    assert jwt_expiry(make_jwt(claims)) is None


def test_account_id_from_the_auth_claim() -> None:
    assert account_id_of(make_jwt({AUTH: {"chatgpt_account_id": "acct-1"}})) == "acct-1"
    assert account_id_of(make_jwt({"sub": "x"})) is None
    assert account_id_of("opaque") is None
    assert account_id_of(None) is None


# -- the file ----------------------------------------------------------------------------------


def test_default_auth_file_follows_codex_home(tmp_path: Path) -> None:
    assert default_auth_file({"CODEX_HOME": str(tmp_path)}) == tmp_path / "auth.json"
    assert default_auth_file({"CODEX_HOME": "  "}) == Path.home() / ".codex" / "auth.json"
    assert default_auth_file({}) == Path.home() / ".codex" / "auth.json"


def _codex_file(access: str, **tokens: object) -> dict[str, object]:
    return {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": make_jwt({AUTH: {"chatgpt_account_id": "acct-id"}}),
            "access_token": access,
            "refresh_token": "rt-1",
            "account_id": "acct-file",
            **tokens,
        },
        "last_refresh": "2026-01-01T00:00:00Z",
    }


def test_tokens_from_codex_file() -> None:
    access = make_jwt({"exp": 2_000_000_000})
    t = ChatGPTTokens.from_file(_codex_file(access), Path("auth.json"))
    assert (t.access_token, t.account_id, t.refresh_token) == (access, "acct-file", "rt-1")
    assert t.expires_at == 2_000_000_000.0


def test_account_id_falls_back_to_the_id_token() -> None:
    t = ChatGPTTokens.from_file(_codex_file("opaque", account_id=None), Path("a"))
    assert t.account_id == "acct-id"
    assert t.expires_at is None


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"OPENAI_API_KEY": "sk-x"}, "API key sign-in"),
        ({"OPENAI_API_KEY": None, "tokens": None}, "no ChatGPT tokens"),
        ({"tokens": {"access_token": ""}}, "no access token"),
        ({"tokens": {"access_token": "opaque", "id_token": "opaque"}}, "no ChatGPT account id"),
    ],
)
def test_unusable_files_are_permanent_errors(data: dict[str, object], says: str) -> None:
    with pytest.raises(ChatGPTAuthError) as e:
        ChatGPTTokens.from_file(data, Path("auth.json"))
    assert says in e.value.message
    assert e.value.permanent
    assert "wirebridge login chatgpt" in e.value.message


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ChatGPTAuthError, match="No ChatGPT sign-in"):
        read_auth_file(tmp_path / "auth.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ChatGPTAuthError, match="not valid JSON"):
        read_auth_file(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ChatGPTAuthError, match="JSON object"):
        read_auth_file(tmp_path / "list.json")


def test_auth_file_data_merges_and_keeps_unknown_keys() -> None:
    previous = {**_codex_file("old-access"), "auth_mode": "chatgpt", "custom": [1]}
    new_id = make_jwt({AUTH: {"chatgpt_account_id": "acct-new"}})
    data = auth_file_data({"access_token": "new-access", "id_token": new_id}, previous)
    assert data["tokens"]["access_token"] == "new-access"
    assert data["tokens"]["refresh_token"] == "rt-1"  # not rotated: kept
    assert data["tokens"]["account_id"] == "acct-new"
    assert data["custom"] == [1] and data["auth_mode"] == "chatgpt"
    assert data["last_refresh"].endswith("Z") and data["last_refresh"] != "2026-01-01T00:00:00Z"
    assert previous["tokens"]["access_token"] == "old-access"  # type: ignore[index]


def test_write_is_0600_and_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "codex" / "auth.json"
    write_auth_file(path, {"v": 1})
    assert json.loads(path.read_text()) == {"v": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # a file someone loosened is tightened by the next write
    inode = path.stat().st_ino
    write_auth_file(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert os.listdir(path.parent) == ["auth.json"]  # no temp file left behind


def test_write_never_exposes_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    big = {"tokens": {"access_token": "x" * 200_000}}
    write_auth_file(path, big)
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(json.loads(path.read_text())["tokens"]["access_token"][:1])

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(30):
            write_auth_file(path, {"tokens": {"access_token": str(i % 10) * 200_000}})
    finally:
        stop.set()
        t.join()
    assert seen  # every read parsed as a whole file


def test_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "auth.json"
    write_auth_file(path, {"v": 1})

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(authfile.os, "replace", broken)
    with pytest.raises(OSError):
        write_auth_file(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["auth.json"]


def test_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "auth.json"
    write_auth_file(real, {"v": 1})
    link = tmp_path / "auth.json"
    link.symlink_to(real)
    write_auth_file(link, {"v": 2})
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"v": 2}
