//! People's sign-ins: authorization codes and refresh tokens of the built-in OpenID Connect
//! provider, kept as SHA-256 hashes, each used once. A sign-in's codes and tokens share a
//! family; a family revoked (signed out, or a token used twice) refreshes no more.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{MetadataStore, Result, now};

/// An authorization code to keep.
pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub account: &'a str,
    pub application: &'a str,
    pub redirect_uri: &'a str,
    /// The PKCE S256 challenge (RFC 7636 §4.2).
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    pub family: &'a str,
    /// When the person signed in (Unix seconds; OpenID Connect's `auth_time`).
    pub auth_time: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An authorization code as kept.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub account: String,
    pub application: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub family: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// A refresh token as kept.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub family: String,
    pub account: String,
    pub application: String,
    /// When the person signed in, kept through every rotation.
    pub auth_time: i64,
    /// The sign-in's end, kept through every rotation.
    pub expires_at: i64,
}

/// What taking a single-use code or token found.
#[derive(Debug)]
pub enum Taken<T> {
    /// Unused until now; used from now on.
    Fresh(T),
    /// Used before: its sign-in is to be revoked.
    Reused(T),
    Unknown,
}

impl MetadataStore {
    pub async fn insert_authorization_code(&self, code: NewCode<'_>) -> Result<()> {
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(unix_now() - 3600)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes \
             (code_hash, account, application, redirect_uri, code_challenge, nonce, family, auth_time, expires_at, used) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
        )
        .bind(code.code_hash)
        .bind(code.account)
        .bind(code.application)
        .bind(code.redirect_uri)
        .bind(code.code_challenge)
        .bind(code.nonce)
        .bind(code.family)
        .bind(code.auth_time)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the code used and returns it, or says it was used before or is unknown.
    pub async fn take_authorization_code(&self, code_hash: &str) -> Result<Taken<CodeRecord>> {
        let row = sqlx::query(
            "SELECT account, application, redirect_uri, code_challenge, nonce, family, auth_time, expires_at \
             FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Taken::Unknown);
        };
        let record = CodeRecord {
            account: row.try_get("account")?,
            application: row.try_get("application")?,
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            nonce: row.try_get::<Option<String>, _>("nonce")?,
            family: row.try_get("family")?,
            auth_time: row.try_get("auth_time")?,
            expires_at: row.try_get("expires_at")?,
        };
        self.take(
            "UPDATE authorization_codes SET used = 1 WHERE code_hash = $1 AND used = 0",
            code_hash,
            record,
        )
        .await
    }

    pub async fn insert_refresh_token(&self, token_hash: &str, record: &RefreshRecord) -> Result<()> {
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(unix_now() - 24 * 3600)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, account, application, auth_time, expires_at, used) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(token_hash)
        .bind(&record.family)
        .bind(&record.account)
        .bind(&record.application)
        .bind(record.auth_time)
        .bind(record.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the refresh token used and returns it, or says it was used before or is
    /// unknown.
    pub async fn take_refresh_token(&self, token_hash: &str) -> Result<Taken<RefreshRecord>> {
        let Some(record) = self.refresh_token(token_hash).await? else {
            return Ok(Taken::Unknown);
        };
        self.take(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = $1 AND used = 0",
            token_hash,
            record,
        )
        .await
    }

    /// The refresh token of `token_hash`, used or not, without using it.
    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT family, account, application, auth_time, expires_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    /// One use of a single-use row (`mark_used` sets `used` where it is 0): whoever sets it
    /// first has it.
    async fn take<T>(&self, mark_used: &'static str, hash: &str, record: T) -> Result<Taken<T>> {
        let updated = sqlx::query(mark_used).bind(hash).execute(&self.pool).await?;
        Ok(if updated.rows_affected() == 1 {
            Taken::Fresh(record)
        } else {
            Taken::Reused(record)
        })
    }

    /// Ends a sign-in: none of its refresh tokens works from now on.
    pub async fn revoke_sign_in(&self, family: &str) -> Result<()> {
        sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE family = $1")
            .bind(family)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query("INSERT INTO revoked_sign_ins (family, revoked_at) VALUES ($1, $2)")
            .bind(family)
            .bind(now())
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Ends every sign-in of `account` (its password changed): the sign-ins ended.
    pub async fn revoke_sign_ins_of(&self, account: &str) -> Result<usize> {
        // Every sign-in of the account: those with a refresh token, used or not (one being
        // refreshed right now has none unused), and those whose code waits to be redeemed,
        // which would otherwise begin a sign-in with the old password.
        sqlx::query("UPDATE authorization_codes SET used = 1 WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT DISTINCT family FROM refresh_tokens WHERE account = $1 \
             UNION SELECT DISTINCT family FROM authorization_codes WHERE account = $1",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let family: String = row.try_get("family")?;
            self.revoke_sign_in(&family).await?;
        }
        Ok(rows.len())
    }

    pub async fn sign_in_revoked(&self, family: &str) -> Result<bool> {
        let row = sqlx::query("SELECT family FROM revoked_sign_ins WHERE family = $1")
            .bind(family)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshRecord> {
    Ok(RefreshRecord {
        family: row.try_get("family")?,
        account: row.try_get("account")?,
        application: row.try_get("application")?,
        auth_time: row.try_get("auth_time")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
