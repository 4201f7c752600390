"""Reading the claims of a JWT without verifying it.

The gateway only needs two things from ChatGPT's tokens: the access token's expiry (``exp``, to
refresh in time) and the ChatGPT account id (``chatgpt_account_id`` under the
``https://api.openai.com/auth`` claim, sent as a header). The signature is not checked: the
backend does that. Pure functions, no I/O, shared by ``authfile.py`` and ``chatgpt.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

AUTH_CLAIMS = "https://api.openai.com/auth"  # the JWT claim that holds chatgpt_account_id


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified. Raises ``ValueError`` when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError("not a JWT: expected header.payload.signature")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    return claims


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch), or None if absent or not a JWT."""
    try:
        exp = jwt_claims(token).get("exp")
    except (ValueError, UnicodeError):
        return None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def account_id_of(token: object) -> str | None:
    """``chatgpt_account_id`` from a token's ``https://api.openai.com/auth`` claim."""
    if not isinstance(token, str) or not token:
        return None
    try:
        auth = jwt_claims(token).get(AUTH_CLAIMS)
    except (ValueError, UnicodeError):
        return None
    account = auth.get("chatgpt_account_id") if isinstance(auth, dict) else None
    return account if isinstance(account, str) and account else None
