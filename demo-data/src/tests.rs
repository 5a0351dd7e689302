//! The generated district and its files.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::database::InsertBatches;
use crate::district::TOWNS;
use crate::enrolments::Scheme;
use crate::text::{Dialect, push_csv_field, push_hundredths, push_iso_date, push_number, push_sql_string};

/// Small enough to be fast, large enough for a few grids per town and two INSERT batches.
const TINY: usize = 3_000;

fn generate(dir: &Path) -> Generated {
    generate_into(dir, TINY, &|_, _, _| {}).unwrap()
}

/// Resident id number -> town, read back from the Parquet file.
fn resident_towns(dir: &Path) -> HashMap<String, String> {
    let file = File::open(dir.join(RESIDENTS_FILE)).unwrap();
    let mut towns = HashMap::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let ids = batch.column(0).as_string::<i32>();
        let town = batch.column(6).as_string::<i32>();
        for row in 0..batch.num_rows() {
            towns.insert(ids.value(row).to_owned(), town.value(row).to_owned());
        }
    }
    towns
}

fn is_money(text: &str) -> bool {
    let Some((units, cents)) = text.split_once('.') else {
        return false;
    };
    !units.is_empty()
        && units.bytes().all(|b| b.is_ascii_digit())
        && cents.len() == 2
        && cents.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn the_same_size_gives_identical_files() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    assert_eq!(generate(first.path()), generate(second.path()));
    for file in [RESIDENTS_FILE, PARCELS_FILE, ENROLMENTS_FILE, ENTERPRISES_FILE] {
        let first = fs::read(first.path().join(file)).unwrap();
        let second = fs::read(second.path().join(file)).unwrap();
        assert!(
            !first.is_empty() && first == second,
            "{file} differs between runs"
        );
    }
}

#[test]
fn residents_have_valid_unique_numbers_matching_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    assert_eq!(generated.residents, TINY);
    let file = File::open(dir.path().join(RESIDENTS_FILE)).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let id_column = reader.metadata().row_group(0).column(0);
    assert_eq!(id_column.column_path().string(), "id_number");
    assert!(
        id_column.bloom_filter_offset().is_some(),
        "no Bloom filter on id_number"
    );
    let mut seen = HashSet::new();
    let mut towns = HashSet::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let ids = batch.column(0).as_string::<i32>();
        let names = batch.column(1).as_string::<i32>();
        let genders = batch.column(2).as_string::<i32>();
        let births = batch.column(3).as_primitive::<Date32Type>();
        let phones = batch.column(4).as_string::<i32>();
        let addresses = batch.column(5).as_string::<i32>();
        let grids = batch.column(7).as_string::<i32>();
        let households = batch.column(8).as_string::<i32>();
        for row in 0..batch.num_rows() {
            let id = ids.value(row);
            assert!(ids::is_valid_resident_id(id), "invalid {id}");
            assert!(seen.insert(id.to_owned()), "duplicate {id}");
            let male = (id.as_bytes()[16] - b'0') % 2 == 1;
            assert_eq!(genders.value(row), if male { "M" } else { "F" }, "{id}");
            let birth = Day(births.value(row));
            let mut birth_text = String::new();
            push_iso_date(&mut birth_text, birth);
            assert_eq!(birth_text.replace('-', ""), id[6..14], "{id}");
            let age = birth.years_until(REFERENCE_DAY);
            assert!(age <= 95 && birth <= REFERENCE_DAY, "{id} is {age}");
            assert_eq!(phones.is_null(row), age < 18, "{id} is {age}");
            if !phones.is_null(row) {
                let phone = phones.value(row);
                assert!(
                    phone.len() == 11 && ["13", "15", "18"].contains(&&phone[..2]),
                    "{phone}"
                );
            }
            let name = names.value(row).chars().count();
            assert!((2..=4).contains(&name), "{}", names.value(row));
            let grid = grids.value(row);
            assert!(
                addresses
                    .value(row)
                    .contains(&format!(" Town, Grid {grid}, No. "))
            );
            assert!(households.value(row).starts_with(&format!("{grid}-")));
            towns.insert(batch.column(6).as_string::<i32>().value(row).to_owned());
        }
    }
    assert_eq!(seen.len(), TINY);
    assert_eq!(towns.len(), TOWNS.len());
}

#[test]
fn parcels_belong_mostly_to_residents_and_some_own_several() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    let towns = resident_towns(dir.path());
    let fields = [
        "parcel_id",
        "owner_id_number",
        "town",
        "address",
        "area_m2",
        "land_use",
        "registered_on",
    ]
    .map(|name| Field::new(name, DataType::Utf8, false));
    let reader = CsvReaderBuilder::new(Arc::new(Schema::new(fields.to_vec())))
        .with_header(true)
        .build(File::open(dir.path().join(PARCELS_FILE)).unwrap())
        .unwrap();
    let (mut rows, mut by_residents, mut in_owners_town) = (0, 0, 0);
    let mut parcel_ids = HashSet::new();
    let mut owned_in_guicheng: HashMap<String, usize> = HashMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let column = |index: usize| batch.column(index).as_string::<i32>();
        for row in 0..batch.num_rows() {
            rows += 1;
            let (parcel_id, owner, town) = (column(0).value(row), column(1).value(row), column(2).value(row));
            assert!(parcel_ids.insert(parcel_id.to_owned()), "duplicate {parcel_id}");
            assert!(
                parcel_id.starts_with("440605-") && parcel_id.len() == 16,
                "{parcel_id}"
            );
            assert!(ids::is_valid_resident_id(owner), "{owner}");
            assert!(column(3).value(row).starts_with(&format!("{town} Town, Grid ")));
            assert!(is_money(column(4).value(row)), "{}", column(4).value(row));
            assert!(
                ["residential", "commercial", "industrial", "agricultural"].contains(&column(5).value(row))
            );
            assert_eq!(column(6).value(row).len(), 10);
            if let Some(owner_town) = towns.get(owner) {
                by_residents += 1;
                in_owners_town += usize::from(owner_town == town);
                if owner_town == "Guicheng" {
                    *owned_in_guicheng.entry(owner.to_owned()).or_default() += 1;
                }
            }
        }
    }
    assert_eq!(rows, generated.parcels);
    assert!(
        (1.3..=1.7).contains(&(rows as f64 / TINY as f64)),
        "{rows} parcels"
    );
    let outsiders = (rows - by_residents) as f64 / rows as f64;
    assert!(
        (0.06..=0.10).contains(&outsiders),
        "{outsiders} of parcels owned by outsiders"
    );
    assert!(in_owners_town as f64 > 0.8 * by_residents as f64);
    let several = owned_in_guicheng.values().filter(|count| **count > 2).count();
    assert!(
        several >= 5,
        "{several} residents of Guicheng own more than two parcels"
    );
}

#[test]
fn enrolments_are_readable_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    let towns = resident_towns(dir.path());
    let connection = rusqlite::Connection::open(dir.path().join(ENROLMENTS_FILE)).unwrap();
    let rows: usize = connection
        .query_row("SELECT count(*) FROM enrolments", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, generated.enrolments);
    let mut statement = connection
        .prepare("SELECT id_number, scheme, enrolled_on, CAST(monthly_contribution AS TEXT), status FROM enrolments")
        .unwrap();
    let mut enrolled = HashSet::new();
    let mut outsiders = 0;
    let mut rows = statement.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        let id: String = row.get(0).unwrap();
        let scheme: String = row.get(1).unwrap();
        let enrolled_on: String = row.get(2).unwrap();
        let contribution: String = row.get(3).unwrap();
        let status: String = row.get(4).unwrap();
        assert!(
            Scheme::ALL.iter().any(|known| known.as_str() == scheme),
            "{scheme}"
        );
        assert!(
            enrolled_on.len() == 10 && enrolled_on.as_str() < "2025-01-01",
            "{enrolled_on}"
        );
        assert!(contribution.parse::<f64>().unwrap() > 0.0, "{contribution}");
        assert!(["active", "suspended", "ended"].contains(&status.as_str()));
        if towns.contains_key(&id) {
            enrolled.insert(id);
        } else {
            outsiders += 1;
        }
    }
    assert!(outsiders > 0);
    assert!(
        enrolled.len() as f64 > 0.8 * TINY as f64,
        "{} residents enrolled",
        enrolled.len()
    );
}

#[test]
fn enterprises_have_valid_unique_credit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    let towns = resident_towns(dir.path());
    let text = fs::read_to_string(dir.path().join(ENTERPRISES_FILE)).unwrap();
    let mut codes = HashSet::new();
    let mut names = HashSet::new();
    let mut resident_reps = 0;
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let field = |name: &str| record[name].as_str().unwrap().to_owned();
        assert!(ids::is_valid_credit_code(&field("credit_code")), "{line}");
        assert!(codes.insert(field("credit_code")), "{line}");
        assert!(names.insert(field("name")), "{line}");
        assert!(field("name").starts_with(&format!("Foshan Nanhai {} ", field("town"))));
        assert!(ids::is_valid_resident_id(&field("legal_rep_id_number")), "{line}");
        resident_reps += usize::from(towns.contains_key(&field("legal_rep_id_number")));
        assert!(["A", "B", "C", "D"].contains(&field("credit_rating").as_str()));
        assert!(is_money(&field("registered_capital")), "{line}");
        assert_eq!(field("established_on").len(), 10);
    }
    assert_eq!(codes.len(), generated.enterprises);
    assert_eq!(generated.enterprises, TINY / RESIDENTS_PER_ENTERPRISE);
    assert!(resident_reps > generated.enterprises * 3 / 4);
}

#[test]
fn database_tables_are_batched_and_agree_with_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    let district = District::build(TINY, &|_, _, _| {});
    let enterprises = build_enterprises(&district);
    let payments = benefit_payments_table(&district);
    let inspections = inspections_table(&enterprises);
    assert_eq!(payments.rows, generated.benefit_payments);
    assert_eq!(inspections.rows, generated.inspections);
    for (table, name) in [(&payments, "benefit_payments"), (&inspections, "inspections")] {
        assert_eq!(table.setup[0], format!("DROP TABLE IF EXISTS {name}"));
        assert!(table.setup[1].starts_with(&format!("CREATE TABLE {name} (")));
        let mut rows = 0;
        for batch in &table.insert_batches {
            assert!(batch.starts_with(&format!("INSERT INTO {name} (")));
            let batch_rows = batch.matches("),\n(").count() + 1;
            assert!(batch_rows <= INSERT_BATCH_ROWS);
            rows += batch_rows;
        }
        assert_eq!(rows, table.rows);
    }
    let all_inspections = inspections.insert_batches.concat();
    assert!(all_inspections.contains("'passed', NULL)"));
    assert!(!all_inspections.contains("'fined', NULL)"));
    assert!(payments.insert_batches[0].contains("+08')"));
    assert!(benefit_payments_table(&district).insert_batches == payments.insert_batches);
}

#[test]
fn inserts_are_split_into_batches_of_at_most_a_thousand_rows() {
    let mut batches = InsertBatches::new("INSERT INTO t (n) VALUES");
    for n in 0..2_500 {
        let row = batches.next_row();
        row.push('(');
        push_number(row, n, 1);
        row.push(')');
    }
    let table = batches.finish(&["DROP TABLE IF EXISTS t"]);
    assert_eq!(table.rows, 2_500);
    assert_eq!(table.insert_batches.len(), 3);
    assert!(table.insert_batches[0].starts_with("INSERT INTO t (n) VALUES\n(0),\n(1),"));
    assert!(table.insert_batches[0].ends_with(",\n(999)"));
    assert!(table.insert_batches[1].starts_with("INSERT INTO t (n) VALUES\n(1000),"));
    assert!(table.insert_batches[2].ends_with(",\n(2499)"));
}

#[test]
fn the_scale_is_checked() {
    let options = |scale| GenerateOptions {
        dir: PathBuf::from("unused"),
        scale,
    };
    assert!(matches!(
        resident_count(&options(0)),
        Err(GenerateError::Scale(0))
    ));
    assert!(matches!(
        resident_count(&options(MAX_SCALE + 1)),
        Err(GenerateError::Scale(_))
    ));
    assert_eq!(resident_count(&options(1)).unwrap(), 10_000);
    assert_eq!(resident_count(&options(100)).unwrap(), 1_000_000);
}

#[test]
fn days_agree_with_chrono() {
    use chrono::Datelike;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    for days in (-40_000..40_000).step_by(13) {
        let date = epoch + chrono::TimeDelta::days(days.into());
        let expected = (date.year(), date.month(), date.day());
        assert_eq!(Day(days).civil(), expected);
        assert_eq!(Day::from_civil(expected.0, expected.1, expected.2), Day(days));
    }
    assert_eq!(
        Day::from_civil(2000, 2, 29).years_until(Day::from_civil(2001, 2, 28)),
        0
    );
    assert_eq!(
        Day::from_civil(2000, 2, 29).years_until(Day::from_civil(2001, 3, 1)),
        1
    );
}

#[test]
fn text_is_written_exactly() {
    let mut out = String::new();
    push_hundredths(&mut out, 51_230);
    out.push(' ');
    push_hundredths(&mut out, 5);
    out.push(' ');
    push_number(&mut out, 0, 3);
    out.push(' ');
    push_iso_date(&mut out, Day::from_civil(1949, 10, 1));
    assert_eq!(out, "512.30 0.05 000 1949-10-01");

    let csv = |value: &str| {
        let mut out = String::new();
        push_csv_field(&mut out, value);
        out
    };
    assert_eq!(csv("plain"), "plain");
    assert_eq!(
        csv("Guicheng Town, Grid GC-001"),
        "\"Guicheng Town, Grid GC-001\""
    );
    assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
}

#[test]
fn sql_strings_are_escaped_for_each_dialect() {
    let sql = |value: &str, dialect| {
        let mut out = String::new();
        push_sql_string(&mut out, value, dialect);
        out
    };
    assert_eq!(sql(r"O'Brien\n", Dialect::Postgres), r"'O''Brien\n'");
    assert_eq!(sql(r"O'Brien\n", Dialect::MySql), r"'O''Brien\\n'");
    assert_eq!(sql("a\0b", Dialect::MySql), r"'a\0b'");
}
