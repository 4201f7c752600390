"""Redis URLs as redis-py users write them, and the ones refused (without quoting a password)."""

from __future__ import annotations

import ssl

import pytest

from wirebridge.transport.redis_url import Address, Tls, parse_url


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://", Address()),
        ("redis://10.0.0.5", Address(host="10.0.0.5")),
        ("redis://cache:6380/2", Address(host="cache", port=6380, db=2)),
        ("redis://[::1]:7000/", Address(host="::1", port=7000)),
        ("redis://:pa%40ss@h/1", Address(host="h", password="pa@ss", db=1)),
        ("redis://app:pw@h?db=5", Address(host="h", username="app", password="pw", db=5)),
        ("redis://h/0?client_name=wb", Address(host="h", client_name="wb")),
        ("REDIS://h", Address(host="h")),
        ("unix:///run/redis.sock", Address(path="/run/redis.sock")),
        ("unix://:pw@/run/r.sock?db=3", Address(path="/run/r.sock", password="pw", db=3)),
        ("rediss://h", Address(host="h", tls=Tls())),
        (
            "rediss://h:6390/1?ssl_cert_reqs=none&ssl_check_hostname=false",
            Address(host="h", port=6390, db=1, tls=Tls(cert_reqs="none", check_hostname=False)),
        ),
        (
            "rediss://h?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem",
            Address(host="h", tls=Tls(ca_certs="/ca.pem", certfile="/c.pem", keyfile="/k.pem")),
        ),
    ],
)
def test_urls(url: str, address: Address) -> None:
    assert parse_url(url) == address


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:hunter2@h", "redis://, rediss:// or unix:// URL, got http://"),
        ("h:6379", "got no scheme"),
        ("redis://:hunter2@h/x", "the database must be a number, not 'x'"),
        ("redis://:hunter2@h/1?db=2", "the database is given twice"),
        ("redis://:hunter2@h:notaport", "Port"),
        ("redis://:hunter2@h?socket_timeout=5", "unknown option 'socket_timeout'"),
        ("redis://:hunter2@h?ssl_cert_reqs=none", "ssl_cert_reqs is only for rediss://"),
        ("rediss://:hunter2@h?ssl_cert_reqs=maybe", "required, optional or none"),
        ("rediss://:hunter2@h?ssl_check_hostname=yes", "true or false"),
        ("unix://:hunter2@?db=1", "needs the socket's path"),
    ],
)
def test_refused_urls_say_why_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_url(url)
    assert "hunter2" not in str(caught.value)


def test_tls_contexts() -> None:
    strict = Tls().context()
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = Tls(cert_reqs="none").context()
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname
    optional = Tls(cert_reqs="optional").context()
    assert optional.verify_mode == ssl.CERT_OPTIONAL and not optional.check_hostname
    unnamed = Tls(check_hostname=False).context()
    assert unnamed.verify_mode == ssl.CERT_REQUIRED and not unnamed.check_hostname
