-- Alerts raised by supervision rules. One that suspends blocks its principal's queries
-- until a security officer clears it; alerts are cleared, never deleted.

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    rule        TEXT NOT NULL,
    principal   TEXT NOT NULL,
    suspends    BIGINT NOT NULL,
    raised_at   TEXT NOT NULL,
    detail      TEXT NOT NULL,
    cleared_at  TEXT,
    cleared_by  TEXT
);
