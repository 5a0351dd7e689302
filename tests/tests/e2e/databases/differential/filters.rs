//! The filters of the differential suite: every operator with every value of a column as its
//! literal, alone and combined with `AND`, `OR` and `NOT`.

use super::super::sql_literal;

/// A literal as the hub's SQL writes it.
#[derive(Debug, Clone)]
pub(super) struct Literal {
    pub sql: String,
    /// Whether the database's own answer is compared: the literal names a value both the
    /// hub and the database hold as the same (not a date outside the years 1 to 9999).
    pub in_range: bool,
}

impl Literal {
    pub fn new(sql: impl Into<String>) -> Literal {
        Literal {
            sql: sql.into(),
            in_range: true,
        }
    }

    /// A literal whose filters are compared between the hub's two datasets only.
    pub fn outside(sql: impl Into<String>) -> Literal {
        Literal {
            sql: sql.into(),
            in_range: false,
        }
    }

    pub fn text(value: &str) -> Literal {
        Literal::new(sql_literal(value))
    }
}

/// Which of a column's filters the database itself must answer as the hub does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direct {
    /// None: the hub documents semantics of its own (text order, floats, booleans).
    Never,
    /// Every filter whose literals are in range (integers, decimals, dates).
    Always,
    /// Equality only (`=`, `<>`, `IN`, `IS [NOT] DISTINCT FROM`, `IS NULL`): text in a
    /// deterministic PostgreSQL collation.
    Equality,
}

/// What a column holds, which decides the operators it is filtered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Text,
    Boolean,
    Other,
}

/// One column of a table and the literals it is compared with.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub name: &'static str,
    pub family: Family,
    pub direct: Direct,
    pub literals: Vec<Literal>,
    /// How many of the literals, first, are values of the table's rows (text patterns are
    /// made of those).
    pub rows: usize,
}

/// One `WHERE` clause over one table.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    pub table: &'static str,
    pub sql: String,
    /// MySQL's spelling, where it differs (`<=>` for `IS NOT DISTINCT FROM`).
    pub mysql: Option<String>,
    /// The operator's shape, for counting.
    pub operator: &'static str,
    /// Whether the database's own answer is compared too.
    pub direct: bool,
}

impl Filter {
    /// `table: filter`, how the list of known differences names a filter.
    pub fn key(&self) -> String {
        format!("{}: {}", self.table, self.sql)
    }
}

/// Whether an operator compares for equality (see [`Direct::Equality`]).
fn is_equality(operator: &str) -> bool {
    matches!(
        operator,
        "=" | "<>"
            | "IN"
            | "NOT IN"
            | "IS DISTINCT FROM"
            | "IS NOT DISTINCT FROM"
            | "NOT (=)"
            | "= OR IS NULL"
            | "IS NULL"
            | "IS NOT NULL"
            | "NOT (IS NULL)"
            | "IN (v, NULL)"
            | "NOT IN (v, NULL)"
            | "= OR ="
            | "NOT (= OR =)"
            | "<> AND <>"
    )
}

/// Collects a table's filters.
struct Filters {
    table: &'static str,
    out: Vec<Filter>,
}

impl Filters {
    fn push(&mut self, column: &Column, operator: &'static str, sql: String, in_range: bool) {
        self.push_spelled(column, operator, sql, None, in_range);
    }

    fn push_spelled(
        &mut self,
        column: &Column,
        operator: &'static str,
        sql: String,
        mysql: Option<String>,
        in_range: bool,
    ) {
        let direct = in_range
            && match column.direct {
                Direct::Never => false,
                Direct::Always => true,
                Direct::Equality => is_equality(operator),
            };
        self.out.push(Filter {
            table: self.table,
            sql,
            mysql,
            operator,
            direct,
        });
    }
}

/// Every filter of `table` over `columns`.
pub(super) fn table_filters(table: &'static str, columns: &[Column]) -> Vec<Filter> {
    let mut filters = Filters {
        table,
        out: Vec::new(),
    };
    for column in columns {
        comparisons(&mut filters, column);
        null_and_combinations(&mut filters, column);
        match column.family {
            Family::Text => likes(&mut filters, column),
            Family::Boolean => booleans(&mut filters, column),
            Family::Other => {}
        }
    }
    for (index, first) in columns.iter().enumerate() {
        for second in &columns[index + 1..] {
            across(&mut filters, first, second);
        }
    }
    filters.out
}

/// Each literal with each comparison, and with the next literal in `IN` and `BETWEEN`.
fn comparisons(filters: &mut Filters, column: &Column) {
    let c = column.name;
    let count = column.literals.len();
    for (index, literal) in column.literals.iter().enumerate() {
        let next = &column.literals[(index + 1) % count];
        let (v, w) = (&literal.sql, &next.sql);
        let in_range = literal.in_range;
        let both = in_range && next.in_range;
        // Text literals that are no row's value are ordered against the rows' values
        // already; they are compared for equality only.
        let ordered = column.family != Family::Text || index < column.rows;
        for operator in ["=", "<>", "<", "<=", ">", ">="] {
            if ordered || matches!(operator, "=" | "<>") {
                filters.push(column, operator, format!("{c} {operator} {v}"), in_range);
            }
        }
        filters.push(column, "IN", format!("{c} IN ({v}, {w})"), both);
        filters.push(column, "NOT IN", format!("{c} NOT IN ({v}, {w})"), both);
        if ordered {
            filters.push(column, "BETWEEN", format!("{c} BETWEEN {v} AND {w}"), both);
            filters.push(
                column,
                "NOT BETWEEN",
                format!("{c} NOT BETWEEN {v} AND {w}"),
                both,
            );
            filters.push(column, "NOT (<)", format!("NOT ({c} < {v})"), in_range);
        }
        filters.push_spelled(
            column,
            "IS DISTINCT FROM",
            format!("{c} IS DISTINCT FROM {v}"),
            Some(format!("NOT ({c} <=> {v})")),
            in_range,
        );
        filters.push_spelled(
            column,
            "IS NOT DISTINCT FROM",
            format!("{c} IS NOT DISTINCT FROM {v}"),
            Some(format!("{c} <=> {v}")),
            in_range,
        );
        filters.push(column, "NOT (=)", format!("NOT ({c} = {v})"), in_range);
        filters.push(
            column,
            "= OR IS NULL",
            format!("{c} = {v} OR {c} IS NULL"),
            in_range,
        );
    }
}

/// `IS [NOT] NULL`, NULL in `IN` lists, and the column's first literals combined.
fn null_and_combinations(filters: &mut Filters, column: &Column) {
    let c = column.name;
    filters.push(column, "IS NULL", format!("{c} IS NULL"), true);
    filters.push(column, "IS NOT NULL", format!("{c} IS NOT NULL"), true);
    filters.push(column, "NOT (IS NULL)", format!("NOT ({c} IS NULL)"), true);
    let (Some(first), Some(second)) = (column.literals.first(), column.literals.get(1)) else {
        return;
    };
    let (v, w) = (&first.sql, &second.sql);
    let both = first.in_range && second.in_range;
    for (operator, sql, in_range) in [
        ("IN (v, NULL)", format!("{c} IN ({v}, NULL)"), first.in_range),
        (
            "NOT IN (v, NULL)",
            format!("{c} NOT IN ({v}, NULL)"),
            first.in_range,
        ),
        ("= OR =", format!("{c} = {v} OR {c} = {w}"), both),
        ("NOT (= OR =)", format!("NOT ({c} = {v} OR {c} = {w})"), both),
        ("<> AND <>", format!("{c} <> {v} AND {c} <> {w}"), both),
        ("= AND id", format!("{c} = {v} AND id > 0"), first.in_range),
        ("= OR id", format!("{c} = {v} OR id = 1"), first.in_range),
        (
            "NOT (= AND id)",
            format!("NOT ({c} = {v} AND id > 2)"),
            first.in_range,
        ),
        (
            "(> OR <) AND IS NOT NULL",
            format!("({c} > {v} OR {c} < {w}) AND {c} IS NOT NULL"),
            both,
        ),
        ("NOT (<>)", format!("NOT ({c} <> {v})"), first.in_range),
    ] {
        filters.push(column, operator, sql, in_range);
    }
}

/// Patterns made of each row's value (its first half then `%`, `%` then its last half, one
/// character as `_`, the value itself) and some of their own, with `LIKE` and `NOT LIKE`;
/// the prefixes and the patterns of their own with `ILIKE` and `NOT ILIKE` too.
fn likes(filters: &mut Filters, column: &Column) {
    let c = column.name;
    let mut patterns: Vec<(String, bool)> = Vec::new();
    for literal in column.literals.iter().take(column.rows) {
        let Some(value) = unquote(&literal.sql) else {
            continue;
        };
        let chars: Vec<char> = value.chars().collect();
        if chars.is_empty() {
            continue;
        }
        let half = chars.len().div_ceil(2);
        let prefix: String = chars[..half].iter().collect();
        let suffix: String = chars[chars.len() - half..].iter().collect();
        let middle = chars.len() / 2;
        let underscored: String = chars
            .iter()
            .enumerate()
            .map(|(index, ch)| if index == middle { '_' } else { *ch })
            .collect();
        patterns.extend([
            (format!("{prefix}%"), true),
            (format!("%{suffix}"), false),
            (underscored, false),
            (value, false),
        ]);
    }
    patterns.extend(
        [
            "%", "_", "", "__", "___", "%_%", "%\\%%", "a\\_b", "%  ", "  %", "ELEC%", "elec%", "%é", "E%S",
        ]
        .map(|pattern| (pattern.to_owned(), true)),
    );
    let mut seen = std::collections::HashSet::new();
    patterns.retain(|(pattern, _)| seen.insert(pattern.clone()));
    for (pattern, ilike) in &patterns {
        let p = sql_literal(pattern);
        filters.push(column, "LIKE", format!("{c} LIKE {p}"), true);
        filters.push(column, "NOT LIKE", format!("{c} NOT LIKE {p}"), true);
        if *ilike {
            filters.push(column, "ILIKE", format!("{c} ILIKE {p}"), true);
            filters.push(column, "NOT ILIKE", format!("{c} NOT ILIKE {p}"), true);
        }
    }
    for (operator, sql) in [
        ("LIKE ESCAPE", format!("{c} LIKE 'a!_b' ESCAPE '!'")),
        ("LIKE OR =", format!("{c} LIKE 'ab%' OR {c} = 'abc  '")),
        ("NOT (LIKE)", format!("NOT ({c} LIKE 'E%')")),
        (
            "LIKE AND NOT LIKE",
            format!("{c} LIKE '%c%' AND {c} NOT LIKE 'a%'"),
        ),
    ] {
        filters.push(column, operator, sql, true);
    }
}

/// A SQL string literal's text (`'it''s'` -> `it's`); `None` for other literals.
fn unquote(sql: &str) -> Option<String> {
    let inner = sql.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// A boolean column alone, negated, and with `IS`.
fn booleans(filters: &mut Filters, column: &Column) {
    let c = column.name;
    for (operator, sql) in [
        ("column", c.to_owned()),
        ("NOT column", format!("NOT {c}")),
        ("IS TRUE", format!("{c} IS TRUE")),
        ("IS NOT TRUE", format!("{c} IS NOT TRUE")),
        ("IS FALSE", format!("{c} IS FALSE")),
        ("IS NOT FALSE", format!("{c} IS NOT FALSE")),
        ("IS UNKNOWN", format!("{c} IS UNKNOWN")),
        ("column OR id", format!("{c} OR id = 1")),
    ] {
        filters.push(column, operator, sql, true);
    }
}

/// Two columns of one table compared with each other, and their first literals combined.
fn across(filters: &mut Filters, first: &Column, second: &Column) {
    let (a, b) = (first.name, second.name);
    for operator in ["=", "<>", "<"] {
        let sql = format!("{a} {operator} {b}");
        filters.push(first, "column op column", sql, false);
    }
    for literal in first.literals.iter().take(3) {
        let v = &literal.sql;
        let Some(other) = second.literals.iter().find(|other| other.sql == *v) else {
            continue;
        };
        let in_range = literal.in_range && other.in_range;
        for (operator, sql) in [
            ("= OR = (columns)", format!("{a} = {v} OR {b} = {v}")),
            ("= AND <> (columns)", format!("{a} = {v} AND {b} <> {v}")),
            ("NOT (= OR =) (columns)", format!("NOT ({a} = {v} OR {b} = {v})")),
        ] {
            filters.push(first, operator, sql, in_range);
        }
    }
}
