"""The gateway's error tree.

Every failure the gateway reports to a client is one of these; each front door renders it in its
own envelope (``frontends/*/errors.py``) with the HTTP status the class names. Nothing outside this
tree reaches a client: an unexpected exception becomes an ``InternalError`` with no traceback.

* GatewayError (500, ``server_error``) — base; ``message``, ``param``, ``code``, ``headers``
    * InvalidRequest (400, ``invalid_request_error``) — the client's request is wrong
        * MalformedJSON — the body is not JSON, or not a JSON object
        * Untranslatable — a valid feature the chosen upstream cannot express; names it
    * AuthenticationFailed (401, ``authentication_error``)
    * PermissionDenied (403, ``permission_error``)
    * NotFound (404, ``not_found_error``) — unknown route, stored response, model
        * ModelNotFound — ``code: model_not_found``
    * PayloadTooLarge (413, ``invalid_request_error``)
    * UnsupportedEncoding (415, ``invalid_request_error``) — a ``Content-Encoding`` not decoded
    * RateLimited (429, ``rate_limit_error``) — ``Retry-After`` kept in ``headers``
    * NotConfigured (503, ``server_error``) — no provider configured; says how to add one
    * InternalError (500, ``server_error``) — a bug; logged with its traceback, sent without
    * UpstreamError (status of the upstream, mapped) — the upstream answered with an error
        * UpstreamTimeout (504, ``timeout``)
        * UpstreamUnavailable (502, ``upstream_error``) — connection refused, reset, torn stream

Upstream statuses are mapped by ``UpstreamError.from_status``: 400/404/422 stay client errors, 401
and 403 become 502 (the gateway's credentials are wrong, not the client's) unless passed through,
429 stays 429 with ``Retry-After``, 5xx becomes 502, 529 (overloaded) becomes 503.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}
        self.http_status = status if status is not None else self.status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http_status}, {self.message!r})"


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class MalformedJSON(InvalidRequest):
    default_code = "invalid_json"


class Untranslatable(InvalidRequest):
    default_code = "unsupported_feature"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    type = "invalid_request_error"
    default_code = "model_not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class UnsupportedEncoding(GatewayError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_content_encoding"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class NotConfigured(GatewayError):
    status = 503
    type = "server_error"
    default_code = "no_provider_configured"


class InternalError(GatewayError):
    status = 500
    type = "server_error"
    default_code = "internal_error"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"

    @classmethod
    def from_status(
        cls,
        upstream_status: int,
        message: str,
        *,
        type_: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: str | None = None,
    ) -> UpstreamError:
        status, default_type = _map_upstream_status(upstream_status)
        err = cls(
            message,
            param=param,
            code=code,
            headers={"Retry-After": retry_after} if retry_after else None,
            status=status,
        )
        err.error_type = type_ or default_type
        err.upstream_status = upstream_status
        return err

    error_type: str = "upstream_error"
    upstream_status: int | None = None


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout"
    default_code = "upstream_timeout"
    error_type = "timeout"


class UpstreamUnavailable(UpstreamError):
    status = 502
    type = "upstream_error"
    default_code = "upstream_unavailable"


def _map_upstream_status(status: int) -> tuple[int, str]:
    if status in (400, 404, 409, 413, 422):
        return status, "invalid_request_error"
    if status in (401, 403):
        return 502, "upstream_authentication_error"
    if status == 429:
        return 429, "rate_limit_error"
    if status == 529:
        return 503, "overloaded_error"
    if status == 408:
        return 504, "timeout"
    return 502, "upstream_error"


def error_type(err: GatewayError) -> str:
    """The ``type`` to put in an envelope: upstream errors carry the one they were mapped to."""
    if isinstance(err, UpstreamError):
        return err.error_type
    return err.type
