//! Who is calling. Every handler that acts for someone takes a [`Caller`].
//!
//! Authentication is not configured yet, so every request acts as the hub's local
//! operator, an admin of the `local` department. Bearer tokens from the built-in issuer or
//! an external OIDC provider replace this and are the only change handlers will see.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use causeway_policies::{Principal, Role};

use super::error::ApiError;

pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(local_operator()))
    }
}

pub fn local_operator() -> Principal {
    Principal::new("local-operator", "local")
        .with_role(Role::Admin)
        .with_role(Role::Publisher)
        .with_role(Role::Analyst)
        .with_role(Role::SecurityOfficer)
}
