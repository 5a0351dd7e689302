//! Configuration errors as sentences. figment's own say an unknown setting's alternatives
//! inside nested backquotes (`` unknown field: found `listn`, expected `one of `listen`, ...` ``)
//! and name an environment variable by its key; these name the variable or the file's key,
//! and list the section's settings.

use figment::Source;
use figment::error::Kind;

/// `error`'s complaints, one sentence each, joined.
pub fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|error| sentence(&error))
        .collect::<Vec<_>>()
        .join("; ")
}

fn sentence(error: &figment::Error) -> String {
    let Kind::UnknownField(field, expected) = &error.kind else {
        return error.to_string();
    };
    let mut section: Vec<&str> = error.path.iter().map(String::as_str).collect();
    if section.last() == Some(&field.as_str()) {
        section.pop();
    }
    let key: Vec<&str> = section.iter().copied().chain([field.as_str()]).collect();
    let source = error.metadata.as_ref();
    let named = match source.and_then(|metadata| metadata.source.as_ref()) {
        Some(Source::File(path)) => format!("{} in {}", key.join("."), path.display()),
        // The environment: the variable as it was set.
        _ if source.is_some_and(|metadata| metadata.name.contains("environment")) => {
            format!("CAUSEWAY_{}", key.join("__").to_uppercase())
        }
        _ => key.join("."),
    };
    let table = if section.is_empty() {
        "the file's top level".to_owned()
    } else {
        format!("[{}]", section.join("."))
    };
    format!("{named} is not a setting; {table} has {}", expected.join(", "))
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail runs closures that return its own, large error"
)]
mod tests {
    use crate::config::Config;

    /// A misspelt setting, in the environment or in the file, is named as it was written,
    /// with the settings it could have been.
    #[test]
    fn an_unknown_setting_is_named_with_the_settings_there_are() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAUSEWAY_SERVER__LISTN", "0.0.0.0:9100");
            let message = Config::load(None).expect_err("refused").to_string();
            assert!(
                message.contains("CAUSEWAY_SERVER__LISTN is not a setting; [server] has listen, "),
                "{message}"
            );
            assert!(!message.contains("``"), "{message}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "[limits]\nquery_timeot = \"30s\"\n")?;
            let path = jail.directory().join("hub.toml");
            let message = Config::load(Some(&path)).expect_err("refused").to_string();
            assert!(
                message.contains(&format!(
                    "limits.query_timeot in {} is not a setting; [limits] has ",
                    path.display()
                )) && message.contains("query_timeout"),
                "{message}"
            );
            Ok(())
        });
    }
}
