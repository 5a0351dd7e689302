-- People: accounts that sign in to the console with a password through the built-in
-- OpenID Connect provider (authorization code with PKCE), beside the services that use
-- client credentials. One table keeps one namespace of principals for grants, roles,
-- approval and disabling; `kind` tells the two apart, and a person's password is kept,
-- like a client secret, only as an Argon2id hash in `secret_hash`.

ALTER TABLE clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'service';
ALTER TABLE clients ADD COLUMN name TEXT;

-- Authorization codes (RFC 6749 §4.1.2): single use, a minute long, bound to the
-- application, its redirect URI and the PKCE challenge (RFC 7636). Only a SHA-256 of the
-- code is kept.
CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY,
    account         TEXT NOT NULL,
    application     TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    nonce           TEXT,
    family          TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used            BIGINT NOT NULL
);

-- Refresh tokens, rotated at every use (OAuth 2.0 Security BCP, RFC 9700 §4.14.2): a
-- family is one sign-in; a token used twice revokes its whole family. Only a SHA-256 of
-- each token is kept.
CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    family          TEXT NOT NULL,
    account         TEXT NOT NULL,
    application     TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used            BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account);

-- Families ended by sign-out, by reuse of a rotated token or by a code used twice.
CREATE TABLE revoked_sign_ins (
    family          TEXT PRIMARY KEY,
    revoked_at      TEXT NOT NULL
);
