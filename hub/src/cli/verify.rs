//! `causeway verify`: whether records match a dataset's rows under the caller's verify-only
//! grants (`POST /v1/verify`), from the command line: one record given as `column=value`
//! arguments, or many from a CSV file (a header row of column names) or a JSON array of
//! objects.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use super::{HubArgs, HubClient};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The dataset, `department.name`.
    pub dataset: String,
    /// One record, as `column=value` pairs: `id_number=440605199001011234 'name=Chen Wei'`.
    #[arg(value_name = "COLUMN=VALUE", conflicts_with = "records")]
    pub fields: Vec<String>,
    /// Many records: a CSV file whose header names the columns, a JSON array of objects
    /// (a `.json` file), or `-` for CSV on standard input.
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
    /// Why the records are checked, e.g. benefit-eligibility.
    #[arg(long)]
    pub purpose: String,
    /// How the answers are written.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerifyFormat {
    /// One line per record: its number, yes, no or refused, and the columns that match (when
    /// the grant says) or why it was refused.
    Table,
    /// The hub's JSON answer.
    Json,
}

pub async fn run(args: VerifyArgs) -> Result<(), Box<dyn std::error::Error>> {
    let records = match &args.records {
        Some(path) => read_records(path)?,
        None if args.fields.is_empty() => {
            return Err("give a record as COLUMN=VALUE arguments, or records with --records FILE".into());
        }
        None => vec![record_of(&args.fields)?],
    };
    let answer: Value = HubClient::new(&args.hub)?
        .post(
            "/v1/verify",
            &json!({"dataset": args.dataset, "purpose": args.purpose, "records": records}),
        )
        .await?;
    match args.format {
        VerifyFormat::Json => println!("{answer}"),
        VerifyFormat::Table => print!("{}", table(&answer)),
    }
    // Nothing was answered: a script must not take the call for one that was.
    let results = answer["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !results.is_empty() && results.iter().all(|result| result["refused"].is_string()) {
        return Err("every record was refused: their people's attempts are used up for today".into());
    }
    Ok(())
}

/// One record from `column=value` arguments.
fn record_of(fields: &[String]) -> Result<Map<String, Value>, String> {
    let mut record = Map::new();
    for field in fields {
        let (column, value) = field
            .split_once('=')
            .ok_or_else(|| format!("'{field}' is not COLUMN=VALUE"))?;
        if record
            .insert(column.trim().to_owned(), Value::String(value.to_owned()))
            .is_some()
        {
            return Err(format!("'{column}' is given twice"));
        }
    }
    Ok(record)
}

/// The records of a CSV file (or standard input), or of a `.json` file's array of objects.
fn read_records(path: &std::path::Path) -> Result<Vec<Map<String, Value>>, String> {
    let shown = path.display();
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
    }
    if path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
    {
        return serde_json::from_str(&text)
            .map_err(|error| format!("{shown} is not a JSON array of objects: {error}"));
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|error| format!("{shown}: {error}"))?
        .clone();
    reader
        .records()
        .map(|row| {
            let row = row.map_err(|error| format!("{shown}: {error}"))?;
            Ok(header
                .iter()
                .zip(row.iter())
                .map(|(column, value)| (column.to_owned(), Value::String(value.to_owned())))
                .collect())
        })
        .collect()
}

/// The answers as lines: `RECORD MATCH COLUMNS`, numbered from 1 in the records' order.
fn table(answer: &Value) -> String {
    let mut out = format!("{:<8} {:<10} COLUMNS\n", "RECORD", "MATCH");
    let results = answer["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (index, result) in results.iter().enumerate() {
        let matched = match &result["match"] {
            Value::Bool(true) => "yes",
            Value::Bool(false) => "no",
            _ if result["refused"].is_string() => "refused",
            _ => "-",
        };
        let columns = result["columns"]
            .as_object()
            .map(|columns| {
                columns
                    .iter()
                    .map(|(column, agrees)| {
                        format!("{column}: {}", if agrees == true { "yes" } else { "no" })
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .or_else(|| result["refused"].as_str().map(|why| format!("({why})")))
            .unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!("{:<8} {:<10} {columns}\n", index + 1, matched));
    }
    let matched = results.iter().filter(|result| result["match"] == true).count();
    out.push_str(&format!(
        "{matched} of {} matched (verification {})\n",
        results.len(),
        answer["id"].as_str().unwrap_or("-")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_from_arguments_keeps_values_with_spaces_and_equals_signs() {
        let record =
            record_of(&["id_number=4406".into(), "name=Chen Wei".into(), "note=a=b".into()]).unwrap();
        assert_eq!(
            Value::Object(record),
            json!({"id_number": "4406", "name": "Chen Wei", "note": "a=b"})
        );
        assert!(record_of(&["name".into()]).is_err());
        assert!(record_of(&["name=a".into(), "name=b".into()]).is_err());
    }

    #[test]
    fn the_table_says_per_record_whether_it_matched() {
        let answer = json!({"id": "v1", "results": [
            {"match": true},
            {"match": false, "columns": {"id_number": true, "name": false}},
            {"match": null, "refused": "subject_attempts_exhausted"},
        ]});
        let shown = table(&answer);
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].starts_with("1        yes"), "{shown}");
        assert!(lines[2].contains("id_number: yes, name: no"), "{shown}");
        assert_eq!(
            lines[3], "3        refused    (subject_attempts_exhausted)",
            "{shown}"
        );
        assert_eq!(lines[4], "1 of 3 matched (verification v1)");
    }
}
