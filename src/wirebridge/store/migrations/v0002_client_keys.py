"""Managed client keys (``wirebridge keys``): the key's id and SHA-256, never the key itself.

``models`` is a JSON list of the model names the key may use, NULL for every model; the limits
are NULL to follow ``server.rate_limits.per_key`` and 0 for no limit.
"""

SQL = """
CREATE TABLE client_keys (
    id TEXT PRIMARY KEY,
    name TEXT,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    models TEXT,
    rpm BIGINT,
    rpd BIGINT,
    tpm BIGINT
);
"""
