"""Stored responses, their input items (one row each, for paging) and background stream events.

JSON is kept as TEXT on both dialects: PostgreSQL's JSONB would reorder keys and reject
``\\u0000``, and nothing queries inside the documents. ``status`` is copied out of the response
so ``recover`` can find running responses through a partial index.
"""

SQL = """
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    previous_response_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    response TEXT NOT NULL,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX responses_expires_at ON responses (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX responses_active ON responses (status) WHERE status IN ('queued', 'in_progress');
CREATE TABLE response_items (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item_id TEXT,
    item TEXT NOT NULL,
    PRIMARY KEY (response_id, position)
);
CREATE INDEX response_items_item_id ON response_items (response_id, item_id);
CREATE TABLE response_events (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (response_id, seq)
);
"""
