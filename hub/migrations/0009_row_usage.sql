-- Rows taken out per day (UTC), by principal and dataset, for the grants' daily quotas:
-- counted here so that every hub sharing the store counts the same day.

CREATE TABLE row_usage (
    day        TEXT NOT NULL,
    principal  TEXT NOT NULL,
    dataset    TEXT NOT NULL,
    rows_sent  BIGINT NOT NULL,
    PRIMARY KEY (day, principal, dataset)
);
