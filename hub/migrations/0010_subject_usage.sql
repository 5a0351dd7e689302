-- Subjects asked about or read per day (UTC), by caller and dataset, for the controls that
-- count people rather than rows: `verify` counts the records a caller asked about each
-- subject under verify-only grants (the subject '*' holds the caller's total). A subject is
-- a keyed pseudonym of the values of the dataset's subject key, never the values.

CREATE TABLE subject_usage (
    day        TEXT NOT NULL,
    principal  TEXT NOT NULL,
    dataset    TEXT NOT NULL,
    control    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    PRIMARY KEY (day, principal, dataset, control, subject)
);
