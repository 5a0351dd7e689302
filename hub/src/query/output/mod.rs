//! Result formats. Each encoder turns record batches into bytes as they arrive, so a
//! result of any size streams through a small, constant amount of memory.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float16Type, Float32Type, Float64Type, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::writer::{
    Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder,
    WriterBuilder as JsonWriterBuilder, make_encoder,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;
use serde::Serialize;

mod csv;
use csv::CsvEncoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Ndjson,
    Csv,
    ArrowIpc,
    Parquet,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot answer in '{0}': accept application/json, application/x-ndjson, text/csv, \
     application/vnd.apache.arrow.stream or application/vnd.apache.parquet"
)]
pub struct UnsupportedFormat(pub String);

#[derive(Debug, thiserror::Error)]
#[error("cannot encode the result: {0}")]
pub struct EncodeError(String);

impl From<ArrowError> for EncodeError {
    fn from(error: ArrowError) -> Self {
        Self(error.to_string())
    }
}

impl From<ParquetError> for EncodeError {
    fn from(error: ParquetError) -> Self {
        Self(error.to_string())
    }
}

impl OutputFormat {
    /// The first media type of an `Accept` header that the hub can produce; JSON when the
    /// header is absent or accepts anything.
    pub fn from_accept(accept: Option<&str>) -> Result<Self, UnsupportedFormat> {
        let Some(accept) = accept.filter(|value| !value.trim().is_empty()) else {
            return Ok(Self::Json);
        };
        accept
            .split(',')
            .filter_map(|range| {
                let media_type = range.split(';').next().unwrap_or_default().trim();
                Self::from_media_type(&media_type.to_ascii_lowercase())
            })
            .next()
            .ok_or_else(|| UnsupportedFormat(accept.to_owned()))
    }

    fn from_media_type(media_type: &str) -> Option<Self> {
        Some(match media_type {
            "application/json" | "application/*" | "*/*" => Self::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/jsonlines" => {
                Self::Ndjson
            }
            "text/csv" | "text/*" => Self::Csv,
            "application/vnd.apache.arrow.stream" => Self::ArrowIpc,
            "application/vnd.apache.parquet" | "application/x-parquet" => Self::Parquet,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
            Self::ArrowIpc => "application/vnd.apache.arrow.stream",
            Self::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn encoder(self, query_id: &str, schema: SchemaRef) -> Result<Box<dyn BatchEncoder>, EncodeError> {
        Ok(match self {
            Self::Json => Box::new(JsonEncoder {
                query_id: query_id.to_owned(),
                schema,
                rows_written: false,
            }),
            Self::Ndjson => Box::new(NdjsonEncoder),
            Self::Csv => Box::new(CsvEncoder { schema }),
            Self::ArrowIpc => Box::new(ArrowIpcEncoder {
                writer: StreamWriter::try_new(Vec::new(), &schema)?,
            }),
            Self::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .build();
                Box::new(ParquetEncoder {
                    writer: Some(ArrowWriter::try_new(Vec::new(), schema, Some(properties))?),
                })
            }
        })
    }
}

/// Rows per Parquet row group: a row group is held in memory until it is complete.
const PARQUET_ROW_GROUP_ROWS: usize = 65_536;

/// Encodes a stream of batches: `begin` once, `batch` for each batch, `finish` once.
pub trait BatchEncoder: Send {
    fn begin(&mut self) -> Result<Bytes, EncodeError>;
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError>;
    fn finish(&mut self) -> Result<Bytes, EncodeError>;
}

/// The batch as newline-delimited JSON objects, nulls written out, NaN and the infinities
/// as strings.
fn json_lines(batch: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
    let mut writer = JsonWriterBuilder::new()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(NonFiniteFloats))
        .build::<_, LineDelimited>(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner())
}

/// JSON numbers have no NaN or infinities, and Arrow's JSON writer writes them as `null`,
/// which reads as a missing value. They are written as the strings `"NaN"`, `"Infinity"`
/// and `"-Infinity"` instead, as JavaScript's `Number()` and PostgreSQL's `to_json` spell
/// them; every finite float is written as Arrow writes it.
#[derive(Debug)]
pub(super) struct NonFiniteFloats;

/// Arrow's own encoders, for the finite values.
static ARROW_ENCODERS: LazyLock<EncoderOptions> = LazyLock::new(EncoderOptions::default);

impl EncoderFactory for NonFiniteFloats {
    fn make_default_encoder<'a>(
        &self,
        field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        let value: Box<dyn Fn(usize) -> f64 + 'a> = match array.data_type() {
            DataType::Float64 => {
                let values = array.as_primitive::<Float64Type>();
                Box::new(move |index| values.value(index))
            }
            DataType::Float32 => {
                let values = array.as_primitive::<Float32Type>();
                Box::new(move |index| f64::from(values.value(index)))
            }
            DataType::Float16 => {
                let values = array.as_primitive::<Float16Type>();
                Box::new(move |index| values.value(index).to_f64())
            }
            _ => return Ok(None),
        };
        let finite = make_encoder(field, array, &ARROW_ENCODERS)?;
        Ok(Some(NullableEncoder::new(
            Box::new(FloatEncoder { value, finite }),
            array.logical_nulls(),
        )))
    }
}

struct FloatEncoder<'a> {
    value: Box<dyn Fn(usize) -> f64 + 'a>,
    finite: NullableEncoder<'a>,
}

impl Encoder for FloatEncoder<'_> {
    fn encode(&mut self, index: usize, out: &mut Vec<u8>) {
        let value = (self.value)(index);
        if value.is_nan() {
            out.extend_from_slice(b"\"NaN\"");
        } else if value == f64::INFINITY {
            out.extend_from_slice(b"\"Infinity\"");
        } else if value == f64::NEG_INFINITY {
            out.extend_from_slice(b"\"-Infinity\"");
        } else {
            self.finite.encode(index, out);
        }
    }
}

/// `{"query_id": ..., "columns": [...], "rows": [...]}`, the rows written as they come.
struct JsonEncoder {
    query_id: String,
    schema: SchemaRef,
    rows_written: bool,
}

#[derive(Serialize)]
struct Head<'a> {
    query_id: &'a str,
    columns: Vec<Column>,
}

#[derive(Serialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
}

impl BatchEncoder for JsonEncoder {
    fn begin(&mut self) -> Result<Bytes, EncodeError> {
        let columns: Vec<Column> = self
            .schema
            .fields()
            .iter()
            .map(|field| Column {
                name: field.name().clone(),
                data_type: field.data_type().to_string(),
            })
            .collect();
        let head = Head {
            query_id: &self.query_id,
            columns,
        };
        let mut text = serde_json::to_string(&head).map_err(|error| EncodeError(error.to_string()))?;
        // Reopen the object to append the rows array as batches arrive.
        text.pop();
        text.push_str(",\"rows\":[");
        Ok(Bytes::from(text))
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError> {
        if batch.num_rows() == 0 {
            return Ok(Bytes::new());
        }
        let lines = json_lines(batch)?;
        let mut out = Vec::with_capacity(lines.len() + 1);
        if self.rows_written {
            out.push(b',');
        }
        // JSON strings escape newlines, so a raw newline only ever ends a row.
        let body = lines.strip_suffix(b"\n").unwrap_or(&lines);
        out.extend(body.iter().map(|byte| if *byte == b'\n' { b',' } else { *byte }));
        self.rows_written = true;
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, EncodeError> {
        Ok(Bytes::from_static(b"]}"))
    }
}

struct NdjsonEncoder;

impl BatchEncoder for NdjsonEncoder {
    fn begin(&mut self) -> Result<Bytes, EncodeError> {
        Ok(Bytes::new())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError> {
        Ok(Bytes::from(json_lines(batch)?))
    }

    fn finish(&mut self) -> Result<Bytes, EncodeError> {
        Ok(Bytes::new())
    }
}

struct ArrowIpcEncoder {
    writer: StreamWriter<Vec<u8>>,
}

impl ArrowIpcEncoder {
    fn drain(&mut self) -> Bytes {
        Bytes::from(std::mem::take(self.writer.get_mut()))
    }
}

impl BatchEncoder for ArrowIpcEncoder {
    fn begin(&mut self) -> Result<Bytes, EncodeError> {
        Ok(self.drain())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError> {
        self.writer.write(batch)?;
        Ok(self.drain())
    }

    fn finish(&mut self) -> Result<Bytes, EncodeError> {
        self.writer.finish()?;
        Ok(self.drain())
    }
}

/// Parquet written row group by row group: each completed row group leaves at once, and
/// the footer follows the last.
struct ParquetEncoder {
    writer: Option<ArrowWriter<Vec<u8>>>,
}

impl ParquetEncoder {
    fn writer(&mut self) -> Result<&mut ArrowWriter<Vec<u8>>, EncodeError> {
        self.writer
            .as_mut()
            .ok_or_else(|| EncodeError("the Parquet result is already complete".into()))
    }

    fn drain(&mut self) -> Result<Bytes, EncodeError> {
        Ok(Bytes::from(std::mem::take(self.writer()?.inner_mut())))
    }
}

impl BatchEncoder for ParquetEncoder {
    fn begin(&mut self) -> Result<Bytes, EncodeError> {
        self.drain()
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError> {
        self.writer()?.write(batch)?;
        self.drain()
    }

    fn finish(&mut self) -> Result<Bytes, EncodeError> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| EncodeError("the Parquet result is already complete".into()))?;
        Ok(Bytes::from(writer.into_inner()?))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: Vec<i64>, names: Vec<Option<&str>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap()
    }

    fn encode(format: OutputFormat, batches: &[RecordBatch]) -> Vec<u8> {
        let mut encoder = format.encoder("q1", batches[0].schema()).unwrap();
        let mut out = encoder.begin().unwrap().to_vec();
        for batch in batches {
            out.extend_from_slice(&encoder.batch(batch).unwrap());
        }
        out.extend_from_slice(&encoder.finish().unwrap());
        out
    }

    #[test]
    fn accept_headers_choose_the_format() {
        assert_eq!(OutputFormat::from_accept(None).unwrap(), OutputFormat::Json);
        assert_eq!(
            OutputFormat::from_accept(Some("*/*")).unwrap(),
            OutputFormat::Json
        );
        assert_eq!(
            OutputFormat::from_accept(Some("text/html, text/csv;q=0.9")).unwrap(),
            OutputFormat::Csv
        );
        assert_eq!(
            OutputFormat::from_accept(Some("application/vnd.apache.arrow.stream")).unwrap(),
            OutputFormat::ArrowIpc
        );
        assert!(OutputFormat::from_accept(Some("image/png")).is_err());
    }

    #[test]
    fn json_spans_batches_as_one_document() {
        let out = encode(
            OutputFormat::Json,
            &[
                batch(vec![1, 2], vec![Some("a\nb"), None]),
                batch(vec![], vec![]),
                batch(vec![3], vec![Some("c")]),
            ],
        );
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["query_id"], "q1");
        assert_eq!(
            value["columns"][0],
            serde_json::json!({"name": "id", "type": "Int64"})
        );
        assert_eq!(
            value["rows"],
            serde_json::json!([{"id": 1, "name": "a\nb"}, {"id": 2, "name": null}, {"id": 3, "name": "c"}])
        );
    }

    #[test]
    fn nan_and_infinities_are_strings_in_json_and_ndjson() {
        use datafusion::arrow::array::{Float32Array, Float64Array, StructArray};
        use datafusion::arrow::datatypes::Fields;
        let doubles = Float64Array::from(vec![
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(-0.0),
            Some(1.5),
            None,
        ]);
        let reals = Float32Array::from(vec![Some(f32::NAN), None, Some(2.5), None, None, None]);
        let nested = StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Float64, true)),
            Arc::new(doubles.clone()) as ArrayRef,
        )]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("d", DataType::Float64, true),
            Field::new("r", DataType::Float32, true),
            Field::new(
                "s",
                DataType::Struct(Fields::from(vec![Field::new("x", DataType::Float64, true)])),
                true,
            ),
        ]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(doubles), Arc::new(reals), Arc::new(nested)]).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&encode(OutputFormat::Json, std::slice::from_ref(&batch))).unwrap();
        let column = |name: &str| -> Vec<serde_json::Value> {
            json["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row[name].clone())
                .collect()
        };
        let expected = serde_json::json!(["NaN", "Infinity", "-Infinity", -0.0, 1.5, null]);
        assert_eq!(serde_json::Value::from(column("d")), expected);
        assert_eq!(
            serde_json::Value::from(column("r")),
            serde_json::json!(["NaN", null, 2.5, null, null, null])
        );
        let nested: Vec<serde_json::Value> = column("s").iter().map(|s| s["x"].clone()).collect();
        assert_eq!(serde_json::Value::from(nested), expected);
        let lines = String::from_utf8(encode(OutputFormat::Ndjson, &[batch])).unwrap();
        assert!(lines.starts_with("{\"d\":\"NaN\",\"r\":\"NaN\""), "{lines}");
    }

    #[test]
    fn empty_results_are_still_well_formed() {
        let empty = batch(vec![], vec![]);
        let json: serde_json::Value =
            serde_json::from_slice(&encode(OutputFormat::Json, std::slice::from_ref(&empty))).unwrap();
        assert_eq!(json["rows"], serde_json::json!([]));
        assert_eq!(encode(OutputFormat::Csv, &[empty]), b"id,name\n");
    }

    #[test]
    fn csv_has_one_header() {
        let out = encode(
            OutputFormat::Csv,
            &[batch(vec![1], vec![Some("a")]), batch(vec![2], vec![None])],
        );
        assert_eq!(String::from_utf8(out).unwrap(), "id,name\n1,a\n2,\n");
    }

    #[test]
    fn csv_writes_nested_values_as_their_json_text() {
        use datafusion::arrow::array::{Int64Builder, ListBuilder, StringArray};
        let mut lists = ListBuilder::new(Int64Builder::new());
        lists.values().append_value(1);
        lists.values().append_value(2);
        lists.append(true);
        lists.append(false);
        lists.append(true);
        let lists = lists.finish();
        let schema = Arc::new(Schema::new(vec![
            Field::new("roles", lists.data_type().clone(), true),
            Field::new("who", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(lists),
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("c")])),
            ],
        )
        .unwrap();
        let out = String::from_utf8(encode(OutputFormat::Csv, &[batch])).unwrap();
        assert_eq!(out, "roles,who\n\"[1,2]\",a\n,b\n[],c\n");
    }

    #[test]
    fn arrow_and_parquet_read_back() {
        let batches = [
            batch(vec![1, 2], vec![Some("a"), None]),
            batch(vec![3], vec![Some("c")]),
        ];
        let ipc = encode(OutputFormat::ArrowIpc, &batches);
        let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(&ipc[..], None).unwrap();
        let rows: usize = reader.map(|batch| batch.unwrap().num_rows()).sum();
        assert_eq!(rows, 3);

        let parquet = Bytes::from(encode(OutputFormat::Parquet, &batches));
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(parquet, 1024)
                .unwrap();
        let rows: usize = reader.map(|batch| batch.unwrap().num_rows()).sum();
        assert_eq!(rows, 3);
    }
}
