//! Which filters a database may evaluate for DataFusion without changing the result.
//!
//! A filter is pushed into the SQL sent to a database only when the database gives the
//! same answer as DataFusion would. Databases differ from DataFusion where strings meet
//! collations: PostgreSQL and MySQL order text by locale, MySQL compares it without regard
//! to case or trailing spaces, and `LIKE` ignores case in MySQL and SQLite. So:
//!
//! * Ordering comparisons on text stay in DataFusion (PostgreSQL, MySQL).
//! * Where the database's answer is a superset of DataFusion's (MySQL `=` and `IN`, `LIKE`
//!   in MySQL and SQLite), the filter is pushed as `Inexact`: the database narrows the
//!   rows and DataFusion applies the filter again. Negated, those would drop rows, so they
//!   stay in DataFusion.
//! * Only columns, literals, comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`, `BETWEEN`,
//!   `IN` lists and `LIKE` are considered; any function call, cast, arithmetic or subquery
//!   stays in DataFusion. Besides the database lacking DataFusion's functions, a database
//!   evaluates a pushed filter on rows a grant's row filter hides, so it must never fail
//!   (an overflow error would tell that such a row exists).
//! * String literals holding a quote or a backslash are never sent (see
//!   `Classifier::renders_safely`): written into SQL text, they could end the string early.

use std::collections::HashMap;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Like, Operator, TableProviderFilterPushDown};
use datafusion::scalar::ScalarValue;

/// The SQL dialect of a database source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    Sqlite,
    Postgres,
    Mysql,
}

/// How a database compares one column's values, against the hub comparing the values it
/// returns for that column. The connector learns it from the source (its declared types,
/// collations, padding) when the dataset is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnComparison {
    /// As the hub does, within the dialect's rules for text.
    Exact,
    /// Wherever the hub's comparison holds, the database's does too, but not the other way
    /// round: a case-insensitive collation (`'Electronics' = 'electronics'`), `char(n)`
    /// padding (`'a' = 'a  '`), MySQL's zero dates (returned as NULL, compared as dates).
    /// Comparisons that are not negated are pushed as a pre-filter the hub checks again;
    /// negations, `IS [NOT] NULL` and `LIKE` stay in the hub.
    Narrowing,
    /// Never pushed: the database's answer may be a subset of the hub's.
    Never,
}

/// What a database source may be asked to filter: per column, and a default for columns not
/// named.
#[derive(Debug, Clone)]
pub struct PushdownRules {
    dialect: SqlDialect,
    columns: HashMap<String, ColumnComparison>,
    default: ColumnComparison,
}

impl PushdownRules {
    /// Every column compared as the hub does, within the dialect's rules for text.
    pub fn exact(dialect: SqlDialect) -> Self {
        Self {
            dialect,
            columns: HashMap::new(),
            default: ColumnComparison::Exact,
        }
    }

    pub fn with_column(mut self, name: impl Into<String>, comparison: ColumnComparison) -> Self {
        self.columns.insert(name.into(), comparison);
        self
    }

    /// These rules, or none at all when push-down is turned off (the connection's
    /// `filter_pushdown = false`).
    pub fn enabled(self, enabled: bool) -> Self {
        if enabled {
            self
        } else {
            Self {
                dialect: self.dialect,
                columns: HashMap::new(),
                default: ColumnComparison::Never,
            }
        }
    }

    pub fn dialect(&self) -> SqlDialect {
        self.dialect
    }

    fn column(&self, name: &str) -> ColumnComparison {
        self.columns.get(name).copied().unwrap_or(self.default)
    }
}

/// Decides how far `filter` may be pushed to a database under `rules`.
pub fn classify(filter: &Expr, schema: &Schema, rules: &PushdownRules) -> TableProviderFilterPushDown {
    let classifier = Classifier { schema, rules };
    match classifier.visit(filter, false) {
        Verdict::Exact => TableProviderFilterPushDown::Exact,
        Verdict::Inexact => TableProviderFilterPushDown::Inexact,
        Verdict::Unsupported => TableProviderFilterPushDown::Unsupported,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Exact,
    Inexact,
    Unsupported,
}

struct Classifier<'a> {
    schema: &'a Schema,
    rules: &'a PushdownRules,
}

/// The first and last days a date literal may name: SQL dialects read years 1 to 9999, and
/// write earlier years each in their own way (`BC`, negative years, or not at all).
const FIRST_DATE: i32 = -719_162; // 0001-01-01
const LAST_DATE: i32 = 2_932_896; // 9999-12-31

impl Classifier<'_> {
    /// `negated` is true under an odd number of `NOT`s: a superset there becomes a subset.
    fn visit(&self, expr: &Expr, negated: bool) -> Verdict {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And | Operator::Or => self.visit(left, negated).max(self.visit(right, negated)),
                Operator::Eq | Operator::NotEq => {
                    let equality = (*op == Operator::Eq) != negated;
                    self.comparison(&[left, right], Comparison::Equality { equality })
                }
                Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                    self.comparison(&[left, right], Comparison::Ordering { negated })
                }
                _ => Verdict::Unsupported,
            },
            Expr::Not(inner) => self.visit(inner, !negated),
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => self.comparison(&[inner], Comparison::Null),
            Expr::Between(Between {
                expr,
                low,
                high,
                negated: between_negated,
            }) => self.comparison(
                &[expr, low, high],
                Comparison::Ordering {
                    negated: negated != *between_negated,
                },
            ),
            Expr::InList(in_list) => {
                let equality = in_list.negated == negated;
                let operands: Vec<&Expr> = std::iter::once(in_list.expr.as_ref())
                    .chain(in_list.list.iter())
                    .collect();
                self.comparison(&operands, Comparison::Equality { equality })
            }
            Expr::Like(Like {
                negated: like_negated,
                expr,
                pattern,
                escape_char: None,
                case_insensitive: false,
            }) => {
                let matching = *like_negated == negated;
                self.comparison(&[expr, pattern], Comparison::Like { matching })
            }
            _ => Verdict::Unsupported,
        }
    }

    fn comparison<E: AsRef<Expr>>(&self, operands: &[E], comparison: Comparison) -> Verdict {
        let mut verdict = Verdict::Exact;
        let mut text = false;
        let mut float_columns = 0;
        for operand in operands {
            let operand = operand.as_ref();
            verdict = verdict.max(self.operand(operand, comparison));
            text |= self.is_text(operand);
            if let Expr::Column(column) = operand
                && self
                    .schema
                    .field_with_name(&column.name)
                    .is_ok_and(|field| field.data_type().is_floating())
            {
                float_columns += 1;
            }
        }
        // Databases hold -0.0 equal to 0.0; the hub orders floats totally (-0.0 < 0.0), so
        // two float columns may compare differently there (a zero literal is kept back in
        // `literal`).
        if float_columns > 1 {
            return Verdict::Unsupported;
        }
        if !text {
            return verdict;
        }
        let text_verdict = match (self.rules.dialect, comparison) {
            (SqlDialect::Postgres | SqlDialect::Mysql, Comparison::Ordering { .. }) => Verdict::Unsupported,
            (SqlDialect::Mysql, Comparison::Equality { equality: true })
            | (SqlDialect::Mysql | SqlDialect::Sqlite, Comparison::Like { matching: true }) => {
                Verdict::Inexact
            }
            (SqlDialect::Mysql, Comparison::Equality { equality: false })
            | (SqlDialect::Mysql | SqlDialect::Sqlite, Comparison::Like { matching: false }) => {
                Verdict::Unsupported
            }
            _ => Verdict::Exact,
        };
        verdict.max(text_verdict)
    }

    /// Columns, by what the source says of them, and literals.
    fn operand(&self, expr: &Expr, comparison: Comparison) -> Verdict {
        match expr {
            Expr::Column(column) => {
                if self.schema.field_with_name(&column.name).is_err() {
                    return Verdict::Unsupported;
                }
                match self.rules.column(&column.name) {
                    ColumnComparison::Exact => Verdict::Exact,
                    ColumnComparison::Narrowing => match comparison {
                        Comparison::Equality { equality: true } | Comparison::Ordering { negated: false } => {
                            Verdict::Inexact
                        }
                        _ => Verdict::Unsupported,
                    },
                    ColumnComparison::Never => Verdict::Unsupported,
                }
            }
            Expr::Literal(value, _) => self.literal(value),
            _ => Verdict::Unsupported,
        }
    }

    fn literal(&self, value: &ScalarValue) -> Verdict {
        match value {
            ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text))
            | ScalarValue::Utf8View(Some(text))
                if !self.renders_safely(text) =>
            {
                Verdict::Unsupported
            }
            ScalarValue::Float32(Some(number)) if !self.float_renders_exactly(f64::from(*number)) => {
                Verdict::Unsupported
            }
            ScalarValue::Float64(Some(number)) if !self.float_renders_exactly(*number) => {
                Verdict::Unsupported
            }
            ScalarValue::Date32(Some(day)) if !(FIRST_DATE..=LAST_DATE).contains(day) => Verdict::Unsupported,
            ScalarValue::Utf8(_)
            | ScalarValue::LargeUtf8(_)
            | ScalarValue::Utf8View(_)
            | ScalarValue::Boolean(_)
            | ScalarValue::Int8(_)
            | ScalarValue::Int16(_)
            | ScalarValue::Int32(_)
            | ScalarValue::Int64(_)
            | ScalarValue::UInt8(_)
            | ScalarValue::UInt16(_)
            | ScalarValue::UInt32(_)
            | ScalarValue::UInt64(_)
            | ScalarValue::Float32(_)
            | ScalarValue::Float64(_)
            | ScalarValue::Decimal128(..)
            | ScalarValue::Date32(_)
            | ScalarValue::Null => Verdict::Exact,
            _ => Verdict::Unsupported,
        }
    }

    /// Whether a float literal reaches the database as exactly the same double. The SQL
    /// writer spells a double out in decimal digits, with no exponent: MySQL reads such a
    /// literal as a DECIMAL of at most 65 digits (so `1e-300` becomes 0), and SQLite's text
    /// conversion misses the exact double of a very long spelling. PostgreSQL reads every
    /// spelling exactly. Magnitudes from 1e-15 to 1e15 are spelled in at most 31 digits,
    /// which both read back exactly.
    fn float_renders_exactly(&self, number: f64) -> bool {
        // NaN and the infinities have no spelling every dialect reads (SQLite and MySQL
        // hold none); a zero compares equal to -0.0 in databases, not in the hub.
        if !number.is_finite() || number == 0.0 {
            return false;
        }
        match self.rules.dialect {
            SqlDialect::Postgres => true,
            SqlDialect::Mysql | SqlDialect::Sqlite => (1e-15..1e15).contains(&number.abs()),
        }
    }

    /// Whether a string literal reaches the database as exactly the same string. DataFusion's
    /// SQL writer leaves a quote after a backslash, and an already doubled quote, as they
    /// are, and MySQL reads backslashes as escapes: a literal with a quote or a backslash
    /// could end the string early and change the query (an injection). The MySQL provider
    /// also strips every double quote from the SQL it sends. Such filters stay in DataFusion.
    fn renders_safely(&self, text: &str) -> bool {
        let forbidden: &[char] = match self.rules.dialect {
            SqlDialect::Mysql => &['\'', '\\', '"'],
            SqlDialect::Postgres | SqlDialect::Sqlite => &['\'', '\\'],
        };
        !text.contains(forbidden)
    }

    fn is_text(&self, expr: &Expr) -> bool {
        let is_text_type = |data_type: &DataType| {
            matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        };
        match expr {
            Expr::Column(column) => self
                .schema
                .field_with_name(&column.name)
                .is_ok_and(|field| is_text_type(field.data_type())),
            Expr::Literal(value, _) => is_text_type(&value.data_type()),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    /// `=` or `IN` when `equality`, `<>` or `NOT IN` otherwise (after any enclosing `NOT`).
    Equality {
        equality: bool,
    },
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`; `negated` under a `NOT` (or `NOT BETWEEN`).
    Ordering {
        negated: bool,
    },
    Like {
        matching: bool,
    },
    /// `IS NULL`, `IS NOT NULL`.
    Null,
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit};

    use super::*;
    use TableProviderFilterPushDown::{Exact, Inexact, Unsupported};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("town", DataType::Utf8, true),
            Field::new("area", DataType::Float64, true),
            Field::new("born", DataType::Date32, true),
        ])
    }

    fn verdict(filter: Expr, dialect: SqlDialect) -> TableProviderFilterPushDown {
        classify(&filter, &schema(), &PushdownRules::exact(dialect))
    }

    #[test]
    fn numbers_and_dates_push_exactly_everywhere() {
        for dialect in [SqlDialect::Postgres, SqlDialect::Mysql, SqlDialect::Sqlite] {
            assert_eq!(
                verdict(
                    col("area").gt(lit(10.0)).and(col("area").lt_eq(lit(99.5))),
                    dialect
                ),
                Exact
            );
            assert_eq!(
                verdict(col("area").is_null().or(col("area").eq(lit(1.0))), dialect),
                Exact
            );
        }
    }

    #[test]
    fn arithmetic_stays_in_datafusion() {
        let filter = (col("area") * lit(1000.0)).gt(lit(5.0));
        assert_eq!(verdict(filter, SqlDialect::Postgres), Unsupported);
    }

    #[test]
    fn text_ordering_stays_out_of_collating_databases() {
        let filter = col("town").lt(lit("M"));
        assert_eq!(verdict(filter.clone(), SqlDialect::Postgres), Unsupported);
        assert_eq!(verdict(filter.clone(), SqlDialect::Mysql), Unsupported);
        assert_eq!(verdict(filter, SqlDialect::Sqlite), Exact);
    }

    #[test]
    fn mysql_text_equality_narrows_but_is_checked_again() {
        assert_eq!(
            verdict(col("town").eq(lit("Guicheng")), SqlDialect::Mysql),
            Inexact
        );
        assert_eq!(
            verdict(col("town").eq(lit("Guicheng")), SqlDialect::Postgres),
            Exact
        );
        assert_eq!(
            verdict(col("town").not_eq(lit("Guicheng")), SqlDialect::Mysql),
            Unsupported
        );
        assert_eq!(
            verdict(!col("town").not_eq(lit("Guicheng")), SqlDialect::Mysql),
            Inexact
        );
        assert_eq!(
            verdict(!col("town").eq(lit("Guicheng")), SqlDialect::Mysql),
            Unsupported
        );
        assert_eq!(
            verdict(
                col("town").in_list(vec![lit("a"), lit("b")], true),
                SqlDialect::Mysql
            ),
            Unsupported
        );
    }

    #[test]
    fn like_ignores_case_in_mysql_and_sqlite() {
        assert_eq!(
            verdict(col("town").like(lit("Gui%")), SqlDialect::Sqlite),
            Inexact
        );
        assert_eq!(
            verdict(col("town").not_like(lit("Gui%")), SqlDialect::Sqlite),
            Unsupported
        );
        assert_eq!(
            verdict(col("town").like(lit("Gui%")), SqlDialect::Postgres),
            Exact
        );
        assert_eq!(
            verdict(col("town").ilike(lit("gui%")), SqlDialect::Postgres),
            Unsupported
        );
    }

    #[test]
    fn literals_that_could_escape_their_quotes_are_never_sent() {
        for dialect in [SqlDialect::Postgres, SqlDialect::Mysql, SqlDialect::Sqlite] {
            for text in ["\\'') OR (1=1) -- ", "a''b", "C:\\new", "tail\\", "O'Brien"] {
                assert_eq!(
                    verdict(col("town").eq(lit(text)), dialect),
                    Unsupported,
                    "{dialect:?} {text}"
                );
                assert_eq!(
                    verdict(col("town").like(lit(text)), dialect),
                    Unsupported,
                    "{dialect:?} {text}"
                );
            }
        }
        assert_eq!(
            verdict(col("town").eq(lit("Guicheng 桂城")), SqlDialect::Postgres),
            Exact
        );
    }

    #[test]
    fn functions_and_quoted_mysql_literals_stay_in_datafusion() {
        let upper = datafusion::functions::string::expr_fn::upper(col("town"));
        assert_eq!(verdict(upper.eq(lit("X")), SqlDialect::Postgres), Unsupported);
        assert_eq!(
            verdict(col("town").eq(lit("say \"hi\"")), SqlDialect::Mysql),
            Unsupported
        );
        assert_eq!(
            verdict(col("town").eq(lit("say \"hi\"")), SqlDialect::Postgres),
            Exact
        );
    }

    #[test]
    fn columns_the_source_cannot_compare_are_not_pushed() {
        let filter = col("born").gt(lit(ScalarValue::Date32(Some(7000))));
        let rules = PushdownRules::exact(SqlDialect::Sqlite).with_column("born", ColumnComparison::Never);
        assert_eq!(classify(&filter, &schema(), &rules), Unsupported);
        let nothing = PushdownRules::exact(SqlDialect::Postgres)
            .with_column("area", ColumnComparison::Exact)
            .enabled(false);
        assert_eq!(
            classify(&col("area").gt(lit(1.5)), &schema(), &nothing),
            Unsupported
        );
    }

    #[test]
    fn narrowing_columns_are_pre_filtered_only_where_the_database_finds_more() {
        let rules =
            PushdownRules::exact(SqlDialect::Postgres).with_column("town", ColumnComparison::Narrowing);
        let verdict = |filter: Expr| classify(&filter, &schema(), &rules);
        assert_eq!(verdict(col("town").eq(lit("Guicheng"))), Inexact);
        assert_eq!(
            verdict(col("town").in_list(vec![lit("a"), lit("b")], false)),
            Inexact
        );
        assert_eq!(verdict(col("town").not_eq(lit("Guicheng"))), Unsupported);
        assert_eq!(verdict(!col("town").eq(lit("Guicheng"))), Unsupported);
        assert_eq!(verdict(col("town").in_list(vec![lit("a")], true)), Unsupported);
        assert_eq!(verdict(col("town").like(lit("G%"))), Unsupported);
        assert_eq!(verdict(col("town").is_null()), Unsupported);
        assert_eq!(
            verdict(col("town").eq(lit("a")).and(col("area").gt(lit(2.5)))),
            Inexact
        );

        let dates = PushdownRules::exact(SqlDialect::Mysql).with_column("born", ColumnComparison::Narrowing);
        let day = || lit(ScalarValue::Date32(Some(7000)));
        assert_eq!(classify(&col("born").lt(day()), &schema(), &dates), Inexact);
        assert_eq!(classify(&!col("born").lt(day()), &schema(), &dates), Unsupported);
        assert_eq!(
            classify(&col("born").is_not_null(), &schema(), &dates),
            Unsupported
        );
    }

    #[test]
    fn literals_no_dialect_reads_back_stay_in_the_hub() {
        for dialect in [SqlDialect::Postgres, SqlDialect::Mysql, SqlDialect::Sqlite] {
            for number in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0] {
                assert_eq!(verdict(col("area").eq(lit(number)), dialect), Unsupported);
                assert_eq!(verdict(col("area").gt(lit(number)), dialect), Unsupported);
            }
            assert_eq!(verdict(col("area").eq(lit(2.5)), dialect), Exact);
            let tiny = verdict(col("area").eq(lit(1e-300)), dialect);
            assert_eq!(
                tiny == Exact,
                dialect == SqlDialect::Postgres,
                "{dialect:?} reads 300 digits back exactly only in PostgreSQL"
            );
            // 44 BC, and the year 10000.
            for day in [-735_000, 2_932_897] {
                assert_eq!(
                    verdict(col("born").gt(lit(ScalarValue::Date32(Some(day)))), dialect),
                    Unsupported
                );
            }
            assert_eq!(
                verdict(col("born").gt(lit(ScalarValue::Date32(Some(-719_162)))), dialect),
                Exact
            );
        }
    }

    #[test]
    fn two_float_columns_are_compared_in_the_hub() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Float64, true),
            Field::new("b", DataType::Float64, true),
        ]);
        let rules = PushdownRules::exact(SqlDialect::Postgres);
        assert_eq!(classify(&col("a").eq(col("b")), &schema, &rules), Unsupported);
        assert_eq!(classify(&col("a").lt(lit(1.5)), &schema, &rules), Exact);
    }
}
