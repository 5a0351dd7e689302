//! The demo's synthetic district: Nanhai (Foshan), its seven towns, their grids, households
//! and residents, and what four departments record about them, each in the kind of source it
//! would really live in.
//!
//! Everything comes from one seed, and each dataset draws from its own ChaCha stream, so the
//! same scale always gives byte-identical files, and the database tables (built separately,
//! with `--with-databases`) agree with the files without the files being read back.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::mem;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::ids;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Where the files are written; created if missing.
    pub dir: PathBuf,
    /// 1 is 10,000 residents; the number of residents is 10,000 times the scale.
    pub scale: u32,
}

/// How many rows each dataset got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub residents: usize,
    pub parcels: usize,
    pub enrolments: usize,
    pub enterprises: usize,
    pub benefit_payments: usize,
    pub inspections: usize,
}

/// A database table as SQL statements, to run in order on one connection inside the
/// caller's schema or database.
pub struct DatabaseTable {
    /// Drops the table if it exists, creates it and its indexes.
    pub setup: Vec<String>,
    /// Multi-row INSERT statements of at most 1,000 rows each.
    pub insert_batches: Vec<String>,
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the demo scale must be between 1 and {MAX_SCALE}, not {0}")]
    Scale(u32),
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot build the rows of {}: {source}", path.display())]
    Arrow { path: PathBuf, source: ArrowError },
    #[error("cannot write the Parquet file {}: {source}", path.display())]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("cannot write the SQLite database {}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("cannot write the NDJSON file {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub const RESIDENTS_FILE: &str = "residents.parquet";
pub const PARCELS_FILE: &str = "parcels.csv";
pub const ENROLMENTS_FILE: &str = "social_security.db";
pub const ENTERPRISES_FILE: &str = "enterprises.ndjson";

/// Writes residents.parquet, parcels.csv, social_security.db (SQLite, table `enrolments`)
/// and enterprises.ndjson into `options.dir`.
///
/// Blocking: run it in `spawn_blocking`. `progress` is called with what is being written
/// ("register" while the residents are drawn, then "residents", "parcels", "enrolments" and
/// "enterprises"), the rows done and the rows in total, every few thousand rows.
pub fn generate_files(
    options: &GenerateOptions,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<Generated, GenerateError> {
    generate_into(&options.dir, resident_count(options)?, progress)
}

/// `social_security.benefit_payments`, for PostgreSQL: about two payments in 2024 to each
/// resident aged 60 or more.
pub fn benefit_payments_sql(options: &GenerateOptions) -> Result<DatabaseTable, GenerateError> {
    let district = District::build(resident_count(options)?, &|_, _, _| {});
    Ok(benefit_payments_table(&district))
}

/// `market_supervision.inspections`, for MySQL or MariaDB: about two inspections of each
/// enterprise in `enterprises.ndjson`.
pub fn inspections_sql(options: &GenerateOptions) -> Result<DatabaseTable, GenerateError> {
    let district = District::build(resident_count(options)?, &|_, _, _| {});
    Ok(inspections_table(&build_enterprises(&district)))
}

const SEED: u64 = 2020;
const RESIDENTS_PER_SCALE: usize = 10_000;
/// Ten million residents: beyond this the register no longer fits comfortably in memory.
const MAX_SCALE: u32 = 1_000;
const RESIDENTS_PER_ENTERPRISE: usize = 20;
const RESIDENTS_PER_OUTSIDER: usize = 10;
const ROW_GROUP_ROWS: usize = 65_536;
/// Rows of a data page of the residents file: what a lookup by ID number reads per column.
const LOOKUP_PAGE_ROWS: usize = 4_096;
const PROGRESS_EVERY: usize = 4_096;
const INSERT_BATCH_ROWS: usize = 1_000;
/// Share of parcels, and of enrolments, that belong to people who are not residents.
const OUTSIDER_PARCELS_PERCENT: usize = 8;
const OUTSIDER_ENROLMENTS_PERCENT: usize = 3;

/// The day the data describes: ages, and the latest enrolment, registration or payment.
const REFERENCE_DAY: Day = Day::from_civil(2025, 1, 1);
const LAND_REGISTRATION_FROM: Day = Day::from_civil(1992, 1, 1);
const ENTERPRISES_FROM: Day = Day::from_civil(1993, 1, 1);
const INSPECTIONS_FROM: Day = Day::from_civil(2015, 1, 1);
const PAYMENTS_FROM: Day = Day::from_civil(2024, 1, 1);
const PAYMENTS_TO: Day = Day::from_civil(2024, 12, 31);
/// Days from birth to an 18th birthday, at most a day off.
const ADULT_AFTER_DAYS: i32 = 18 * 365 + 5;

fn resident_count(options: &GenerateOptions) -> Result<usize, GenerateError> {
    if (1..=MAX_SCALE).contains(&options.scale) {
        Ok(RESIDENTS_PER_SCALE * options.scale as usize)
    } else {
        Err(GenerateError::Scale(options.scale))
    }
}

fn generate_into(
    dir: &Path,
    resident_count: usize,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<Generated, GenerateError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let district = District::build(resident_count, progress);
    let residents = write_residents(&dir.join(RESIDENTS_FILE), &district, progress)?;
    let parcels = write_parcels(&dir.join(PARCELS_FILE), &district, progress)?;
    let enrolments = write_enrolments(&dir.join(ENROLMENTS_FILE), &district, progress)?;
    let enterprises = build_enterprises(&district);
    write_enterprises(&dir.join(ENTERPRISES_FILE), &enterprises, progress)?;
    let mut benefit_payments = 0;
    each_benefit_payment(&district, |_| benefit_payments += 1);
    let mut inspections = 0;
    each_inspection(&enterprises, |_| inspections += 1);
    Ok(Generated {
        residents,
        parcels,
        enrolments,
        enterprises: enterprises.len(),
        benefit_payments,
        inspections,
    })
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> GenerateError + '_ {
    |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn arrow_error(path: &Path) -> impl FnOnce(ArrowError) -> GenerateError + '_ {
    |source| GenerateError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

fn parquet_error(path: &Path) -> impl FnOnce(ParquetError) -> GenerateError + '_ {
    |source| GenerateError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

fn sqlite_error(path: &Path) -> impl FnOnce(rusqlite::Error) -> GenerateError + '_ {
    |source| GenerateError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Independent random streams, one per dataset, so that changing how one dataset is drawn
/// never changes the others.
#[derive(Clone, Copy)]
enum Stream {
    Register = 1,
    Outsiders,
    Parcels,
    Enrolments,
    Enterprises,
    BenefitPayments,
    Inspections,
}

fn rng_for(stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    rng.set_stream(stream as u64);
    rng
}

/// One of the weighted `items`.
fn pick<T: Copy, const N: usize>(rng: &mut ChaCha8Rng, items: &[(T, u32); N]) -> T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total);
    for &(item, weight) in items {
        if ticket < weight {
            return item;
        }
        ticket -= weight;
    }
    items[N - 1].0
}

/// One of `items`, all equally likely.
fn choose<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

// ----------------------------------------------------------------------------------------
// Dates

/// A day as Arrow's Date32 counts it: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Day(i32);

impl Day {
    /// The proleptic Gregorian day (Howard Hinnant's `days_from_civil`).
    const fn from_civil(year: i32, month: u32, day: u32) -> Self {
        let year = if month <= 2 { year - 1 } else { year };
        let era = (if year >= 0 { year } else { year - 399 }) / 400;
        let year_of_era = year - era * 400;
        let month_from_march = (if month > 2 { month - 3 } else { month + 9 }) as i32;
        let day_of_year = (153 * month_from_march + 2) / 5 + day as i32 - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Self(era * 146_097 + day_of_era - 719_468)
    }

    /// Year, month and day (Howard Hinnant's `civil_from_days`).
    fn civil(self) -> (i32, u32, u32) {
        let days = self.0 + 719_468;
        let era = (if days >= 0 { days } else { days - 146_096 }) / 146_097;
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = (if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        }) as u32;
        let year = year_of_era + era * 400 + i32::from(month <= 2);
        (year, month, day)
    }

    fn plus(self, days: i32) -> Self {
        Self(self.0 + days)
    }

    /// Whole years from `self` to `later`.
    fn years_until(self, later: Day) -> u32 {
        let (birth_year, birth_month, birth_day) = self.civil();
        let (year, month, day) = later.civil();
        let years = year - birth_year - i32::from((month, day) < (birth_month, birth_day));
        years.max(0).unsigned_abs()
    }
}

/// A day between `from` and `to`, both included; `to` when the range is empty.
fn random_day(rng: &mut ChaCha8Rng, from: Day, to: Day) -> Day {
    if from >= to {
        to
    } else {
        Day(rng.random_range(from.0..=to.0))
    }
}

// ----------------------------------------------------------------------------------------
// Text, written into reused buffers rather than formatted per field

/// `value` in decimal, padded with zeros to at least `width` digits.
fn push_number(out: &mut String, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut rest = value;
    let mut length = 0;
    loop {
        digits[digits.len() - 1 - length] = b'0' + (rest % 10) as u8;
        rest /= 10;
        length += 1;
        if rest == 0 {
            break;
        }
    }
    for _ in length..width {
        out.push('0');
    }
    out.extend(
        digits[digits.len() - length..]
            .iter()
            .map(|digit| char::from(*digit)),
    );
}

/// Whole yuan or square metres in hundredths, the unit amounts and areas are kept in.
const fn hundredths(whole: u64) -> u64 {
    whole * 100
}

/// An amount in hundredths as a decimal with exactly two places, e.g. `512.30`.
fn push_hundredths(out: &mut String, hundredths: u64) {
    push_number(out, hundredths / 100, 1);
    out.push('.');
    push_number(out, hundredths % 100, 2);
}

/// `YYYY-MM-DD`.
fn push_iso_date(out: &mut String, day: Day) {
    let (year, month, day) = day.civil();
    push_number(out, u64::from(year.unsigned_abs()), 4);
    out.push('-');
    push_number(out, u64::from(month), 2);
    out.push('-');
    push_number(out, u64::from(day), 2);
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
fn push_csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
}

/// A quoted SQL string literal. PostgreSQL (with `standard_conforming_strings`, the default)
/// only needs quotes doubled; MySQL also treats backslashes as escapes.
fn push_sql_string(out: &mut String, value: &str, dialect: Dialect) {
    out.push('\'');
    for character in value.chars() {
        match character {
            '\'' => out.push_str("''"),
            '\\' if dialect == Dialect::MySql => out.push_str("\\\\"),
            '\0' if dialect == Dialect::MySql => out.push_str("\\0"),
            character => out.push(character),
        }
    }
    out.push('\'');
}

// ----------------------------------------------------------------------------------------
// The district

struct Town {
    name: &'static str,
    /// Prefix of the town's grid, household and parcel identifiers.
    code: &'static str,
    /// Share of the district's residents, in thousandths.
    resident_share: u32,
    /// Share of the district's enterprises, in thousandths.
    enterprise_share: u32,
    streets: &'static [&'static str],
    /// The use of parcels other than homes: central towns are commercial and industrial,
    /// the towns along the rivers agricultural.
    land_uses: [(LandUse, u32); 4],
}

const fn land_uses(
    residential: u32,
    commercial: u32,
    industrial: u32,
    agricultural: u32,
) -> [(LandUse, u32); 4] {
    [
        (LandUse::Residential, residential),
        (LandUse::Commercial, commercial),
        (LandUse::Industrial, industrial),
        (LandUse::Agricultural, agricultural),
    ]
}

const TOWNS: [Town; 7] = [
    Town {
        name: "Guicheng",
        code: "GC",
        resident_share: 280,
        enterprise_share: 230,
        streets: &[
            "Nanhai Avenue",
            "Guiping Road",
            "Denghu Road",
            "Nanxin Road",
            "Haisan Road",
            "Guilan Road",
            "Jihua Road",
            "Pingzhou Street",
        ],
        land_uses: land_uses(30, 40, 20, 10),
    },
    Town {
        name: "Jiujiang",
        code: "JJ",
        resident_share: 80,
        enterprise_share: 80,
        streets: &[
            "Jiujiang Avenue",
            "Rudong Road",
            "Zhenhua Road",
            "Shabo Road",
            "Nanjin Road",
            "Xiabei Road",
        ],
        land_uses: land_uses(20, 10, 20, 50),
    },
    Town {
        name: "Xiqiao",
        code: "XQ",
        resident_share: 70,
        enterprise_share: 60,
        streets: &[
            "Xiqiao Avenue",
            "Baiyun Road",
            "Qiaoshan Road",
            "Jiangpu Road",
            "Shatou Road",
            "Zhenxing Road",
        ],
        land_uses: land_uses(25, 20, 15, 40),
    },
    Town {
        name: "Danzao",
        code: "DZ",
        resident_share: 80,
        enterprise_share: 90,
        streets: &[
            "Danzao Avenue",
            "Jinsha Road",
            "Xianxi Road",
            "Lianhe Road",
            "Cangjiang Road",
            "Jinxi Road",
        ],
        land_uses: land_uses(20, 10, 30, 40),
    },
    Town {
        name: "Shishan",
        code: "SS",
        resident_share: 130,
        enterprise_share: 200,
        streets: &[
            "Shishan Avenue",
            "Songgang Road",
            "Xiaotang Road",
            "Luocun Road",
            "Boai Road",
            "Tongsheng Road",
            "Shida Road",
        ],
        land_uses: land_uses(20, 15, 45, 20),
    },
    Town {
        name: "Dali",
        code: "DL",
        resident_share: 230,
        enterprise_share: 220,
        streets: &[
            "Guangfo Road",
            "Huangqi Road",
            "Dali Avenue",
            "Yanbu Road",
            "Zhongnan Road",
            "Taiping Road",
            "Fengchi Road",
        ],
        land_uses: land_uses(25, 25, 40, 10),
    },
    Town {
        name: "Lishui",
        code: "LS",
        resident_share: 130,
        enterprise_share: 120,
        streets: &[
            "Lishui Avenue",
            "Heshun Road",
            "Ganjiao Road",
            "Dazhen Road",
            "Zhouxi Road",
            "Hebin Road",
        ],
        land_uses: land_uses(20, 15, 35, 30),
    },
];

/// The index of a town in `TOWNS`, chosen by the given share.
fn pick_town(rng: &mut ChaCha8Rng, share: fn(&Town) -> u32) -> u8 {
    let shares: [(u8, u32); TOWNS.len()] = std::array::from_fn(|index| (index as u8, share(&TOWNS[index])));
    pick(rng, &shares)
}

/// Common surnames of the Pearl River Delta, weighted roughly by frequency.
#[rustfmt::skip]
const SURNAMES: [(&str, u32); 38] = [
    ("陈", 120), ("李", 70), ("梁", 65), ("黄", 60), ("何", 40), ("张", 40), ("林", 35), ("吴", 30),
    ("罗", 28), ("冯", 26), ("关", 22), ("区", 20), ("麦", 20), ("潘", 18), ("邓", 18), ("叶", 16),
    ("周", 15), ("刘", 15), ("杨", 14), ("郑", 14), ("谭", 13), ("卢", 13), ("苏", 12), ("蔡", 10),
    ("钟", 10), ("胡", 9), ("谢", 9), ("朱", 8), ("伍", 8), ("霍", 7), ("莫", 7), ("简", 6),
    ("岑", 6), ("邝", 6), ("欧阳", 5), ("招", 5), ("劳", 4), ("植", 3),
];
const MALE_GIVEN: [&str; 40] = [
    "伟", "强", "明", "志", "俊", "杰", "浩", "健", "文", "辉", "华", "国", "建", "荣", "海", "斌", "锦",
    "炜", "嘉", "家", "永", "耀", "德", "振", "宇", "泽", "铭", "鹏", "涛", "峰", "坚", "成", "标", "满",
    "权", "棠", "汉", "昌", "达", "冠",
];
const FEMALE_GIVEN: [&str; 40] = [
    "芳", "丽", "敏", "静", "婷", "颖", "欣", "雪", "燕", "玲", "慧", "琳", "洁", "霞", "丹", "娟", "艳",
    "萍", "晓", "佩", "嘉", "咏", "诗", "雅", "莹", "淑", "凤", "美", "玉", "兰", "桂", "秀", "彩", "珊",
    "碧", "翠", "宝", "妍", "思", "蕙",
];
/// Mobile prefixes of the three carriers: 130-139, 150-159 (but 154) and 180-189.
const PHONE_PREFIXES: [u64; 29] = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 180, 181,
    182, 183, 184, 185, 186, 187, 188, 189,
];
const HOUSEHOLD_SIZES: [(usize, u32); 5] = [(1, 15), (2, 25), (3, 28), (4, 20), (5, 12)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Address {
    town: u8,
    grid: u16,
    street: u8,
    house_number: u16,
}

#[derive(Debug, Clone, Copy)]
struct Name {
    surname: u8,
    given: [u8; 2],
    /// One or two given characters.
    given_length: u8,
}

/// What every dataset needs to know about a resident; the text is written from it on demand.
struct Resident {
    id_number: Box<str>,
    birth: Day,
    /// On `REFERENCE_DAY`.
    age: u32,
    male: bool,
    address: Address,
    /// The household's number within its grid.
    household: u16,
    name: Name,
    /// Adults only.
    phone: Option<NonZeroU64>,
}

impl Resident {
    fn household_key(&self) -> (u8, u16, u16) {
        (self.address.town, self.address.grid, self.household)
    }
}

/// Someone registered elsewhere who owns land, pays in or runs a firm in the district.
struct Outsider {
    id_number: Box<str>,
    birth: Day,
}

/// The residents, town by town and household by household, and the outsiders.
struct District {
    residents: Vec<Resident>,
    grids_per_town: [u16; TOWNS.len()],
    outsiders: Vec<Outsider>,
}

impl District {
    fn build(resident_count: usize, progress: &dyn Fn(&str, u64, u64)) -> Self {
        let mut builder = RegisterBuilder {
            rng: rng_for(Stream::Register),
            ids: IdAllocator::new(&ids::RESIDENT_AREAS),
            residents: Vec::with_capacity(resident_count),
        };
        let total = resident_count as u64;
        progress("register", 0, total);
        let mut grids_per_town = [0; TOWNS.len()];
        let mut town_start = 0;
        let mut next_report = PROGRESS_EVERY;
        for (town, grids) in grids_per_town.iter_mut().enumerate() {
            let town_end = if town + 1 == TOWNS.len() {
                resident_count
            } else {
                town_start + resident_count * TOWNS[town].resident_share as usize / 1_000
            };
            // Every town has at least one grid, even at sizes too small to fill it.
            loop {
                *grids += 1;
                let households = builder.rng.random_range(200..=500u16);
                for household in 1..=households {
                    let room = town_end - builder.residents.len();
                    if room == 0 {
                        break;
                    }
                    builder.add_household(town as u8, *grids, household, room);
                }
                if builder.residents.len() >= next_report {
                    progress("register", builder.residents.len() as u64, total);
                    next_report = builder.residents.len() + PROGRESS_EVERY;
                }
                if builder.residents.len() >= town_end {
                    break;
                }
            }
            town_start = town_end;
        }
        progress("register", total, total);
        Self {
            residents: builder.residents,
            grids_per_town,
            outsiders: build_outsiders((resident_count / RESIDENTS_PER_OUTSIDER).max(20)),
        }
    }
}

struct RegisterBuilder {
    rng: ChaCha8Rng,
    ids: IdAllocator,
    residents: Vec<Resident>,
}

impl RegisterBuilder {
    /// A household of at most `room` people: a head, usually a spouse, children, and in
    /// some large households a parent of the head. Children take the father's surname.
    fn add_household(&mut self, town: u8, grid: u16, household: u16, room: usize) {
        let rng = &mut self.rng;
        let street_count = TOWNS[usize::from(town)].streets.len();
        let address = Address {
            town,
            grid,
            street: rng.random_range(0..street_count) as u8,
            house_number: rng.random_range(1..=300),
        };
        let size = pick(rng, &HOUSEHOLD_SIZES).min(room);
        // Most residents' numbers were issued in Nanhai; the others kept their birthplace's.
        let area = if rng.random_ratio(82, 100) {
            0
        } else {
            rng.random_range(1..ids::RESIDENT_AREAS.len())
        };
        let head_age = if size == 1 && rng.random_ratio(2, 5) {
            rng.random_range(60..=95)
        } else {
            22 + rng.random_range(0..=25) + rng.random_range(0..=25)
        };
        let head_male = rng.random_ratio(11, 20);
        let head_surname = pick_surname(rng);
        let mut children_surname = head_surname;
        let person = Person {
            address,
            household,
            area,
        };
        self.add(person, head_age, head_male, head_surname);
        for member in 1..size {
            let rng = &mut self.rng;
            if member == 1 && rng.random_ratio(17, 20) {
                let age = (head_age + rng.random_range(0..=10))
                    .saturating_sub(5)
                    .clamp(20, 95);
                let surname = pick_surname(rng);
                if !head_male {
                    children_surname = surname;
                }
                self.add(person, age, !head_male, surname);
            } else if member == 4 && head_age <= 60 && rng.random_ratio(1, 2) {
                let age = (head_age + rng.random_range(22..=35)).min(95);
                let male = rng.random_ratio(1, 2);
                let surname = if male { head_surname } else { pick_surname(rng) };
                self.add(person, age, male, surname);
            } else {
                let age = rng.random_range(0..=(head_age - 20).min(40));
                let male = rng.random_ratio(1, 2);
                self.add(person, age, male, children_surname);
            }
        }
    }

    /// A resident about `nominal_age` years old on the reference day.
    fn add(&mut self, person: Person, nominal_age: u32, male: bool, surname: u8) {
        let rng = &mut self.rng;
        let nominal_birth =
            REFERENCE_DAY.plus(-((nominal_age * 36_525 / 100) as i32) - rng.random_range(0..365));
        let (id_number, birth) = self.ids.issue(person.area, nominal_birth, male);
        let given_names = if male { &MALE_GIVEN } else { &FEMALE_GIVEN };
        let name = Name {
            surname,
            given: [
                rng.random_range(0..given_names.len()) as u8,
                rng.random_range(0..given_names.len()) as u8,
            ],
            given_length: if rng.random_ratio(7, 10) { 2 } else { 1 },
        };
        let age = birth.years_until(REFERENCE_DAY);
        let phone = if age >= 18 {
            NonZeroU64::new(choose(rng, &PHONE_PREFIXES) * 100_000_000 + rng.random_range(0..100_000_000))
        } else {
            None
        };
        self.residents.push(Resident {
            id_number,
            birth,
            age,
            male,
            address: person.address,
            household: person.household,
            name,
            phone,
        });
    }
}

/// Where a household's members live and which area issued their numbers.
#[derive(Clone, Copy)]
struct Person {
    address: Address,
    household: u16,
    area: usize,
}

fn pick_surname(rng: &mut ChaCha8Rng) -> u8 {
    let indexes: [(u8, u32); SURNAMES.len()] = std::array::from_fn(|index| (index as u8, SURNAMES[index].1));
    pick(rng, &indexes)
}

fn build_outsiders(count: usize) -> Vec<Outsider> {
    let mut rng = rng_for(Stream::Outsiders);
    let mut allocator = IdAllocator::new(&ids::OUTSIDER_AREAS);
    (0..count)
        .map(|_| {
            let area = rng.random_range(0..ids::OUTSIDER_AREAS.len());
            let nominal_birth = REFERENCE_DAY.plus(-rng.random_range(22 * 365..=80 * 365));
            let (id_number, birth) = allocator.issue(area, nominal_birth, rng.random_ratio(1, 2));
            Outsider { id_number, birth }
        })
        .collect()
}

/// Birth days that the identity numbers can carry: 97 years up to the reference day.
const BIRTH_WINDOW_DAYS: i32 = 97 * 366;

/// Hands out sequence numbers so that no two people get the same identity number: one
/// counter per area, birth day and sex. Men get odd numbers (1 to 999), women even ones
/// (2 to 998); when a day runs out, the birth moves a day earlier.
struct IdAllocator {
    areas: &'static [u32],
    issued: Vec<u16>,
}

impl IdAllocator {
    fn new(areas: &'static [u32]) -> Self {
        Self {
            areas,
            issued: vec![0; areas.len() * BIRTH_WINDOW_DAYS as usize * 2],
        }
    }

    /// The number of someone registered in `areas[area]`, and their birth day.
    fn issue(&mut self, area: usize, birth: Day, male: bool) -> (Box<str>, Day) {
        let earliest = REFERENCE_DAY.0 - BIRTH_WINDOW_DAYS + 1;
        let capacity = if male { 500 } else { 499 };
        let mut day = birth.0.clamp(earliest, REFERENCE_DAY.0);
        loop {
            let slot =
                (area * BIRTH_WINDOW_DAYS as usize + (day - earliest) as usize) * 2 + usize::from(male);
            let issued = self.issued[slot];
            if issued < capacity {
                self.issued[slot] = issued + 1;
                let sequence = 2 * u32::from(issued) + if male { 1 } else { 2 };
                let birth = Day(day);
                let id_number = ids::resident_id(self.areas[area], birth.civil(), sequence);
                return (id_number.into_boxed_str(), birth);
            }
            day = if day == earliest { REFERENCE_DAY.0 } else { day - 1 };
        }
    }
}

fn push_name(out: &mut String, name: Name, male: bool) {
    let given_names = if male { &MALE_GIVEN } else { &FEMALE_GIVEN };
    out.push_str(SURNAMES[usize::from(name.surname)].0);
    for given in &name.given[..usize::from(name.given_length)] {
        out.push_str(given_names[usize::from(*given)]);
    }
}

/// `GC-012`.
fn push_grid_id(out: &mut String, town: u8, grid: u16) {
    out.push_str(TOWNS[usize::from(town)].code);
    out.push('-');
    push_number(out, u64::from(grid), 3);
}

/// `Guicheng Town, Grid GC-012, No. 34 Nanhai Avenue`.
fn push_address(out: &mut String, address: Address) {
    let town = &TOWNS[usize::from(address.town)];
    out.push_str(town.name);
    out.push_str(" Town, Grid ");
    push_grid_id(out, address.town, address.grid);
    out.push_str(", No. ");
    push_number(out, u64::from(address.house_number), 1);
    out.push(' ');
    out.push_str(town.streets[usize::from(address.street)]);
}

/// Calls `progress` at the start, every `PROGRESS_EVERY` rows and at the end.
struct Progress<'a> {
    what: &'static str,
    done: usize,
    total: usize,
    report: &'a dyn Fn(&str, u64, u64),
}

impl<'a> Progress<'a> {
    fn start(what: &'static str, total: usize, report: &'a dyn Fn(&str, u64, u64)) -> Self {
        report(what, 0, total as u64);
        Self {
            what,
            done: 0,
            total,
            report,
        }
    }

    fn row(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY) {
            (self.report)(self.what, self.done as u64, self.total as u64);
        }
    }

    fn finish(self) {
        (self.report)(self.what, self.done as u64, self.total as u64);
    }
}

/// Spreads `extra` rows evenly among `base` rows: `tick`, called once after each base row,
/// answers true exactly `extra` times in all.
struct Interleave {
    base: usize,
    extra: usize,
    owed: usize,
}

impl Interleave {
    fn new(base: usize, extra: usize) -> Self {
        Self { base, extra, owed: 0 }
    }

    fn tick(&mut self) -> bool {
        self.owed += self.extra;
        if self.owed >= self.base {
            self.owed -= self.base;
            true
        } else {
            false
        }
    }
}

// ----------------------------------------------------------------------------------------
// civil_affairs.residents: Parquet

fn residents_schema() -> SchemaRef {
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
fn write_residents(
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

fn residents_batch(schema: &SchemaRef, residents: &[&Resident]) -> Result<RecordBatch, ArrowError> {
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

// ----------------------------------------------------------------------------------------
// land_registry.parcels: CSV

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LandUse {
    Residential,
    Commercial,
    Industrial,
    Agricultural,
}

impl LandUse {
    fn as_str(self) -> &'static str {
        match self {
            Self::Residential => "residential",
            Self::Commercial => "commercial",
            Self::Industrial => "industrial",
            Self::Agricultural => "agricultural",
        }
    }

    fn area_hundredths(self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            Self::Residential => rng.random_range(hundredths(60)..=hundredths(320)),
            Self::Commercial => rng.random_range(hundredths(40)..=hundredths(2_500)),
            Self::Industrial => rng.random_range(hundredths(800)..=hundredths(30_000)),
            Self::Agricultural => rng.random_range(hundredths(300)..=hundredths(12_000)),
        }
    }
}

/// How many parcels an adult resident owns: most own their home and one more (farmland, a
/// shop, a workshop); a few own three or more.
const PARCELS_OWNED: [(u8, u32); 6] = [(0, 30), (1, 100), (2, 840), (3, 20), (4, 7), (5, 3)];
const PARCELS_HEADER: &str = "parcel_id,owner_id_number,town,address,area_m2,land_use,registered_on\n";

fn write_parcels(
    path: &Path,
    district: &District,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<usize, GenerateError> {
    let mut rng = rng_for(Stream::Parcels);
    let owned: Vec<u8> = district
        .residents
        .iter()
        .map(|resident| {
            if resident.age >= 18 {
                pick(&mut rng, &PARCELS_OWNED)
            } else {
                0
            }
        })
        .collect();
    let resident_parcels: usize = owned.iter().map(|count| usize::from(*count)).sum();
    let outsider_parcels = resident_parcels * OUTSIDER_PARCELS_PERCENT / (100 - OUTSIDER_PARCELS_PERCENT);
    let mut outsiders_between = Interleave::new(resident_parcels, outsider_parcels);
    let mut progress = Progress::start("parcels", resident_parcels + outsider_parcels, progress);

    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(PARCELS_HEADER.as_bytes()).map_err(io_error(path))?;
    let mut writer = ParcelWriter {
        last_number: [0; TOWNS.len()],
        line: String::with_capacity(160),
        address: String::with_capacity(64),
    };
    let mut registered_home = None;
    for (resident, &count) in district.residents.iter().zip(&owned) {
        for index in 0..count {
            // The first owner in a household to be listed holds its home.
            let (address, land_use) = if index == 0 && registered_home != Some(resident.household_key()) {
                registered_home = Some(resident.household_key());
                (resident.address, LandUse::Residential)
            } else {
                random_parcel(&mut rng, district, Some(resident.address.town))
            };
            let owner = Owner {
                id_number: &resident.id_number,
                birth: resident.birth,
            };
            writer
                .write(&mut out, &mut rng, owner, address, land_use)
                .map_err(io_error(path))?;
            progress.row();
            if outsiders_between.tick() {
                let outsider = choose(&mut rng, &district.outsiders);
                let owner = Owner {
                    id_number: &outsider.id_number,
                    birth: outsider.birth,
                };
                let (address, land_use) = random_parcel(&mut rng, district, None);
                writer
                    .write(&mut out, &mut rng, owner, address, land_use)
                    .map_err(io_error(path))?;
                progress.row();
            }
        }
    }
    out.flush().map_err(io_error(path))?;
    let written = progress.done;
    progress.finish();
    Ok(written)
}

/// A parcel other than a home: mostly in the owner's town, if any, and of a use that suits
/// the town.
fn random_parcel(rng: &mut ChaCha8Rng, district: &District, owner_town: Option<u8>) -> (Address, LandUse) {
    let town = match owner_town {
        Some(town) if rng.random_ratio(9, 10) => town,
        _ => pick_town(rng, |town| town.resident_share),
    };
    let address = Address {
        town,
        grid: rng.random_range(1..=district.grids_per_town[usize::from(town)]),
        street: rng.random_range(0..TOWNS[usize::from(town)].streets.len()) as u8,
        house_number: rng.random_range(1..=300),
    };
    (address, pick(rng, &TOWNS[usize::from(town)].land_uses))
}

#[derive(Clone, Copy)]
struct Owner<'a> {
    id_number: &'a str,
    birth: Day,
}

struct ParcelWriter {
    /// The last parcel number given in each town.
    last_number: [u32; TOWNS.len()],
    line: String,
    address: String,
}

impl ParcelWriter {
    /// Writes the CSV line of a new parcel.
    fn write(
        &mut self,
        out: &mut impl Write,
        rng: &mut ChaCha8Rng,
        owner: Owner<'_>,
        address: Address,
        land_use: LandUse,
    ) -> io::Result<()> {
        let town = usize::from(address.town);
        self.last_number[town] += 1;
        let line = &mut self.line;
        line.clear();
        push_number(line, u64::from(ids::NANHAI), 6);
        line.push('-');
        line.push_str(TOWNS[town].code);
        line.push('-');
        push_number(line, u64::from(self.last_number[town]), 6);
        line.push(',');
        line.push_str(owner.id_number);
        line.push(',');
        line.push_str(TOWNS[town].name);
        line.push(',');
        self.address.clear();
        push_address(&mut self.address, address);
        push_csv_field(line, &self.address);
        line.push(',');
        push_hundredths(line, land_use.area_hundredths(rng));
        line.push(',');
        line.push_str(land_use.as_str());
        line.push(',');
        let earliest = LAND_REGISTRATION_FROM.max(owner.birth.plus(ADULT_AFTER_DAYS));
        push_iso_date(line, random_day(rng, earliest, REFERENCE_DAY.plus(-1)));
        line.push('\n');
        out.write_all(line.as_bytes())
    }
}

// ----------------------------------------------------------------------------------------
// social_security.enrolments: SQLite

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    EmployeePension,
    ResidentPension,
    BasicMedical,
}

impl Scheme {
    const ALL: [Self; 3] = [Self::EmployeePension, Self::ResidentPension, Self::BasicMedical];

    fn as_str(self) -> &'static str {
        match self {
            Self::EmployeePension => "urban_employee_pension",
            Self::ResidentPension => "urban_rural_resident_pension",
            Self::BasicMedical => "basic_medical",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// When the scheme began in the district.
    fn since(self) -> Day {
        match self {
            Self::EmployeePension => Day::from_civil(1995, 1, 1),
            Self::ResidentPension => Day::from_civil(2009, 10, 1),
            Self::BasicMedical => Day::from_civil(2000, 1, 1),
        }
    }

    /// Employees pay a share of their wage; resident pension contributions are an annual
    /// grade paid monthly; resident medical insurance is a flat premium.
    fn monthly_contribution_cents(self, rng: &mut ChaCha8Rng, employed: bool) -> u64 {
        const RESIDENT_PENSION_GRADES: [u64; 13] = [
            100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_500, 2_000, 3_000,
        ];
        match self {
            Self::EmployeePension => rng.random_range(hundredths(380)..=hundredths(1_800)),
            Self::ResidentPension => hundredths(*choose(rng, &RESIDENT_PENSION_GRADES)) / 12,
            Self::BasicMedical if employed => rng.random_range(hundredths(80)..=hundredths(600)),
            Self::BasicMedical => rng.random_range(hundredths(28)..=hundredths(35)),
        }
    }
}

const ENROLMENT_STATUSES: [(&str, u32); 3] = [("active", 85), ("suspended", 8), ("ended", 7)];

/// The schemes someone is enrolled in, as bits: most adults have a pension and medical
/// insurance, children only medical insurance.
fn plan_schemes(rng: &mut ChaCha8Rng, age: u32) -> u8 {
    let medical = if rng.random_ratio(9, 10) {
        Scheme::BasicMedical.bit()
    } else {
        0
    };
    if age < 18 {
        return medical;
    }
    let (employee, resident) = if age < 60 { (65, 25) } else { (40, 50) };
    let ticket = rng.random_range(0..100);
    let pension = if ticket < employee {
        Scheme::EmployeePension.bit()
    } else if ticket < employee + resident {
        Scheme::ResidentPension.bit()
    } else {
        0
    };
    pension | medical
}

/// The file is written once, from scratch: it needs neither a rollback journal nor syncs.
const ENROLMENTS_SETUP: &str = "PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE enrolments (
    id_number TEXT NOT NULL,
    scheme TEXT NOT NULL,
    enrolled_on DATE,
    monthly_contribution DECIMAL(10,2),
    status TEXT
);";

fn write_enrolments(
    path: &Path,
    district: &District,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<usize, GenerateError> {
    let mut rng = rng_for(Stream::Enrolments);
    let planned: Vec<u8> = district
        .residents
        .iter()
        .map(|resident| plan_schemes(&mut rng, resident.age))
        .collect();
    let resident_enrolments: usize = planned.iter().map(|schemes| schemes.count_ones() as usize).sum();
    let outsider_enrolments =
        resident_enrolments * OUTSIDER_ENROLMENTS_PERCENT / (100 - OUTSIDER_ENROLMENTS_PERCENT);
    let mut outsiders_between = Interleave::new(resident_enrolments, outsider_enrolments);
    let mut progress = Progress::start("enrolments", resident_enrolments + outsider_enrolments, progress);

    if let Err(error) = fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        return Err(io_error(path)(error));
    }
    let mut connection = rusqlite::Connection::open(path).map_err(sqlite_error(path))?;
    connection
        .execute_batch(ENROLMENTS_SETUP)
        .map_err(sqlite_error(path))?;
    let transaction = connection.transaction().map_err(sqlite_error(path))?;
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO enrolments (id_number, scheme, enrolled_on, monthly_contribution, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sqlite_error(path))?;
        let mut enrolled_on = String::with_capacity(10);
        // Bound as text with two decimals. SQLite's NUMERIC affinity (the column is DECIMAL)
        // keeps it as a REAL or INTEGER, which reads back exactly at scale 2.
        let mut contribution = String::with_capacity(12);
        let mut enrol =
            |rng: &mut ChaCha8Rng, id_number: &str, birth: Day, scheme: Scheme, employed: bool| {
                let earliest = match scheme {
                    Scheme::BasicMedical => birth,
                    Scheme::EmployeePension | Scheme::ResidentPension => birth.plus(ADULT_AFTER_DAYS),
                };
                enrolled_on.clear();
                push_iso_date(
                    &mut enrolled_on,
                    random_day(rng, scheme.since().max(earliest), REFERENCE_DAY.plus(-1)),
                );
                contribution.clear();
                push_hundredths(
                    &mut contribution,
                    scheme.monthly_contribution_cents(rng, employed),
                );
                let status = pick(rng, &ENROLMENT_STATUSES);
                insert.execute((id_number, scheme.as_str(), &enrolled_on, &contribution, status))
            };
        for (resident, &schemes) in district.residents.iter().zip(&planned) {
            let employed = schemes & Scheme::EmployeePension.bit() != 0;
            for scheme in Scheme::ALL
                .into_iter()
                .filter(|scheme| schemes & scheme.bit() != 0)
            {
                enrol(&mut rng, &resident.id_number, resident.birth, scheme, employed)
                    .map_err(sqlite_error(path))?;
                progress.row();
                if outsiders_between.tick() {
                    // People who work in the district but are registered elsewhere.
                    let outsider = choose(&mut rng, &district.outsiders);
                    let scheme = if rng.random_ratio(1, 2) {
                        Scheme::EmployeePension
                    } else {
                        Scheme::BasicMedical
                    };
                    enrol(&mut rng, &outsider.id_number, outsider.birth, scheme, true)
                        .map_err(sqlite_error(path))?;
                    progress.row();
                }
            }
        }
    }
    transaction
        .execute_batch("CREATE INDEX enrolments_id_number ON enrolments (id_number);")
        .map_err(sqlite_error(path))?;
    transaction.commit().map_err(sqlite_error(path))?;
    connection
        .close()
        .map_err(|(_, error)| sqlite_error(path)(error))?;
    let written = progress.done;
    progress.finish();
    Ok(written)
}

// ----------------------------------------------------------------------------------------
// market_supervision.enterprises: NDJSON

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreditRating {
    A,
    B,
    C,
    D,
}

impl CreditRating {
    fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }

    /// Firms with a poor rating fail more inspections: that is partly why their rating is poor.
    fn inspection_results(self) -> [(InspectionResult, u32); 3] {
        let (passed, rectify, fined) = match self {
            Self::A => (85, 12, 3),
            Self::B => (70, 22, 8),
            Self::C => (50, 30, 20),
            Self::D => (30, 35, 35),
        };
        [
            (InspectionResult::Passed, passed),
            (InspectionResult::Rectify, rectify),
            (InspectionResult::Fined, fined),
        ]
    }
}

const CREDIT_RATINGS: [(CreditRating, u32); 4] = [
    (CreditRating::A, 45),
    (CreditRating::B, 38),
    (CreditRating::C, 12),
    (CreditRating::D, 5),
];
/// Registered capital in yuan.
const REGISTERED_CAPITAL: [(u64, u32); 8] = [
    (100_000, 25),
    (300_000, 20),
    (500_000, 20),
    (1_000_000, 18),
    (3_000_000, 8),
    (5_000_000, 5),
    (10_000_000, 3),
    (50_000_000, 1),
];
/// The district's trades: hardware, ceramics, aluminium, textiles and more.
const INDUSTRIES: [&str; 15] = [
    "Hardware",
    "Ceramics",
    "Aluminium",
    "Textile",
    "Furniture",
    "Electronics",
    "Trading",
    "Logistics",
    "Food",
    "Plastics",
    "Machinery",
    "Lighting",
    "Auto Parts",
    "Building Materials",
    "Garment",
];
const BRAND_HEADS: [&str; 25] = [
    "Hong", "Xing", "Jin", "Hua", "Yong", "Mei", "Lian", "Heng", "Tai", "Fu", "Sheng", "Guang", "Da", "Xin",
    "Rui", "Long", "Feng", "Cheng", "Kai", "Bao", "Tian", "Wei", "Jia", "Hai", "Run",
];
const BRAND_TAILS: [&str; 20] = [
    "da", "hui", "li", "feng", "sheng", "de", "yi", "xin", "tai", "fa", "xing", "yuan", "tong", "cheng",
    "an", "hong", "rui", "bang", "chang", "yu",
];
/// The first organisation number; the next ones follow at random small steps.
const FIRST_ORGANISATION_NUMBER: u32 = 30_000_000;

struct Enterprise<'a> {
    credit_code: String,
    name: String,
    legal_rep_id_number: &'a str,
    town: u8,
    rating: CreditRating,
    capital_cents: u64,
    established: Day,
}

fn build_enterprises(district: &District) -> Vec<Enterprise<'_>> {
    let mut rng = rng_for(Stream::Enterprises);
    let count = district.residents.len() / RESIDENTS_PER_ENTERPRISE;
    // Legal representatives are residents of working age, mostly of the firm's own town.
    let mut candidates: [Vec<&str>; TOWNS.len()] = Default::default();
    for resident in district
        .residents
        .iter()
        .filter(|resident| (25..=70).contains(&resident.age))
    {
        candidates[usize::from(resident.address.town)].push(&resident.id_number);
    }
    let mut names = HashSet::with_capacity(count);
    let mut organisation_number = FIRST_ORGANISATION_NUMBER;
    (0..count)
        .map(|serial| {
            let town = pick_town(&mut rng, |town| town.enterprise_share);
            let rep_town = if rng.random_ratio(17, 18) {
                town
            } else {
                pick_town(&mut rng, |town| town.resident_share)
            };
            let town_candidates = &candidates[usize::from(rep_town)];
            let legal_rep_id_number = if rng.random_ratio(9, 10) && !town_candidates.is_empty() {
                *choose(&mut rng, town_candidates)
            } else {
                &*choose(&mut rng, &district.outsiders).id_number
            };
            organisation_number += rng.random_range(1..=150);
            Enterprise {
                credit_code: ids::enterprise_credit_code(ids::NANHAI, organisation_number),
                name: enterprise_name(&mut rng, &TOWNS[usize::from(town)], &mut names, serial),
                legal_rep_id_number,
                town,
                rating: pick(&mut rng, &CREDIT_RATINGS),
                capital_cents: hundredths(pick(&mut rng, &REGISTERED_CAPITAL)),
                established: random_day(&mut rng, ENTERPRISES_FROM, REFERENCE_DAY.plus(-30)),
            }
        })
        .collect()
}

/// `Foshan Nanhai Guicheng Hongda Hardware Co., Ltd.`, unique in the district as the
/// registry requires: a name already taken is drawn again, with a longer brand after a few
/// tries, and numbered as a last resort.
fn enterprise_name(rng: &mut ChaCha8Rng, town: &Town, taken: &mut HashSet<String>, serial: usize) -> String {
    let industry = choose(rng, &INDUSTRIES);
    for attempt in 0..16 {
        let mut name = format!("Foshan Nanhai {} {}", town.name, choose(rng, &BRAND_HEADS));
        for _ in 0..if attempt < 4 { 1 } else { 2 } {
            let tail = choose(rng, &BRAND_TAILS);
            name.push_str(tail);
        }
        name.push(' ');
        name.push_str(industry);
        name.push_str(" Co., Ltd.");
        if taken.insert(name.clone()) {
            return name;
        }
    }
    let name = format!(
        "Foshan Nanhai {} {industry} No. {} Co., Ltd.",
        town.name,
        serial + 1
    );
    taken.insert(name.clone());
    name
}

#[derive(Serialize)]
struct EnterpriseRecord<'a> {
    credit_code: &'a str,
    name: &'a str,
    legal_rep_id_number: &'a str,
    town: &'a str,
    credit_rating: &'a str,
    registered_capital: &'a str,
    established_on: &'a str,
}

fn write_enterprises(
    path: &Path,
    enterprises: &[Enterprise<'_>],
    progress: &dyn Fn(&str, u64, u64),
) -> Result<(), GenerateError> {
    let mut progress = Progress::start("enterprises", enterprises.len(), progress);
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut capital = String::with_capacity(16);
    let mut established_on = String::with_capacity(10);
    for enterprise in enterprises {
        capital.clear();
        push_hundredths(&mut capital, enterprise.capital_cents);
        established_on.clear();
        push_iso_date(&mut established_on, enterprise.established);
        let record = EnterpriseRecord {
            credit_code: &enterprise.credit_code,
            name: &enterprise.name,
            legal_rep_id_number: enterprise.legal_rep_id_number,
            town: TOWNS[usize::from(enterprise.town)].name,
            credit_rating: enterprise.rating.as_str(),
            registered_capital: &capital,
            established_on: &established_on,
        };
        serde_json::to_writer(&mut out, &record).map_err(|source| GenerateError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        out.write_all(b"\n").map_err(io_error(path))?;
        progress.row();
    }
    out.flush().map_err(io_error(path))?;
    progress.finish();
    Ok(())
}

// ----------------------------------------------------------------------------------------
// The database tables, as SQL

/// Multi-row INSERT statements of at most `INSERT_BATCH_ROWS` rows.
struct InsertBatches {
    /// `INSERT INTO table (columns) VALUES`
    head: &'static str,
    batches: Vec<String>,
    current: String,
    rows_in_current: usize,
    rows: usize,
}

impl InsertBatches {
    fn new(head: &'static str) -> Self {
        Self {
            head,
            batches: Vec::new(),
            current: String::new(),
            rows_in_current: 0,
            rows: 0,
        }
    }

    /// The statement to write the next row's parenthesised values to.
    fn next_row(&mut self) -> &mut String {
        if self.rows_in_current == INSERT_BATCH_ROWS {
            self.batches.push(mem::take(&mut self.current));
            self.rows_in_current = 0;
        }
        if self.rows_in_current == 0 {
            self.current.push_str(self.head);
            self.current.push('\n');
        } else {
            self.current.push_str(",\n");
        }
        self.rows_in_current += 1;
        self.rows += 1;
        &mut self.current
    }

    fn finish(mut self, setup: &[&str]) -> DatabaseTable {
        if self.rows_in_current > 0 {
            self.batches.push(self.current);
        }
        DatabaseTable {
            setup: setup.iter().map(|statement| (*statement).to_owned()).collect(),
            insert_batches: self.batches,
            rows: self.rows,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaymentKind {
    Pension,
    MedicalReimbursement,
    Subsidy,
}

impl PaymentKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pension => "pension",
            Self::MedicalReimbursement => "medical_reimbursement",
            Self::Subsidy => "subsidy",
        }
    }

    fn amount_cents(self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            Self::Pension => rng.random_range(hundredths(1_200)..=hundredths(4_800)),
            Self::MedicalReimbursement => rng.random_range(hundredths(50)..=hundredths(8_000)),
            Self::Subsidy => rng.random_range(hundredths(100)..=hundredths(1_000)),
        }
    }
}

const PAYMENTS_PER_ELDER: [(u8, u32); 5] = [(0, 10), (1, 25), (2, 35), (3, 20), (4, 10)];
const PAYMENT_KINDS: [(PaymentKind, u32); 3] = [
    (PaymentKind::Pension, 60),
    (PaymentKind::MedicalReimbursement, 25),
    (PaymentKind::Subsidy, 15),
];

struct BenefitPayment<'a> {
    payment_id: u64,
    id_number: &'a str,
    kind: PaymentKind,
    amount_cents: u64,
    paid_on: Day,
    /// When the payment was recorded on `paid_on`, in seconds after midnight (UTC+8).
    recorded_second: u32,
}

/// Payments in 2024 to residents aged 60 or more.
fn each_benefit_payment(district: &District, mut visit: impl FnMut(&BenefitPayment<'_>)) {
    let mut rng = rng_for(Stream::BenefitPayments);
    let mut payment_id = 0;
    for resident in district.residents.iter().filter(|resident| resident.age >= 60) {
        for _ in 0..pick(&mut rng, &PAYMENTS_PER_ELDER) {
            payment_id += 1;
            let kind = pick(&mut rng, &PAYMENT_KINDS);
            visit(&BenefitPayment {
                payment_id,
                id_number: &resident.id_number,
                kind,
                amount_cents: kind.amount_cents(&mut rng),
                paid_on: random_day(&mut rng, PAYMENTS_FROM, PAYMENTS_TO),
                recorded_second: rng.random_range(8 * 3_600..18 * 3_600),
            });
        }
    }
}

const BENEFIT_PAYMENTS_SETUP: [&str; 3] = [
    "DROP TABLE IF EXISTS benefit_payments",
    "CREATE TABLE benefit_payments (
    payment_id BIGINT PRIMARY KEY,
    id_number VARCHAR(18) NOT NULL,
    kind TEXT,
    amount NUMERIC(10,2),
    paid_on DATE,
    recorded_at TIMESTAMPTZ
)",
    "CREATE INDEX benefit_payments_id_number ON benefit_payments (id_number)",
];

fn benefit_payments_table(district: &District) -> DatabaseTable {
    let mut batches = InsertBatches::new(
        "INSERT INTO benefit_payments (payment_id, id_number, kind, amount, paid_on, recorded_at) VALUES",
    );
    let mut text = String::with_capacity(32);
    each_benefit_payment(district, |payment| {
        let row = batches.next_row();
        row.push('(');
        push_number(row, payment.payment_id, 1);
        row.push_str(", ");
        push_sql_string(row, payment.id_number, Dialect::Postgres);
        row.push_str(", ");
        push_sql_string(row, payment.kind.as_str(), Dialect::Postgres);
        row.push_str(", ");
        push_hundredths(row, payment.amount_cents);
        row.push_str(", ");
        text.clear();
        push_iso_date(&mut text, payment.paid_on);
        push_sql_string(row, &text, Dialect::Postgres);
        row.push_str(", ");
        // The timestamp is the date just written, then the time and the offset.
        text.push(' ');
        push_number(&mut text, u64::from(payment.recorded_second / 3_600), 2);
        text.push(':');
        push_number(&mut text, u64::from(payment.recorded_second / 60 % 60), 2);
        text.push(':');
        push_number(&mut text, u64::from(payment.recorded_second % 60), 2);
        text.push_str("+08");
        push_sql_string(row, &text, Dialect::Postgres);
        row.push(')');
    });
    batches.finish(&BENEFIT_PAYMENTS_SETUP)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InspectionResult {
    Passed,
    Rectify,
    Fined,
}

impl InspectionResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Rectify => "rectify",
            Self::Fined => "fined",
        }
    }
}

const INSPECTIONS_PER_ENTERPRISE: [(u8, u32); 5] = [(0, 10), (1, 25), (2, 35), (3, 20), (4, 10)];

struct Inspection<'a> {
    inspection_id: u64,
    credit_code: &'a str,
    inspected_on: Day,
    result: InspectionResult,
    /// Only when fined.
    fine_cents: Option<u64>,
}

/// Inspections since 2015 (or the firm's founding) of the enterprises in `enterprises.ndjson`.
fn each_inspection(enterprises: &[Enterprise<'_>], mut visit: impl FnMut(&Inspection<'_>)) {
    let mut rng = rng_for(Stream::Inspections);
    let mut inspection_id = 0;
    for enterprise in enterprises {
        let results = enterprise.rating.inspection_results();
        for _ in 0..pick(&mut rng, &INSPECTIONS_PER_ENTERPRISE) {
            inspection_id += 1;
            let inspected_on = random_day(
                &mut rng,
                INSPECTIONS_FROM.max(enterprise.established),
                REFERENCE_DAY.plus(-1),
            );
            let result = pick(&mut rng, &results);
            let fine_cents =
                (result == InspectionResult::Fined).then(|| hundredths(100 * rng.random_range(10..=2_000)));
            visit(&Inspection {
                inspection_id,
                credit_code: &enterprise.credit_code,
                inspected_on,
                result,
                fine_cents,
            });
        }
    }
}

const INSPECTIONS_SETUP: [&str; 2] = [
    "DROP TABLE IF EXISTS inspections",
    "CREATE TABLE inspections (
    inspection_id BIGINT PRIMARY KEY,
    credit_code VARCHAR(18) NOT NULL,
    inspected_on DATE,
    result VARCHAR(16),
    fine DECIMAL(12,2) NULL,
    INDEX inspections_credit_code (credit_code)
)",
];

fn inspections_table(enterprises: &[Enterprise<'_>]) -> DatabaseTable {
    let mut batches = InsertBatches::new(
        "INSERT INTO inspections (inspection_id, credit_code, inspected_on, result, fine) VALUES",
    );
    let mut text = String::with_capacity(10);
    each_inspection(enterprises, |inspection| {
        let row = batches.next_row();
        row.push('(');
        push_number(row, inspection.inspection_id, 1);
        row.push_str(", ");
        push_sql_string(row, inspection.credit_code, Dialect::MySql);
        row.push_str(", ");
        text.clear();
        push_iso_date(&mut text, inspection.inspected_on);
        push_sql_string(row, &text, Dialect::MySql);
        row.push_str(", ");
        push_sql_string(row, inspection.result.as_str(), Dialect::MySql);
        row.push_str(", ");
        match inspection.fine_cents {
            Some(cents) => push_hundredths(row, cents),
            None => row.push_str("NULL"),
        }
        row.push(')');
    });
    batches.finish(&INSPECTIONS_SETUP)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
    use datafusion::arrow::datatypes::Date32Type;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

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
                let (parcel_id, owner, town) =
                    (column(0).value(row), column(1).value(row), column(2).value(row));
                assert!(parcel_ids.insert(parcel_id.to_owned()), "duplicate {parcel_id}");
                assert!(
                    parcel_id.starts_with("440605-") && parcel_id.len() == 16,
                    "{parcel_id}"
                );
                assert!(ids::is_valid_resident_id(owner), "{owner}");
                assert!(column(3).value(row).starts_with(&format!("{town} Town, Grid ")));
                assert!(is_money(column(4).value(row)), "{}", column(4).value(row));
                assert!(
                    ["residential", "commercial", "industrial", "agricultural"]
                        .contains(&column(5).value(row))
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
}
