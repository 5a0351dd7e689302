-- OAuth2 clients of the built-in authorization server. A secret is kept only as an
-- Argon2id hash; roles and attributes are JSON text.

CREATE TABLE clients (
    id                 TEXT PRIMARY KEY,
    department         TEXT NOT NULL,
    roles              TEXT NOT NULL,
    attributes         TEXT NOT NULL,
    secret_hash        TEXT NOT NULL,
    disabled           BIGINT NOT NULL,
    created_at         TEXT NOT NULL,
    secret_rotated_at  TEXT NOT NULL
);
