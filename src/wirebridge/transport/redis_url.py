"""Where a Redis is and how to log in, from the URL the configuration gives.

The URLs are redis-py's, which users already write: ``redis://``, ``rediss://`` (TLS) and
``unix://``, with the database in the path or ``?db=`` and the ``ssl_*`` options; anything else
in the query is refused rather than ignored. Errors never quote the URL: it may hold a password.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

DEFAULT_PORT = 6379


@dataclass(frozen=True, slots=True)
class Tls:
    """``rediss://`` options, from the URL's query as redis-py spells them."""

    cert_reqs: str = "required"  # ssl_cert_reqs: required | optional | none
    ca_certs: str | None = None  # ssl_ca_certs: a CA bundle instead of the system's
    certfile: str | None = None  # ssl_certfile / ssl_keyfile: a client certificate
    keyfile: str | None = None
    check_hostname: bool = True  # ssl_check_hostname (with cert_reqs=required)

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_certs)
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        if self.cert_reqs != "required" or not self.check_hostname:
            ctx.check_hostname = False
        if self.cert_reqs == "none":
            ctx.verify_mode = ssl.CERT_NONE
        elif self.cert_reqs == "optional":
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx


@dataclass(frozen=True, slots=True)
class Address:
    """Where Redis is and how to log in: what a ``redis://``, ``rediss://`` or ``unix://`` URL
    says."""

    host: str = "localhost"
    port: int = DEFAULT_PORT
    path: str | None = None  # a Unix socket instead of host and port
    username: str | None = None
    password: str | None = None
    db: int = 0
    client_name: str | None = None
    tls: Tls | None = None


_TLS_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")
_QUERY_KEYS = ("db", "client_name", *_TLS_KEYS)


def parse_url(url: str) -> Address:
    """``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` (TLS), or
    ``unix://[[user]:password@]/path/to.sock``; ``?db=N``, ``?client_name=…`` and the ``ssl_*``
    options of redis-py's URLs. ``ValueError`` says what is wrong."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    parts = urlsplit(url)
    if scheme not in ("redis", "rediss", "unix"):
        got = f"{scheme}://" if scheme else "no scheme"  # not the URL: it may hold a password
        raise ValueError(f"must be a redis://, rediss:// or unix:// URL, got {got}")
    query = {key: values[-1] for key, values in parse_qs(parts.query, True).items()}
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (known: {', '.join(_QUERY_KEYS)})")
    tls_keys = [key for key in query if key in _TLS_KEYS]
    if tls_keys and scheme != "rediss":
        raise ValueError(f"{tls_keys[0]} is only for rediss:// URLs")
    if scheme == "unix":
        place = Address(path=_socket_path(parts), db=_db(query.get("db")))
    else:
        db = _db(_path_db(parts, query.get("db")))
        place = Address(host=parts.hostname or "localhost", port=parts.port or DEFAULT_PORT, db=db)
    return replace(
        place,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        client_name=query.get("client_name") or None,
        tls=_tls(query) if scheme == "rediss" else None,
    )


def _socket_path(parts: SplitResult) -> str:
    path = unquote(parts.path)
    if not path:
        raise ValueError("a unix:// URL needs the socket's path")
    return path


def _path_db(parts: SplitResult, db: str | None) -> str | None:
    """The database a ``redis://`` URL names, in its path or as ``?db=`` but not both."""
    in_path = unquote(parts.path).strip("/")
    if in_path and db is not None:
        raise ValueError("the database is given twice, in the path and as ?db=")
    return in_path or db


def _db(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit():
        raise ValueError(f"the database must be a number, not {raw!r}")
    return int(raw)


def _tls(query: dict[str, str]) -> Tls:
    reqs = query.get("ssl_cert_reqs", "required").lower()
    if reqs not in ("required", "optional", "none"):
        raise ValueError(f"ssl_cert_reqs must be required, optional or none, not {reqs!r}")
    check = query.get("ssl_check_hostname", "true").lower()
    if check not in ("true", "false"):
        raise ValueError(f"ssl_check_hostname must be true or false, not {check!r}")
    return Tls(
        cert_reqs=reqs,
        ca_certs=query.get("ssl_ca_certs") or None,
        certfile=query.get("ssl_certfile") or None,
        keyfile=query.get("ssl_keyfile") or None,
        check_hostname=check == "true",
    )
