use std::io::{IsTerminal, Write};
use std::path::PathBuf;

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
    /// How the rows are written.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of the terminal (a progress bar counts the rows).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Aligned tables of up to 1000 rows each, printed as the rows arrive.
    Table,
    /// CSV with a header row, printed as rows arrive.
    Csv,
    /// The hub's JSON document, printed as rows arrive.
    Json,
    /// Newline-delimited JSON, one object per row.
    Ndjson,
    /// An Arrow IPC stream (binary: use --out, or a pipe).
    Arrow,
    /// A Parquet file, compressed with zstd (binary: use --out, or a pipe).
    Parquet,
}

impl Format {
    /// The encoder of the formats written as the hub writes them; none for tables.
    fn output(self) -> Option<OutputFormat> {
        match self {
            Self::Table => None,
            Self::Csv => Some(OutputFormat::Csv),
            Self::Json => Some(OutputFormat::Json),
            Self::Ndjson => Some(OutputFormat::Ndjson),
            Self::Arrow => Some(OutputFormat::ArrowIpc),
            Self::Parquet => Some(OutputFormat::Parquet),
        }
    }
}

/// Rows per printed table: a long result is printed in pages, never held whole.
const TABLE_PAGE_ROWS: usize = 1000;

pub async fn run(args: QueryArgs) -> Result<(), Box<dyn std::error::Error>> {
    let binary = matches!(args.format, Format::Arrow | Format::Parquet);
    if binary && args.out.is_none() && std::io::stdout().is_terminal() {
        return Err(format!(
            "{:?} is binary: write it to a file with --out FILE, or pipe it",
            args.format
        )
        .to_lowercase()
        .into());
    }
    // A file is written beside its final name and renamed when complete: a failed query
    // leaves no half-written file behind.
    let partial = args.out.as_ref().map(|out| {
        let mut name = out.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        out.with_file_name(name)
    });
    let result = write_result(&args, partial.as_deref()).await;
    if let (Some(partial), Err(_)) = (&partial, &result) {
        let _ = std::fs::remove_file(partial);
    }
    result
}

/// Runs the query and writes its rows to `partial` (then renamed to `--out`) or stdout.
async fn write_result(
    args: &QueryArgs,
    partial: Option<&std::path::Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = HubClient::new(&args.hub)?;
    let progress = super::terminal::spinner("running the query");
    let (query_id, batches) = client.query(&args.sql, &args.purpose).await?;
    let mut batches = Box::pin(batches);
    let mut stdout: Box<dyn Write> = match partial {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut rows = 0usize;
    let mut page: Vec<RecordBatch> = Vec::new();
    let mut page_rows = 0usize;
    let mut printed_a_page = false;
    let mut encoder = None;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        progress.set_message(format!("{rows} rows"));
        match args.format {
            Format::Table => {
                let mut offset = 0;
                // An empty batch still brings the columns of an empty result.
                if batch.num_rows() == 0 {
                    page.push(batch.clone());
                }
                while offset < batch.num_rows() {
                    let take = (TABLE_PAGE_ROWS - page_rows).min(batch.num_rows() - offset);
                    page.push(batch.slice(offset, take));
                    (offset, page_rows) = (offset + take, page_rows + take);
                    if page_rows == TABLE_PAGE_ROWS {
                        let table = pretty_format_batches(&page)?;
                        progress.suspend(|| writeln!(stdout, "{table}"))?;
                        (page, page_rows, printed_a_page) = (Vec::new(), 0, true);
                    }
                }
            }
            format => {
                let Some(format) = format.output() else { continue };
                let encoder = match &mut encoder {
                    Some(encoder) => encoder,
                    None => {
                        let mut new = format.encoder(&query_id, batch.schema())?;
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
            // The last page, or the columns of an empty result.
            if page_rows > 0 || !printed_a_page {
                writeln!(stdout, "{}", pretty_format_batches(&page)?)?;
            }
            writeln!(stdout, "{rows} {}", if rows == 1 { "row" } else { "rows" })?;
        }
        (Format::Json, Some(mut encoder)) => {
            stdout.write_all(&encoder.finish()?)?;
            writeln!(stdout)?;
        }
        (_, Some(mut encoder)) => stdout.write_all(&encoder.finish()?)?,
        (_, None) => {}
    }
    stdout.flush()?;
    drop(stdout);
    if let (Some(partial), Some(out)) = (partial, &args.out) {
        std::fs::rename(partial, out).map_err(|error| format!("cannot write {}: {error}", out.display()))?;
        eprintln!(
            "{rows} {} written to {}",
            if rows == 1 { "row" } else { "rows" },
            out.display()
        );
    }
    Ok(())
}
