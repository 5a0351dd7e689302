-- Grants, access requests and the access conditions datasets publish.
-- A grant's or request's terms are JSON text; a grant is revoked, never deleted.

CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    department  TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    body        TEXT NOT NULL,
    origin      TEXT NOT NULL,
    request_id  TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
);

CREATE TABLE access_requests (
    id                    TEXT PRIMARY KEY,
    department            TEXT NOT NULL,
    dataset               TEXT NOT NULL,
    requester             TEXT NOT NULL,
    requester_department  TEXT NOT NULL,
    body                  TEXT NOT NULL,
    state                 TEXT NOT NULL,
    publisher_decision    TEXT,
    officer_decision      TEXT,
    grant_id              TEXT,
    auto_approved         BIGINT NOT NULL,
    deadline              TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    decided_at            TEXT
);

ALTER TABLE datasets ADD COLUMN access TEXT;
