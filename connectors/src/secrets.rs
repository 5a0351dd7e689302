//! Secrets in connection settings: `${env:NAME}` references resolved at connect time, and
//! the redaction that keeps resolved values out of anything shown to people.

use secrecy::{ExposeSecret, SecretString};

use crate::error::ConnectorError;

/// Replaces every `${env:NAME}` in `template` with the value of the environment variable
/// `NAME`. A missing variable is an error naming the variable, never its value.
pub fn resolve_env_references(template: &SecretString) -> Result<SecretString, ConnectorError> {
    resolve_with(template.expose_secret(), |name| std::env::var(name).ok()).map(SecretString::from)
}

fn resolve_with(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConnectorError> {
    let mut resolved = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${env:") {
        resolved.push_str(&rest[..start]);
        let after = &rest[start + "${env:".len()..];
        let end = after
            .find('}')
            .ok_or_else(|| ConnectorError::Settings("an ${env:...} reference is not closed".into()))?;
        let name = &after[..end];
        let value = lookup(name).ok_or_else(|| ConnectorError::MissingEnvironmentVariable(name.into()))?;
        resolved.push_str(&value);
        rest = &after[end + 1..];
    }
    resolved.push_str(rest);
    Ok(resolved)
}

/// Removes every occurrence of each secret from a message before it is logged or returned.
pub fn redact(message: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| secret.len() >= 3)
        .fold(message.to_owned(), |text, secret| {
            text.replace(secret, "[redacted]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_resolved_in_place() {
        let lookup = |name: &str| (name == "PG_PASS").then(|| "s3cret".to_owned());
        assert_eq!(
            resolve_with("postgres://app:${env:PG_PASS}@db/x", lookup).unwrap(),
            "postgres://app:s3cret@db/x"
        );
        assert_eq!(resolve_with("no references", lookup).unwrap(), "no references");
    }

    #[test]
    fn a_missing_variable_is_named_without_a_value() {
        let error = resolve_with("a ${env:NOPE} b", |_| None).unwrap_err();
        assert_eq!(error.to_string(), "environment variable NOPE is not set");
        assert!(resolve_with("${env:OPEN", |_| None).is_err());
    }

    #[test]
    fn redaction_hides_every_occurrence() {
        assert_eq!(
            redact("auth failed for s3cret (s3cret)", &["s3cret"]),
            "auth failed for [redacted] ([redacted])"
        );
    }
}
