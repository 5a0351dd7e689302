//! Parquet, CSV and NDJSON sources: one file or a directory of files, read with
//! DataFusion's listing tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::{Contract, SourceTyping};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::TableParquetOptions;
use datafusion::common::stats::Precision;
use datafusion::datasource::file_format::FileFormat as ListingFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::{StatisticsArgs, StatisticsContext};
use tokio::io::AsyncReadExt;

use crate::error::{ConnectorError, Result};
use crate::exact_decimals::ExactDecimals;
use crate::kind::{RawSource, Shared, SourceKind};
use crate::published::PublishedTable;
use crate::settings::ConnectorSettings;
use crate::sql::roundings;

/// How the files of a file source are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Parquet,
    Csv { delimiter: char },
    Ndjson,
}

/// One file, or a directory of files of one format, inside the file roots.
pub(crate) struct FileSet<'a> {
    pub path: &'a str,
    pub format: FileFormat,
}

#[async_trait]
impl SourceKind for FileSet<'_> {
    fn check(&self, shared: Shared<'_>) -> Result<()> {
        allowed_path(shared.settings, self.path).map(|_| ())
    }

    async fn open(
        &self,
        shared: Shared<'_>,
        contract: &Contract,
        session: &dyn Session,
    ) -> Result<RawSource> {
        let path = allowed_path(shared.settings, self.path)?;
        let source = match self.format {
            FileFormat::Parquet => parquet(&path, session).await?,
            FileFormat::Csv { delimiter } => csv(&path, delimiter, contract).await?,
            FileFormat::Ndjson => ndjson(&path, contract, session).await?,
        };
        Ok(RawSource {
            table: source.table,
            checked_schema: source.checked_schema,
            typing: source.typing,
            pushdown: None,
            stop: None,
        })
    }

    async fn estimate_rows(
        &self,
        shared: Shared<'_>,
        table: &PublishedTable,
        session: &dyn Session,
    ) -> Result<Option<u64>> {
        // The path as `open` resolved it: a relative one is under the first file root, not
        // the process's working directory.
        let path = allowed_path(shared.settings, self.path)?;
        estimate_rows(&path, self.format, table, session).await
    }

    fn advice(&self, location: &str) -> String {
        format!(
            "that {location} exists, the hub may read it, and every file is whole and has the contract's columns"
        )
    }

    fn files(&self, shared: Shared<'_>) -> Option<PathBuf> {
        allowed_path(shared.settings, self.path).ok()
    }
}

/// A file source as DataFusion reads it, and the schema to check the contract against.
struct FileSource {
    table: Arc<dyn TableProvider>,
    checked_schema: SchemaRef,
    typing: SourceTyping,
}

/// Resolves a source path (relative paths against the first file root) and refuses any
/// path that is not inside one of the configured roots once links are followed.
pub(crate) fn allowed_path(settings: &ConnectorSettings, path: &str) -> Result<PathBuf> {
    let requested = Path::new(path);
    let joined = match (requested.is_absolute(), settings.file_roots.first()) {
        (true, _) | (false, None) => requested.to_path_buf(),
        (false, Some(root)) => root.join(requested),
    };
    // Outside the roots as written is refused before the file system is asked, so that
    // whether a file exists outside them is never told.
    let written = lexical(&joined);
    let inside_as_written = settings.file_roots.iter().any(|root| {
        written.starts_with(lexical(root)) || root.canonicalize().is_ok_and(|root| written.starts_with(root))
    });
    if !inside_as_written {
        return Err(ConnectorError::PathNotAllowed(path.to_owned()));
    }
    let resolved = joined
        .canonicalize()
        .map_err(|_| ConnectorError::NotFound(format!("'{path}'")))?;
    // And once links are followed: a link inside a root may point out of it.
    let inside = settings
        .file_roots
        .iter()
        .any(|root| root.canonicalize().is_ok_and(|root| resolved.starts_with(root)));
    if inside {
        Ok(resolved)
    } else {
        Err(ConnectorError::PathNotAllowed(path.to_owned()))
    }
}

/// `path` made absolute with `.` and `..` taken out by their names, without asking the file
/// system.
fn lexical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut clean = PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

async fn parquet(path: &Path, session: &dyn Session) -> Result<FileSource> {
    // The session's Parquet settings (statistics, bloom filters, string types) apply.
    let options = TableParquetOptions {
        global: session.config_options().execution.parquet.clone(),
        ..Default::default()
    };
    let format = ParquetFormat::default().with_options(options);
    let (options, url) = listing(path, Arc::new(format), "parquet")?;
    let schema = infer(&options, &url, session, "parquet", path).await?;
    Ok(FileSource {
        table: listing_table(url, options, Arc::clone(&schema), "parquet", path)?,
        checked_schema: schema,
        typing: SourceTyping::Declared,
    })
}

/// CSV has no types of its own: they are guessed from a sample to check the contract, and
/// the file is then read with the contract's types for the contract's columns.
///
/// Files are read as RFC 4180 says: a quoted field may hold line breaks (so a file is never
/// split at an arbitrary newline to be read in parallel), quotes inside one are doubled,
/// lines may end in CRLF, and a UTF-8 byte-order mark before the header is not part of the
/// first column's name.
async fn csv(path: &Path, delimiter: char, contract: &Contract) -> Result<FileSource> {
    let delimiter = u8::try_from(delimiter).ok().filter(u8::is_ascii).ok_or_else(|| {
        ConnectorError::InvalidSource("the CSV delimiter must be one ASCII character".into())
    })?;
    let format = CsvFormat::default()
        .with_has_header(true)
        .with_delimiter(delimiter)
        .with_newlines_in_values(true);
    let (options, url) = listing(path, Arc::new(format), "csv")?;
    let guessed = without_byte_order_mark(&infer_csv(path, delimiter).await?);
    let read_schema = with_contract_types(&guessed, contract);
    // Decimals are read as text and converted exactly (see `ExactDecimals`).
    let text = listing_table(
        url,
        options,
        ExactDecimals::read_as_text(&read_schema),
        "csv",
        path,
    )?;
    Ok(FileSource {
        table: Arc::new(ExactDecimals::new(text, read_schema, roundings(contract))),
        checked_schema: guessed,
        typing: SourceTyping::Inferred,
    })
}

/// The types of a CSV source, guessed from the header and first 1,000 records of its first
/// file by a reader that follows the quotes (DataFusion 55's inference cuts the file into
/// pieces at newlines, so a quoted line break near a piece's end breaks a record).
async fn infer_csv(path: &Path, delimiter: u8) -> Result<SchemaRef> {
    let mut files = text_files(path).await;
    files.retain(|(file, _)| !path.is_dir() || file.extension().is_some_and(|extension| extension == "csv"));
    files.sort();
    let Some((first, _)) = files.into_iter().next() else {
        return Err(ConnectorError::NoFiles {
            kind: "csv",
            location: path.display().to_string(),
        });
    };
    let location = path.display().to_string();
    let failed = |error: Box<dyn std::error::Error + Send + Sync>| ConnectorError::Source {
        kind: "csv",
        location: location.clone(),
        message: "the header and first records do not read as CSV".to_owned(),
        source: error,
    };
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&first)?;
        let format = datafusion::arrow::csv::reader::Format::default()
            .with_header(true)
            .with_delimiter(delimiter);
        let (schema, _) = format.infer_schema(std::io::BufReader::new(file), Some(1000))?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Arc::new(schema))
    })
    .await
    .map_err(|error| failed(Box::new(error)))?
    .map_err(failed)
}

/// The schema with a UTF-8 byte-order mark taken off the first column's name. The reader
/// matches columns by position and skips the header line, so the mark is read nowhere else.
fn without_byte_order_mark(schema: &SchemaRef) -> SchemaRef {
    let Some(first) = schema.fields().first() else {
        return Arc::clone(schema);
    };
    let Some(name) = first.name().strip_prefix('\u{feff}') else {
        return Arc::clone(schema);
    };
    let renamed = first.as_ref().clone().with_name(name);
    let rest = schema.fields().iter().skip(1).map(|field| field.as_ref().clone());
    Arc::new(Schema::new(
        std::iter::once(renamed).chain(rest).collect::<Vec<_>>(),
    ))
}

async fn ndjson(path: &Path, contract: &Contract, session: &dyn Session) -> Result<FileSource> {
    let format = JsonFormat::default().with_schema_infer_max_rec(1000);
    let (options, url) = listing(path, Arc::new(format), "ndjson")?;
    let guessed = infer(&options, &url, session, "ndjson", path).await?;
    let read_schema = with_contract_types(&guessed, contract);
    // Decimals are read with every fraction digit that fits and converted exactly.
    let wide = listing_table(
        url,
        options,
        ExactDecimals::read_as_wide(&read_schema),
        "ndjson",
        path,
    )?;
    Ok(FileSource {
        table: Arc::new(ExactDecimals::new(wide, read_schema, roundings(contract))),
        checked_schema: guessed,
        typing: SourceTyping::Loose,
    })
}

/// The guessed schema with the contract's type for each contract field, and text for the
/// columns the contract does not publish (they are never read, but must still parse).
fn with_contract_types(guessed: &Schema, contract: &Contract) -> SchemaRef {
    let fields: Vec<Field> = guessed
        .fields()
        .iter()
        .map(|column| match contract.field(column.name()) {
            Some(field) => Field::new(column.name(), field.data_type.clone(), true),
            None => Field::new(column.name(), DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn listing(
    path: &Path,
    format: Arc<dyn ListingFormat>,
    kind: &'static str,
) -> Result<(ListingOptions, ListingTableUrl)> {
    let extension = if path.is_dir() {
        match kind {
            "parquet" => ".parquet",
            "csv" => ".csv",
            _ => ".json",
        }
    } else {
        ""
    };
    let options = ListingOptions::new(format).with_file_extension(extension);
    let mut location = path.to_string_lossy().into_owned();
    if path.is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let url = ListingTableUrl::parse(&location).map_err(|error| source_error(kind, path, error))?;
    Ok((options, url))
}

async fn infer(
    options: &ListingOptions,
    url: &ListingTableUrl,
    session: &dyn Session,
    kind: &'static str,
    path: &Path,
) -> Result<SchemaRef> {
    options.infer_schema(session, url).await.map_err(|error| {
        let message = error.message().to_string();
        if message.contains("No files found") {
            ConnectorError::NoFiles {
                kind,
                location: path.display().to_string(),
            }
        } else {
            ConnectorError::Source {
                kind,
                location: path.display().to_string(),
                message,
                source: Box::new(error),
            }
        }
    })
}

fn listing_table(
    url: ListingTableUrl,
    options: ListingOptions,
    schema: SchemaRef,
    kind: &'static str,
    path: &Path,
) -> Result<Arc<dyn TableProvider>> {
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|error| source_error(kind, path, error))?;
    Ok(Arc::new(table))
}

fn source_error(kind: &'static str, path: &Path, error: DataFusionError) -> ConnectorError {
    ConnectorError::unreadable(kind, path.display().to_string(), error)
}

/// Parquet keeps exact row counts in its footers; for text files the count is estimated from
/// their total size and the average size of the first lines.
async fn estimate_rows(
    path: &Path,
    format: FileFormat,
    table: &PublishedTable,
    session: &dyn Session,
) -> Result<Option<u64>> {
    if format == FileFormat::Parquet {
        let plan = table
            .scan(session, Some(&vec![]), &[], None)
            .await
            .map_err(|error| source_error("parquet", path, error))?;
        let statistics = StatisticsContext::new()
            .compute(plan.as_ref(), &StatisticsArgs::new())
            .map_err(|error| source_error("parquet", path, error))?;
        return Ok(match statistics.num_rows {
            Precision::Exact(rows) | Precision::Inexact(rows) => Some(rows as u64),
            Precision::Absent => None,
        });
    }
    let files = text_files(path).await;
    let total_bytes: u64 = files.iter().map(|(_, size)| size).sum();
    let Some((first, _)) = files.first() else {
        return Ok(Some(0));
    };
    let mut sample = Vec::with_capacity(64 * 1024);
    let read = tokio::fs::File::open(first)
        .await
        .map(|file| file.take(64 * 1024));
    if let Ok(mut reader) = read {
        let _ = reader.read_to_end(&mut sample).await;
    }
    let lines = sample.iter().filter(|byte| **byte == b'\n').count() as u64;
    let header_lines = u64::from(matches!(format, FileFormat::Csv { .. }));
    if lines <= header_lines {
        return Ok(Some(lines.saturating_sub(header_lines)));
    }
    let bytes_per_line = sample.len() as u64 / lines;
    Ok(Some(
        (total_bytes / bytes_per_line.max(1)).saturating_sub(header_lines * files.len() as u64),
    ))
}

async fn text_files(path: &Path) -> Vec<(PathBuf, u64)> {
    let mut files = Vec::new();
    if let Ok(metadata) = tokio::fs::metadata(path).await {
        if metadata.is_file() {
            files.push((path.to_path_buf(), metadata.len()));
        } else if let Ok(mut entries) = tokio::fs::read_dir(path).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                if let Ok(metadata) = entry.metadata().await
                    && metadata.is_file()
                {
                    files.push((entry.path(), metadata.len()));
                }
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside the file roots, a path that exists and one that does not get the same answer:
    /// publishing tells nothing about the rest of the machine.
    #[test]
    fn paths_outside_the_roots_are_refused_before_they_are_looked_for() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("inside.csv"), "a\n1\n").unwrap();
        let settings = ConnectorSettings {
            file_roots: vec![root.path().to_path_buf()],
            ..ConnectorSettings::default()
        };
        assert!(allowed_path(&settings, "inside.csv").is_ok());
        for outside in [
            "/etc/passwd",
            "/etc/no-such-file",
            "../../etc/passwd",
            "inside/../../x",
        ] {
            assert!(
                matches!(
                    allowed_path(&settings, outside),
                    Err(ConnectorError::PathNotAllowed(_))
                ),
                "{outside}"
            );
        }
        assert!(matches!(
            allowed_path(&settings, "missing.csv"),
            Err(ConnectorError::NotFound(_))
        ));
    }
}
