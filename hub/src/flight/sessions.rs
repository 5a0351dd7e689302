//! Flight SQL session options (`SetSessionOptions`, `GetSessionOptions`, `CloseSession`,
//! Flight's session management, Arrow 15): a caller may set a default purpose once for a
//! session instead of sending the `x-causeway-purpose` header with every call. ADBC sets
//! it with the connection option `adbc.flight.sql.session.option.purpose` and keeps the
//! session with `adbc.flight.sql.rpc.with_cookie_middleware`; the JDBC driver keeps
//! cookies by default.
//!
//! The session is kept by the client, in the cookie `arrow_flight_session_id` (the name the
//! specification suggests): `base64url(HMAC-SHA256(key, body) || body)`, the body the JSON
//! of [`Session`]. Any replica sharing the hub's keys reads it; it is bound to its caller
//! and lasts a working day. It grants nothing: it only names the purpose its caller gave,
//! and a call's header overrides it. Being stateless, a closed session's cookie is dropped
//! by the client, not remembered as closed by the hub.
//!
//! arrow-flight 59 has no types for these messages; they are declared here as
//! `arrow/format/Flight.proto` gives them, and encoded bare in the action's body.

use std::collections::HashMap;

use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};
use tonic::Status;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The cookie that carries a session.
pub const COOKIE: &str = "arrow_flight_session_id";

/// How long a session lasts, in seconds: a working day.
pub const SESSION_SECONDS: u64 = 8 * 3600;

/// The one option a session holds.
pub const PURPOSE_OPTION: &str = "purpose";

/// The longest purpose a session keeps, in bytes.
const MAX_PURPOSE_BYTES: usize = 256;

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringListValue {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum OptionValue {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(sfixed64, tag = "3")]
    Int64(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(message, tag = "5")]
    StringList(StringListValue),
}

/// A session option's value; none unsets the option.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionOptionValue {
    #[prost(oneof = "OptionValue", tags = "1, 2, 3, 4, 5")]
    pub option_value: Option<OptionValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionsRequest {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ErrorValue {
    Unspecified = 0,
    InvalidName = 1,
    InvalidValue = 2,
    Error = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionError {
    #[prost(enumeration = "ErrorValue", tag = "1")]
    pub value: i32,
}

/// The options that were not set, each with why.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub errors: HashMap<String, SetSessionOptionError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CloseSessionStatus {
    Unspecified = 0,
    Closed = 1,
    Closing = 2,
    NotCloseable = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CloseSessionResult {
    #[prost(enumeration = "CloseSessionStatus", tag = "1")]
    pub status: i32,
}

/// What a session cookie holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub principal: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Unix seconds after which the session is gone.
    pub expires: u64,
}

impl Session {
    /// This session with the options of `request` applied, and the options that could not be.
    pub fn with_options(mut self, request: SetSessionOptionsRequest) -> (Self, SetSessionOptionsResult) {
        let mut errors = HashMap::new();
        for (name, value) in request.session_options {
            let error = if name != PURPOSE_OPTION {
                Some(ErrorValue::InvalidName)
            } else {
                match value.option_value {
                    None => {
                        self.purpose = None;
                        None
                    }
                    Some(OptionValue::String(purpose)) => {
                        let purpose = purpose.trim();
                        if purpose.is_empty() || purpose.len() > MAX_PURPOSE_BYTES {
                            Some(ErrorValue::InvalidValue)
                        } else {
                            self.purpose = Some(purpose.to_owned());
                            None
                        }
                    }
                    Some(_) => Some(ErrorValue::InvalidValue),
                }
            };
            if let Some(error) = error {
                errors.insert(name, SetSessionOptionError { value: error as i32 });
            }
        }
        (self, SetSessionOptionsResult { errors })
    }

    /// The session's options as `GetSessionOptions` answers them.
    pub fn options(&self) -> GetSessionOptionsResult {
        let session_options = self
            .purpose
            .iter()
            .map(|purpose| {
                (
                    PURPOSE_OPTION.to_owned(),
                    SessionOptionValue {
                        option_value: Some(OptionValue::String(purpose.clone())),
                    },
                )
            })
            .collect();
        GetSessionOptionsResult { session_options }
    }
}

/// Seals and opens session cookies.
pub struct Sessions {
    key: hmac::Key,
}

impl Sessions {
    pub fn new(key: hmac::Key) -> Self {
        Self { key }
    }

    /// The cookie's value for `session`.
    pub fn seal(&self, session: &Session) -> String {
        let body = serde_json::to_vec(session).unwrap_or_default();
        let tag = hmac::sign(&self.key, &body);
        let mut sealed = tag.as_ref().to_vec();
        sealed.extend_from_slice(&body);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The session in the request's cookies, if this hub sealed it for `principal` of
    /// `issuer` and it has not expired at `now` (Unix seconds); anything else is no session.
    pub fn open(&self, metadata: &MetadataMap, principal: &str, issuer: &str, now: u64) -> Option<Session> {
        const TAG: usize = 32;
        let headers = metadata
            .get_all("cookie")
            .iter()
            .filter_map(|value| value.to_str().ok());
        crate::api::extract::cookies(headers, COOKIE).find_map(|value| {
            let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(value.trim_matches('"'))
                .ok()?;
            if sealed.len() <= TAG {
                return None;
            }
            let (tag, body) = sealed.split_at(TAG);
            hmac::verify(&self.key, body, tag).ok()?;
            let session: Session = serde_json::from_slice(body).ok()?;
            (session.expires >= now && session.principal == principal && session.issuer == issuer)
                .then_some(session)
        })
    }

    /// The `set-cookie` header that keeps `session` with the client, or, for none, drops it.
    pub fn cookie(&self, session: Option<&Session>) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
        let value = match session {
            Some(session) => format!(
                "{COOKIE}={}; Max-Age={SESSION_SECONDS}; HttpOnly",
                self.seal(session)
            ),
            None => format!("{COOKIE}=; Max-Age=0; HttpOnly"),
        };
        value
            .parse()
            .map_err(|_| Status::internal("the session cookie could not be written"))
    }
}

/// The session actions: `SetSessionOptions` (creating the session if there is none),
/// `GetSessionOptions` and `CloseSession`, for `caller`, whose current session, if any, is
/// `current`. `None` for any other action.
pub fn answer(
    sessions: &Sessions,
    action: &arrow_flight::Action,
    caller: &causeway_policies::Principal,
    current: Option<Session>,
    now: u64,
) -> Option<Result<tonic::Response<super::FlightStream<arrow_flight::Result>>, Status>> {
    use prost::Message;
    let no_session = || Status::not_found("no session: set an option with SetSessionOptions first");
    let (body, cookie) = match action.r#type.as_str() {
        "SetSessionOptions" => {
            let request = match SetSessionOptionsRequest::decode(&*action.body) {
                Ok(request) => request,
                Err(_) => {
                    return Some(Err(Status::invalid_argument(
                        "the body is not a SetSessionOptionsRequest",
                    )));
                }
            };
            let base = current.unwrap_or_else(|| Session {
                principal: caller.id.clone(),
                issuer: caller.issuer.clone(),
                purpose: None,
                expires: 0,
            });
            let (mut session, result) = base.with_options(request);
            session.expires = now + SESSION_SECONDS;
            (result.encode_to_vec(), Some(Some(session)))
        }
        "GetSessionOptions" => match current {
            Some(session) => (session.options().encode_to_vec(), None),
            None => return Some(Err(no_session())),
        },
        "CloseSession" => match current {
            Some(_) => {
                let closed = CloseSessionResult {
                    status: CloseSessionStatus::Closed as i32,
                };
                (closed.encode_to_vec(), Some(None))
            }
            None => return Some(Err(no_session())),
        },
        _ => return None,
    };
    let answer = arrow_flight::Result { body: body.into() };
    let mut response: tonic::Response<super::FlightStream<arrow_flight::Result>> =
        tonic::Response::new(Box::pin(futures::stream::once(async { Ok(answer) })));
    if let Some(session) = cookie {
        match sessions.cookie(session.as_ref()) {
            Ok(cookie) => {
                response.metadata_mut().insert("set-cookie", cookie);
            }
            Err(error) => return Some(Err(error)),
        }
    }
    Some(Ok(response))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn sessions(secret: &[u8]) -> Sessions {
        Sessions::new(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn with_cookie(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "cookie",
            format!("other=1; {COOKIE}={value}").parse().expect("header"),
        );
        metadata
    }

    fn session() -> Session {
        Session {
            principal: "ann".into(),
            issuer: "https://hub".into(),
            purpose: None,
            expires: 1_000,
        }
    }

    fn set(name: &str, value: Option<OptionValue>) -> SetSessionOptionsRequest {
        SetSessionOptionsRequest {
            session_options: HashMap::from([(name.to_owned(), SessionOptionValue { option_value: value })]),
        }
    }

    #[test]
    fn a_session_keeps_its_callers_purpose_and_serves_no_one_else() {
        let hub = sessions(b"one key");
        let (session, result) =
            session().with_options(set(PURPOSE_OPTION, Some(OptionValue::String(" testing ".into()))));
        assert!(result.errors.is_empty());
        assert_eq!(session.purpose.as_deref(), Some("testing"));
        let cookie = hub.seal(&session);
        let metadata = with_cookie(&cookie);
        assert_eq!(
            hub.open(&metadata, "ann", "https://hub", 999),
            Some(session.clone())
        );
        assert_eq!(
            sessions(b"one key").open(&metadata, "ann", "https://hub", 999),
            Some(session),
            "another replica reads it"
        );
        assert_eq!(hub.open(&metadata, "bob", "https://hub", 999), None);
        assert_eq!(hub.open(&metadata, "ann", "https://other", 999), None);
        assert_eq!(hub.open(&metadata, "ann", "https://hub", 1_001), None);
        assert_eq!(
            sessions(b"another key").open(&metadata, "ann", "https://hub", 0),
            None
        );
        let mut changed = cookie.into_bytes();
        let last = changed.len() - 3;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).expect("text");
        assert_eq!(hub.open(&with_cookie(&changed), "ann", "https://hub", 0), None);
    }

    #[test]
    fn unknown_options_and_wrong_values_are_reported_not_kept() {
        let (unchanged, result) =
            session().with_options(set("catalog", Some(OptionValue::String("x".into()))));
        assert_eq!(result.errors["catalog"].value, ErrorValue::InvalidName as i32);
        assert_eq!(unchanged.purpose, None);
        let (_, result) = session().with_options(set(PURPOSE_OPTION, Some(OptionValue::Bool(true))));
        assert_eq!(
            result.errors[PURPOSE_OPTION].value,
            ErrorValue::InvalidValue as i32
        );
        let (_, result) = session().with_options(set(PURPOSE_OPTION, Some(OptionValue::String("  ".into()))));
        assert_eq!(
            result.errors[PURPOSE_OPTION].value,
            ErrorValue::InvalidValue as i32
        );
        // A valueless option unsets it.
        let kept = Session {
            purpose: Some("testing".into()),
            ..session()
        };
        let (unset, result) = kept.with_options(set(PURPOSE_OPTION, None));
        assert!(result.errors.is_empty());
        assert_eq!(unset.purpose, None);
    }

    #[test]
    fn the_messages_match_flight_proto() {
        // SetSessionOptionsRequest{session_options: {"purpose": {string_value: "t"}}}, as
        // protoc encodes it: field 1, a map entry of key (1) and value (2, a message whose
        // field 1 is the string).
        let encoded = set(PURPOSE_OPTION, Some(OptionValue::String("t".into()))).encode_to_vec();
        assert_eq!(
            encoded,
            [
                0x0a, 0x0e, 0x0a, 0x07, b'p', b'u', b'r', b'p', b'o', b's', b'e', 0x12, 0x03, 0x0a, 0x01,
                b't'
            ]
        );
        let closed = CloseSessionResult {
            status: CloseSessionStatus::Closed as i32,
        };
        assert_eq!(closed.encode_to_vec(), [0x08, 0x01]);
    }
}
