//! A wire session's own state, and the statements answered by it rather than by the query
//! service: `SET` and `SHOW` of the session parameters tools send, the statement's purpose
//! (`causeway.purpose`), and transaction control, which a hub that only reads accepts and
//! ignores. None of it reaches DataFusion's settings; a parameter the hub does not know is
//! refused as PostgreSQL refuses one (`42704`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::error::PgWireResult;

use super::cancel::Registered;
use super::sqlstate;

/// The setting that names why a session's statements read data.
pub const PURPOSE: &str = "causeway.purpose";

/// The session parameters tools set, with their defaults; `SET` of any of them is kept in
/// the session and reported back, never applied to the query engine.
const PARAMETERS: [(&str, &str); 13] = [
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("extra_float_digits", "1"),
    ("intervalstyle", "postgres"),
    ("lc_messages", "C"),
    ("search_path", "public"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
];

/// Read-only facts `SHOW` answers.
const FACTS: [(&str, &str); 6] = [
    ("server_version", super::SERVER_VERSION),
    ("server_encoding", "UTF8"),
    ("integer_datetimes", "on"),
    ("is_superuser", "off"),
    ("max_identifier_length", "63"),
    ("default_transaction_read_only", "on"),
];

/// One signed-in connection.
pub struct WireSession {
    /// The bearer token it signed in with (or was issued for its client id and secret),
    /// checked again before every statement: a disabled client's session stops at its next
    /// statement, and a session ends when its token does.
    pub token: String,
    pub address: SocketAddr,
    /// The subject of the client certificate, under mutual TLS.
    pub certificate: Option<String>,
    settings: Mutex<BTreeMap<String, String>>,
    /// Keeps the session cancellable while it lives.
    pub cancel: Registered,
}

impl WireSession {
    /// A session whose startup packet's `options` were `options` (libpq's
    /// `options='-c name=value ...'`, which every driver can send).
    pub fn new(
        token: String,
        address: SocketAddr,
        certificate: Option<String>,
        options: Option<&str>,
        cancel: Registered,
    ) -> Self {
        let settings = options.map(startup_settings).unwrap_or_default();
        Self {
            token,
            address,
            certificate,
            settings: Mutex::new(settings),
            cancel,
        }
    }

    /// The purpose the session's statements are run for, if it gave one.
    pub fn purpose(&self) -> Option<String> {
        self.settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(PURPOSE)
            .filter(|purpose| !purpose.trim().is_empty())
            .cloned()
    }

    fn get(&self, name: &str) -> Option<String> {
        let settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        settings.get(name).cloned().or_else(|| {
            PARAMETERS
                .iter()
                .chain(FACTS.iter())
                .find(|(known, _)| *known == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    fn set(&self, name: String, value: Option<String>) {
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match value {
            Some(value) => settings.insert(name, value),
            None => settings.remove(&name),
        };
    }
}

/// `-c name=value` pairs of a startup `options` string (`--name=value` too), names in lower
/// case; `\ ` is a space inside a value, as libpq writes it.
fn startup_settings(options: &str) -> BTreeMap<String, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut settings = BTreeMap::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let pair = if word == "-c" {
            words.next()
        } else {
            word.strip_prefix("-c")
                .or_else(|| word.strip_prefix("--"))
                .map(str::to_owned)
        };
        if let Some((name, value)) = pair.as_deref().and_then(|pair| pair.split_once('=')) {
            settings.insert(name.trim().to_lowercase(), value.trim().to_owned());
        }
    }
    settings
}

/// A statement the session answers itself.
#[derive(Debug, Clone)]
pub enum Local {
    Set {
        name: String,
        value: Option<String>,
    },
    Show(String),
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`: drivers nest transactions with them
    /// (psycopg's `transaction()` inside one); with nothing written, there is nothing to
    /// undo, and a rollback to a savepoint leaves a failed transaction usable again.
    Savepoint(&'static str),
    /// `DISCARD`, `DEALLOCATE`, `RESET ALL` and the like: accepted, nothing to do.
    Accept(&'static str),
}

impl Local {
    /// The statement as one the session answers, if it is one.
    pub fn of(statement: &Statement) -> Option<Self> {
        Some(match statement {
            Statement::Set(Set::SingleAssignment { variable, values, .. }) => Self::Set {
                name: variable.to_string().to_lowercase(),
                value: Some(text_of(values)),
            },
            Statement::Set(Set::SetTimeZone { value, .. }) => Self::Set {
                name: "timezone".into(),
                value: Some(text_of(std::slice::from_ref(value))),
            },
            Statement::Set(Set::SetNames { charset_name, .. }) => Self::Set {
                name: "client_encoding".into(),
                value: Some(charset_name.value.clone()),
            },
            Statement::ShowVariable { variable } => {
                let parts: Vec<String> = variable.iter().map(|part| part.value.to_lowercase()).collect();
                // `SHOW time zone` is words; `SHOW causeway.purpose` a dotted name.
                let spaced = parts.join(" ");
                Self::Show(match spaced.as_str() {
                    "time zone" | "transaction isolation level" | "session authorization" => spaced,
                    _ => parts.join("."),
                })
            }
            Statement::StartTransaction { .. } => Self::Begin,
            Statement::Commit { .. } => Self::Commit,
            Statement::Rollback {
                savepoint: Some(_), ..
            } => Self::Savepoint("ROLLBACK"),
            Statement::Rollback { .. } => Self::Rollback,
            Statement::Savepoint { .. } => Self::Savepoint("SAVEPOINT"),
            Statement::ReleaseSavepoint { .. } => Self::Savepoint("RELEASE"),
            Statement::Discard { .. } => Self::Accept("DISCARD ALL"),
            Statement::Deallocate { .. } => Self::Accept("DEALLOCATE"),
            Statement::Reset(_) => Self::Accept("RESET"),
            _ => return None,
        })
    }

    /// The columns it answers with.
    pub fn fields(&self) -> Vec<FieldInfo> {
        match self {
            Self::Show(name) => vec![FieldInfo::new(
                name.clone(),
                None,
                None,
                Type::TEXT,
                FieldFormat::Text,
            )],
            _ => Vec::new(),
        }
    }

    /// Answers it for `session`, with columns in `format`; a parameter changed is returned
    /// with its new value, for the front door to report (`ParameterStatus`).
    pub fn answer(
        &self,
        session: &WireSession,
        format: FieldFormat,
    ) -> PgWireResult<(Response, Option<(String, String)>)> {
        Ok(match self {
            Self::Set { name, value } => {
                let name = match name.as_str() {
                    "time zone" => "timezone".to_owned(),
                    other => other.to_owned(),
                };
                if name != PURPOSE && !PARAMETERS.iter().any(|(known, _)| *known == name) {
                    return Err(unknown(&name));
                }
                let value = value
                    .clone()
                    .filter(|value| !value.eq_ignore_ascii_case("default"));
                session.set(name.clone(), value.clone());
                let reported = reported_name(&name).map(|reported| {
                    let value = session.get(&name).unwrap_or_default();
                    (reported.to_owned(), value)
                });
                (Response::Execution(Tag::new("SET")), reported)
            }
            Self::Show(name) => {
                let name = match name.as_str() {
                    "time zone" => "timezone",
                    "transaction isolation level" => "transaction_isolation",
                    other => other,
                };
                let value = session.get(name).ok_or_else(|| unknown(name))?;
                let field = FieldInfo::new(name.to_owned(), None, None, Type::TEXT, format);
                let fields = Arc::new(vec![field]);
                let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
                encoder.encode_field(&value)?;
                let row = encoder.take_row();
                let response = QueryResponse::new(fields, futures::stream::iter([Ok(row)]));
                (Response::Query(response), None)
            }
            Self::Begin => (Response::TransactionStart(Tag::new("BEGIN")), None),
            Self::Commit => (Response::TransactionEnd(Tag::new("COMMIT")), None),
            Self::Rollback => (Response::TransactionEnd(Tag::new("ROLLBACK")), None),
            Self::Accept(tag) | Self::Savepoint(tag) => (Response::Execution(Tag::new(tag)), None),
        })
    }
}

/// The name PostgreSQL reports a parameter under after a change (those it reports).
fn reported_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "application_name" => "application_name",
        "client_encoding" => "client_encoding",
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "timezone" => "TimeZone",
        "search_path" => "search_path",
        "standard_conforming_strings" => "standard_conforming_strings",
        _ => return None,
    })
}

fn unknown(name: &str) -> pgwire::error::PgWireError {
    sqlstate::response(
        "ERROR",
        "42704",
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// A `SET` value as text: quoted strings unquoted, lists joined as PostgreSQL shows them.
fn text_of(values: &[Expr]) -> String {
    values
        .iter()
        .map(|value| match value {
            Expr::Value(value) => match &value.value {
                Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => text.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options_give_settings_as_libpq_writes_them() {
        let settings =
            startup_settings("-c causeway.purpose=urban\\ planning -cDateStyle=ISO --search_path=public");
        assert_eq!(settings[PURPOSE], "urban planning");
        assert_eq!(settings["datestyle"], "ISO");
        assert_eq!(settings["search_path"], "public");
        assert!(startup_settings("").is_empty());
        assert!(startup_settings("-c").is_empty());
    }

    #[test]
    fn session_statements_are_recognised_and_the_rest_left_to_the_query_service() {
        let parse = |sql: &str| {
            datafusion::sql::sqlparser::parser::Parser::parse_sql(
                &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
                sql,
            )
            .expect("parses")
            .remove(0)
        };
        assert!(matches!(
            Local::of(&parse("SET causeway.purpose = 'testing'")),
            Some(Local::Set { name, value: Some(value) }) if name == PURPOSE && value == "testing"
        ));
        assert!(matches!(
            Local::of(&parse("SET search_path TO public")),
            Some(Local::Set { name, value: Some(value) }) if name == "search_path" && value == "public"
        ));
        assert!(
            matches!(Local::of(&parse("SHOW server_version")), Some(Local::Show(name)) if name == "server_version")
        );
        assert!(
            matches!(Local::of(&parse("SHOW causeway.purpose")), Some(Local::Show(name)) if name == PURPOSE)
        );
        assert!(
            matches!(Local::of(&parse("SHOW TIME ZONE")), Some(Local::Show(name)) if name == "time zone")
        );
        assert!(matches!(Local::of(&parse("BEGIN")), Some(Local::Begin)));
        assert!(Local::of(&parse("SELECT 1")).is_none());
    }
}
