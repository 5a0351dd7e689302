//! The tables of the differential suite, one per type family in each database, holding the
//! values where databases and the hub are most likely to disagree, and the literals each
//! column is compared with.

use super::Dialect;
use super::filters::{Column, Direct, Family, Literal};

/// One table: its DDL and rows in the database's SQL, its contract and its columns.
pub(super) struct Table {
    pub name: &'static str,
    /// The contract's fields, `id` first.
    pub fields: Vec<(&'static str, &'static str)>,
    /// `CREATE TABLE` and `INSERT`s, statements ending with `;\n`; the text table's rows
    /// are inserted as parameters instead (see [`TEXTS`]).
    pub setup: String,
    pub columns: Vec<Column>,
    /// Rows holding values the hub documents as its own (dates outside the years 1 to
    /// 9999, MySQL's zero date), left out of the comparison with the database.
    pub unlike_database: Vec<i64>,
}

/// The text table's values, by id; every text column of a row holds the same value (a
/// `char(10)` column its first ten characters).
pub(super) const TEXTS: [(i64, Option<&str>); 20] = [
    (1, Some("Electronics")),
    (2, Some("electronics")),
    (3, Some("ELECTRONICS")),
    (4, Some("O'Brien")),
    (5, Some("say \"hi\"")),
    (6, Some("C:\\path")),
    (7, Some("50%")),
    (8, Some("a_b")),
    (9, Some("abc  ")),
    (10, Some("  abc")),
    (11, Some("abc")),
    (12, Some("")),
    (13, Some("北京市")),
    (14, Some("café")),
    (15, Some("cafe")),
    (16, Some("😀")),
    (17, Some("🎉")),
    (18, Some("straße")),
    (19, Some("STRASSE")),
    (20, None),
];

/// Literals that are no row's value: one trailing space, other cases, a decomposed `é`
/// (`e` and a combining accent), a value no row holds, the `char(10)` cut of `Electronics`.
const MORE_TEXTS: [&str; 7] = ["abc ", "ABC", "Café", "CAFÉ", "cafe\u{301}", "zzz", "Electronic"];

fn text_column(name: &'static str, direct: Direct) -> Column {
    let values: Vec<&str> = TEXTS.iter().filter_map(|(_, value)| *value).collect();
    Column {
        name,
        family: Family::Text,
        direct,
        rows: values.len(),
        literals: values.into_iter().chain(MORE_TEXTS).map(Literal::text).collect(),
    }
}

fn column(name: &'static str, direct: Direct, literals: &[&str]) -> Column {
    Column {
        name,
        family: Family::Other,
        direct,
        literals: literals.iter().map(|sql| Literal::new(*sql)).collect(),
        rows: 0,
    }
}

fn texts(dialect: Dialect) -> Table {
    let (setup, columns) = match dialect {
        Dialect::Postgres => (
            "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);\n\
             CREATE TABLE texts (id bigint, s text, c char(10), ci text COLLATE ci);\n",
            vec![
                text_column("s", Direct::Equality),
                text_column("c", Direct::Never),
                text_column("ci", Direct::Never),
            ],
        ),
        Dialect::Mysql => (
            "CREATE TABLE texts (id bigint, s varchar(20) CHARACTER SET utf8mb4, \
             b varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin);\n",
            vec![text_column("s", Direct::Never), text_column("b", Direct::Never)],
        ),
        Dialect::Sqlite => (
            "CREATE TABLE texts (id INTEGER, s TEXT);\n",
            vec![text_column("s", Direct::Never)],
        ),
    };
    let fields = std::iter::once(("id", "bigint"))
        .chain(columns.iter().map(|column| (column.name, "string")))
        .collect();
    Table {
        name: "texts",
        fields,
        setup: setup.to_owned(),
        columns,
        unlike_database: Vec::new(),
    }
}

fn integers() -> Table {
    Table {
        name: "integers",
        fields: vec![
            ("id", "bigint"),
            ("i16", "smallint"),
            ("i32", "int"),
            ("i64", "bigint"),
        ],
        setup: "CREATE TABLE integers (id bigint, i16 smallint, i32 integer, i64 bigint);\n\
                INSERT INTO integers VALUES (1, -32768, -2147483648, -9223372036854775808), \
                (2, 32767, 2147483647, 9223372036854775807), (3, 0, 0, 0), (4, -1, -1, -1), \
                (5, 1, 1, 1), (6, NULL, NULL, NULL);\n"
            .to_owned(),
        columns: vec![
            column(
                "i16",
                Direct::Always,
                &["-32768", "32767", "-32769", "32768", "0", "-1", "1", "2.5"],
            ),
            column(
                "i32",
                Direct::Always,
                &[
                    "-2147483648",
                    "2147483647",
                    "-2147483649",
                    "2147483648",
                    "0",
                    "-1",
                    "1",
                ],
            ),
            column(
                "i64",
                Direct::Always,
                &[
                    "-9223372036854775808",
                    "9223372036854775807",
                    "-9223372036854775809",
                    "9223372036854775808",
                    "0",
                    "-1",
                    "1",
                ],
            ),
        ],
        unlike_database: Vec::new(),
    }
}

const DECIMALS_10_2: [&str; 11] = [
    "CAST('99999999.99' AS DECIMAL(10,2))",
    "CAST('-99999999.99' AS DECIMAL(10,2))",
    "CAST('0.01' AS DECIMAL(10,2))",
    "99999999.99",
    "-99999999.99",
    "0.01",
    "-0.01",
    "0",
    "0.005",
    "100000000",
    "1.5",
];

const DECIMALS_38_10: [&str; 8] = [
    "CAST('9999999999999999999999999999.9999999999' AS DECIMAL(38,10))",
    "CAST('-9999999999999999999999999999.9999999999' AS DECIMAL(38,10))",
    "CAST('0.0000000001' AS DECIMAL(38,10))",
    "0.0000000001",
    "0",
    "1",
    "10000000000000000000000000000",
    "-9223372036854775808",
];

fn decimals(dialect: Dialect) -> Table {
    let sqlite = dialect == Dialect::Sqlite;
    // SQLite keeps decimals as its own numbers or text: their semantics are not SQLite's.
    let direct = if sqlite { Direct::Never } else { Direct::Always };
    let mut columns = vec![column("d", direct, &DECIMALS_10_2)];
    let mut fields = vec![("id", "bigint"), ("d", "decimal(10,2)")];
    let setup = if sqlite {
        "CREATE TABLE decimals (id INTEGER, d DECIMAL(10,2));\n\
         INSERT INTO decimals VALUES (1, '99999999.99'), (2, '-99999999.99'), (3, '0.01'), \
         (4, '-0.01'), (5, '0'), (6, '1.50'), (7, NULL);\n"
    } else {
        columns.push(column("w", direct, &DECIMALS_38_10));
        fields.push(("w", "decimal(38,10)"));
        "CREATE TABLE decimals (id bigint, d decimal(10,2), w decimal(38,10));\n\
         INSERT INTO decimals VALUES (1, 99999999.99, 9999999999999999999999999999.9999999999), \
         (2, -99999999.99, -9999999999999999999999999999.9999999999), (3, 0.01, 0.0000000001), \
         (4, -0.01, -0.0000000001), (5, 0, 0), (6, 1.50, 1.5), (7, NULL, NULL);\n"
    };
    Table {
        name: "decimals",
        fields,
        setup: setup.to_owned(),
        columns,
        unlike_database: Vec::new(),
    }
}

/// The SQLite float table's rows, bound as the doubles an application writes: SQLite reads
/// some decimal literals as a neighbour of the double they name. SQLite holds NaN as NULL.
pub(super) const SQLITE_FLOATS: [(i64, Option<f64>); 11] = [
    (1, Some(-0.0)),
    (2, Some(0.0)),
    (3, Some(1e-300)),
    (4, Some(5e-324)),
    (5, Some(1e300)),
    (6, Some(f64::MAX)),
    (8, Some(f64::INFINITY)),
    (9, Some(f64::NEG_INFINITY)),
    (10, Some(1.5)),
    (11, Some(-2.5)),
    (12, None),
];

fn floats(dialect: Dialect) -> Table {
    let setup = match dialect {
        Dialect::Postgres => {
            "CREATE TABLE floats (id bigint, f double precision);\n\
             INSERT INTO floats VALUES (1, '-0'), (2, 0), (3, 1e-300), (4, 5e-324), (5, 1e300), \
             (6, 1.7976931348623157e308), (7, 'NaN'), (8, 'Infinity'), (9, '-Infinity'), \
             (10, 1.5), (11, -2.5), (12, NULL);\n"
        }
        // MariaDB holds no NaN or infinities.
        Dialect::Mysql => {
            "CREATE TABLE floats (id bigint, f double);\n\
             INSERT INTO floats VALUES (1, -0e0), (2, 0e0), (3, 1e-300), (4, 5e-324), (5, 1e300), \
             (6, 1.7976931348623157e308), (10, 1.5), (11, -2.5), (12, NULL);\n"
        }
        // Its rows are bound as doubles (see [`SQLITE_FLOATS`]).
        Dialect::Sqlite => "CREATE TABLE floats (id INTEGER, f REAL);\n",
    };
    Table {
        name: "floats",
        fields: vec![("id", "bigint"), ("f", "double")],
        setup: setup.to_owned(),
        columns: vec![column(
            "f",
            Direct::Never,
            &[
                "CAST('NaN' AS DOUBLE)",
                "CAST('Infinity' AS DOUBLE)",
                "CAST('-Infinity' AS DOUBLE)",
                "-0.0",
                "0.0",
                "0",
                "1e-300",
                "5e-324",
                "1e300",
                "1.7976931348623157e308",
                "1.5",
                "-2.5",
                "1",
            ],
        )],
        unlike_database: Vec::new(),
    }
}

fn dates(dialect: Dialect) -> Table {
    let (setup, unlike_database, direct) = match dialect {
        Dialect::Postgres => (
            "CREATE TABLE dates (id bigint, d date);\n\
             INSERT INTO dates VALUES (1, '0001-01-01'), (2, '1900-01-01'), (3, '1969-12-31'), \
             (4, '1970-01-01'), (5, '2000-02-29'), (6, '9999-12-31'), (7, '0044-03-15 BC'), \
             (8, NULL);\n",
            vec![7],
            Direct::Always,
        ),
        // The zero date only goes in under a lax sql_mode.
        Dialect::Mysql => (
            "CREATE TABLE dates (id bigint, d date);\n\
             SET SESSION sql_mode = '';\n\
             INSERT INTO dates VALUES (1, '0001-01-01'), (2, '1900-01-01'), (3, '1969-12-31'), \
             (4, '1970-01-01'), (5, '2000-02-29'), (6, '9999-12-31'), (7, '0000-00-00'), \
             (8, NULL);\n",
            vec![7],
            Direct::Always,
        ),
        // SQLite keeps dates as text: their semantics are not SQLite's.
        Dialect::Sqlite => (
            "CREATE TABLE dates (id INTEGER, d DATE);\n\
             INSERT INTO dates VALUES (1, '0001-01-01'), (2, '1900-01-01'), (3, '1969-12-31'), \
             (4, '1970-01-01'), (5, '2000-02-29'), (6, '9999-12-31'), (8, NULL);\n",
            Vec::new(),
            Direct::Never,
        ),
    };
    let mut literals: Vec<Literal> = [
        "DATE '0001-01-01'",
        "DATE '1900-01-01'",
        "DATE '1969-12-31'",
        "DATE '1970-01-01'",
        "DATE '2000-02-29'",
        "DATE '9999-12-31'",
        "DATE '2000-03-01'",
        "'2000-02-29'",
    ]
    .into_iter()
    .map(Literal::new)
    .collect();
    literals.extend(
        ["DATE '-0043-03-15'", "DATE '+10000-01-01'"]
            .into_iter()
            .map(Literal::outside),
    );
    Table {
        name: "dates",
        fields: vec![("id", "bigint"), ("d", "date")],
        setup: setup.to_owned(),
        columns: vec![Column {
            name: "d",
            family: Family::Other,
            direct,
            literals,
            rows: 0,
        }],
        unlike_database,
    }
}

fn booleans(dialect: Dialect) -> Table {
    let (declared, contract) = match dialect {
        Dialect::Postgres => ("boolean", "boolean"),
        // MySQL's BOOLEAN is TINYINT(1), read as an 8-bit integer.
        Dialect::Mysql => ("boolean", "tinyint"),
        Dialect::Sqlite => ("BOOLEAN", "boolean"),
    };
    let mut column = column("b", Direct::Never, &["true", "false", "1", "0"]);
    column.family = Family::Boolean;
    Table {
        name: "booleans",
        fields: vec![("id", "bigint"), ("b", contract)],
        setup: format!(
            "CREATE TABLE booleans (id bigint, b {declared});\n\
             INSERT INTO booleans VALUES (1, true), (2, false), (3, NULL);\n"
        ),
        columns: vec![column],
        unlike_database: Vec::new(),
    }
}

/// Every table of `dialect`.
pub(super) fn tables(dialect: Dialect) -> Vec<Table> {
    vec![
        texts(dialect),
        integers(),
        decimals(dialect),
        floats(dialect),
        dates(dialect),
        booleans(dialect),
    ]
}
