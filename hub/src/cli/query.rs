use std::io::Write;

use clap::{Args, ValueEnum};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::StreamExt;

use super::{HubArgs, HubClient};
use crate::query::output::OutputFormat;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL: one SELECT, WITH, VALUES or EXPLAIN.
    pub sql: String,
    /// Why the query is run, e.g. housing-subsidy-review.
    #[arg(long)]
    pub purpose: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// An aligned table (the whole result is read before printing).
    Table,
    /// CSV with a header row, printed as rows arrive.
    Csv,
    /// The hub's JSON document, printed as rows arrive.
    Json,
}

pub async fn run(args: QueryArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = HubClient::new(&args.hub)?;
    let progress = super::terminal::spinner("running the query");
    let mut batches = Box::pin(client.query(&args.sql, &args.purpose).await?);
    let mut stdout = std::io::stdout().lock();
    let mut rows = 0usize;
    let mut collected: Vec<RecordBatch> = Vec::new();
    let mut encoder = None;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        progress.set_message(format!("{rows} rows"));
        match args.format {
            Format::Table => collected.push(batch),
            Format::Csv | Format::Json => {
                let format = if matches!(args.format, Format::Csv) {
                    OutputFormat::Csv
                } else {
                    OutputFormat::Json
                };
                let encoder = match &mut encoder {
                    Some(encoder) => encoder,
                    None => {
                        let mut new = format.encoder("", batch.schema())?;
                        stdout.write_all(&new.begin()?)?;
                        encoder.insert(new)
                    }
                };
                stdout.write_all(&encoder.batch(&batch)?)?;
            }
        }
    }
    progress.finish_and_clear();
    match (args.format, encoder) {
        (Format::Table, _) => {
            writeln!(stdout, "{}", pretty_format_batches(&collected)?)?;
            writeln!(stdout, "{rows} {}", if rows == 1 { "row" } else { "rows" })?;
        }
        (_, Some(mut encoder)) => stdout.write_all(&encoder.finish()?)?,
        (_, None) => {}
    }
    if matches!(args.format, Format::Json) {
        writeln!(stdout)?;
    }
    Ok(())
}
