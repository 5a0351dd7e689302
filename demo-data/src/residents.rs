//! civil_affairs.residents: Parquet, sorted by ID number, with pages and a bloom filter for lookups.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use crate::district::{District, Resident, TOWNS, push_address, push_grid_id, push_name};
use crate::text::push_number;
use crate::{
    GenerateError, LOOKUP_PAGE_ROWS, PROGRESS_EVERY, ROW_GROUP_ROWS, arrow_error, io_error, parquet_error,
};

pub(crate) fn residents_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("id_number", false),
        text("name", false),
        text("gender", false),
        Field::new("birth_date", DataType::Date32, false),
        text("phone", true),
        text("address", false),
        text("town", false),
        text("grid_id", false),
        text("household_id", false),
    ]))
}

/// ZSTD, row groups of 65,536 rows, page statistics, and a Bloom filter on `id_number` so
/// that a lookup of one number reads only the row group that holds it.
pub(crate) fn write_residents(
    path: &Path,
    district: &District,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<usize, GenerateError> {
    let schema = residents_schema();
    // Sorted by ID number, with statistics per page, a lookup by ID number is pruned to one
    // row group by its statistics and to one page of each column by the page index; the
    // bloom filter answers for numbers that are not in the register.
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(LOOKUP_PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_bloom_filter_enabled(ColumnPath::from("id_number"), true)
        .build();
    let mut by_id_number: Vec<&Resident> = district.residents.iter().collect();
    by_id_number.sort_unstable_by(|a, b| a.id_number.cmp(&b.id_number));
    let file = File::create(path).map_err(io_error(path))?;
    let mut writer = ArrowWriter::try_new(BufWriter::new(file), Arc::clone(&schema), Some(properties))
        .map_err(parquet_error(path))?;
    let total = district.residents.len();
    progress("residents", 0, total as u64);
    let mut done = 0;
    for chunk in by_id_number.chunks(PROGRESS_EVERY) {
        let batch = residents_batch(&schema, chunk).map_err(arrow_error(path))?;
        writer.write(&batch).map_err(parquet_error(path))?;
        done += chunk.len();
        progress("residents", done as u64, total as u64);
    }
    writer
        .into_inner()
        .map_err(parquet_error(path))?
        .flush()
        .map_err(io_error(path))?;
    Ok(total)
}

pub(crate) fn residents_batch(
    schema: &SchemaRef,
    residents: &[&Resident],
) -> Result<RecordBatch, ArrowError> {
    let rows = residents.len();
    let mut id_number = StringBuilder::with_capacity(rows, rows * 18);
    let mut name = StringBuilder::with_capacity(rows, rows * 9);
    let mut gender = StringBuilder::with_capacity(rows, rows);
    let mut birth_date = Date32Builder::with_capacity(rows);
    let mut phone = StringBuilder::with_capacity(rows, rows * 11);
    let mut address = StringBuilder::with_capacity(rows, rows * 48);
    let mut town = StringBuilder::with_capacity(rows, rows * 8);
    let mut grid_id = StringBuilder::with_capacity(rows, rows * 6);
    let mut household_id = StringBuilder::with_capacity(rows, rows * 11);
    let mut text = String::new();
    for resident in residents {
        id_number.append_value(&resident.id_number);
        text.clear();
        push_name(&mut text, resident.name, resident.male);
        name.append_value(&text);
        gender.append_value(if resident.male { "M" } else { "F" });
        birth_date.append_value(resident.birth.0);
        match resident.phone {
            Some(number) => {
                text.clear();
                push_number(&mut text, number.get(), 11);
                phone.append_value(&text);
            }
            None => phone.append_null(),
        }
        text.clear();
        push_address(&mut text, resident.address);
        address.append_value(&text);
        town.append_value(TOWNS[usize::from(resident.address.town)].name);
        text.clear();
        push_grid_id(&mut text, resident.address.town, resident.address.grid);
        grid_id.append_value(&text);
        text.push('-');
        push_number(&mut text, u64::from(resident.household), 4);
        household_id.append_value(&text);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id_number.finish()),
        Arc::new(name.finish()),
        Arc::new(gender.finish()),
        Arc::new(birth_date.finish()),
        Arc::new(phone.finish()),
        Arc::new(address.finish()),
        Arc::new(town.finish()),
        Arc::new(grid_id.finish()),
        Arc::new(household_id.finish()),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns)
}
