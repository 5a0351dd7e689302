//! Bounds on the syntax trees built from text that callers and officers send: queries, row
//! filters, SQL masks. They are checked before anything walks a tree recursively.
//!
//! A flat chain such as `1+1+...+1` or `a OR b OR ...` parses without recursion into a tree
//! as deep as the chain is long, and so does a chain of `UNION ALL`s or joins. Planning,
//! optimising, evaluating, printing and dropping such a tree recurse once per level, and a
//! thread that runs out of stack aborts the whole process. So every tree is measured first:
//! its depth (nested expressions, subqueries, set operations and joined tables each add a
//! level) and its size (expression nodes), against [`SyntaxLimits`].
//!
//! Measuring is safe at any depth (sqlparser's visitor grows its stack on demand), and
//! brackets are counted on the tokens before the parser recurses into them. Dropping a tree
//! that is refused still recurses once per level, so the parse and the check run in
//! [`on_deep_stack`], on a stack sized for the text.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Query, Select, SetExpr, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenizerError};

/// How deep and how large a syntax tree may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxLimits {
    /// The deepest nesting: an operator, a function call, a `CASE`, a subquery, a set
    /// operation and each joined table add a level (`limits.max_expression_depth`).
    pub max_depth: usize,
    /// The most expression nodes in one statement (`limits.max_expression_terms`).
    pub max_terms: usize,
    /// The deepest nesting of function calls and casts in one another
    /// (`limits.max_call_depth`): DataFusion 55 types a call together with its arguments'
    /// names, each written out from theirs, so planning takes time as the cube of this depth
    /// (600 nested calls: 18 s on a debug build, in one step no deadline can stop).
    pub max_call_depth: usize,
    /// The deepest nesting of `COALESCE`, `NVL`, `IFNULL`, `NVL2` and `BETWEEN` in one another
    /// (`limits.max_doubling_depth`): DataFusion 55 plans each as a `CASE` or comparisons
    /// that hold its operand twice, so each level doubles the planned expression (20 levels:
    /// a million nodes and 8 s, 30 levels would exhaust memory).
    pub max_doubling_depth: usize,
}

impl Default for SyntaxLimits {
    fn default() -> Self {
        Self {
            max_depth: 2000,
            max_terms: 100_000,
            max_call_depth: 100,
            max_doubling_depth: 10,
        }
    }
}

/// A tree over one of the limits. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxLimitExceeded {
    #[error(
        "it nests deeper than {limit} levels (limits.max_expression_depth): a long chain of \
         AND, OR, || or arithmetic, UNIONs or joins counts a level per link; use IN (...) for \
         long lists of alternatives, or split the work"
    )]
    Depth { limit: usize },
    #[error("it has more than {limit} terms (limits.max_expression_terms)")]
    Terms { limit: usize },
    #[error("it nests function calls and casts deeper than {limit} levels (limits.max_call_depth)")]
    Calls { limit: usize },
    #[error(
        "it nests COALESCE, NVL, IFNULL, NVL2 or BETWEEN deeper than {limit} levels \
         (limits.max_doubling_depth): each level is planned with its operand twice"
    )]
    Doubling { limit: usize },
}

/// Words after which `<` opens a nested type (`ARRAY<STRUCT<...>>`) rather than comparing.
const NESTED_TYPES: [Keyword; 3] = [Keyword::ARRAY, Keyword::STRUCT, Keyword::MAP];

impl SyntaxLimits {
    /// Checks the bracket nesting of a token stream, before a parser recurses into it.
    pub fn check_tokens(&self, tokens: &[Token]) -> Result<(), SyntaxLimitExceeded> {
        // Brackets, and the angle brackets of nested types, counted apart: a `>` that
        // compares must not close a bracket.
        let (mut brackets, mut angles) = (0usize, 0usize);
        let mut previous: Option<&Token> = None;
        for token in tokens {
            if matches!(token, Token::Whitespace(_)) {
                continue;
            }
            match token {
                Token::LParen | Token::LBracket | Token::LBrace => brackets += 1,
                Token::RParen | Token::RBracket | Token::RBrace => brackets = brackets.saturating_sub(1),
                Token::Lt if matches!(previous, Some(Token::Word(word)) if NESTED_TYPES.contains(&word.keyword)) => {
                    angles += 1
                }
                Token::Gt => angles = angles.saturating_sub(1),
                Token::ShiftRight => angles = angles.saturating_sub(2),
                _ => {}
            }
            if brackets + angles > self.max_depth {
                return Err(SyntaxLimitExceeded::Depth {
                    limit: self.max_depth,
                });
            }
            previous = Some(token);
        }
        Ok(())
    }

    /// Checks a whole statement.
    pub fn check_statement(&self, statement: &Statement) -> Result<(), SyntaxLimitExceeded> {
        self.measure(|measure| statement.visit(measure))
    }

    /// Checks one expression, such as a row filter.
    pub fn check_expr(&self, expr: &Expr) -> Result<(), SyntaxLimitExceeded> {
        self.measure(|measure| expr.visit(measure))
    }

    fn measure(
        &self,
        visit: impl FnOnce(&mut Measure) -> ControlFlow<SyntaxLimitExceeded>,
    ) -> Result<(), SyntaxLimitExceeded> {
        let mut measure = Measure {
            limits: *self,
            depth: 0,
            terms: 0,
            calls: 0,
            doubling: 0,
            added: Vec::new(),
        };
        match visit(&mut measure) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(exceeded) => Err(exceeded),
        }
    }
}

struct Measure {
    limits: SyntaxLimits,
    depth: usize,
    terms: usize,
    /// Open function calls and casts.
    calls: usize,
    /// Open expressions that are planned with an operand twice.
    doubling: usize,
    /// What each open query or select added to the depth, to take off when it closes.
    added: Vec<usize>,
}

impl Measure {
    fn enter(&mut self, levels: usize) -> ControlFlow<SyntaxLimitExceeded> {
        self.depth += levels;
        self.added.push(levels);
        self.within()
    }

    fn leave(&mut self) -> ControlFlow<SyntaxLimitExceeded> {
        self.depth -= self.added.pop().unwrap_or(0);
        ControlFlow::Continue(())
    }

    fn within(&self) -> ControlFlow<SyntaxLimitExceeded> {
        if self.depth > self.limits.max_depth {
            ControlFlow::Break(SyntaxLimitExceeded::Depth {
                limit: self.limits.max_depth,
            })
        } else if self.terms > self.limits.max_terms {
            ControlFlow::Break(SyntaxLimitExceeded::Terms {
                limit: self.limits.max_terms,
            })
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Visitor for Measure {
    type Break = SyntaxLimitExceeded;

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Self::Break> {
        self.depth += 1;
        self.terms += 1;
        if is_call(expr) {
            self.calls += 1;
            if self.calls > self.limits.max_call_depth {
                return ControlFlow::Break(SyntaxLimitExceeded::Calls {
                    limit: self.limits.max_call_depth,
                });
            }
        }
        if doubles(expr) {
            self.doubling += 1;
            if self.doubling > self.limits.max_doubling_depth {
                return ControlFlow::Break(SyntaxLimitExceeded::Doubling {
                    limit: self.limits.max_doubling_depth,
                });
            }
        }
        self.within()
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Self::Break> {
        self.depth -= 1;
        self.calls -= usize::from(is_call(expr));
        self.doubling -= usize::from(doubles(expr));
        ControlFlow::Continue(())
    }

    // A chain of set operations is a tree as deep as the chain; the visitor has no stop
    // inside it, so its depth is measured here, before the visitor walks into it.
    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        let room = self.limits.max_depth.saturating_sub(self.depth);
        self.enter(1 + set_operation_depth(&query.body, room))
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<Self::Break> {
        self.leave()
    }

    // `FROM a, b JOIN c ...` is a flat list in the syntax, and a join tree as deep as the
    // list is long in the plan.
    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Self::Break> {
        let tables = select
            .from
            .iter()
            .map(|table| 1 + table.joins.len())
            .sum::<usize>();
        self.enter(tables.saturating_sub(1))
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<Self::Break> {
        self.leave()
    }
}

/// Whether DataFusion plans `expr` as a function call (or a cast, which the hub's own
/// rewrites may make one).
fn is_call(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Function(_)
            | Expr::Cast { .. }
            | Expr::Extract { .. }
            | Expr::Substring { .. }
            | Expr::Trim { .. }
            | Expr::Position { .. }
            | Expr::Overlay { .. }
            | Expr::Ceil { .. }
            | Expr::Floor { .. }
            | Expr::AtTimeZone { .. }
            | Expr::CompoundFieldAccess { .. }
    )
}

/// Whether DataFusion plans `expr` with an operand twice: `a BETWEEN b AND c` as `a >= b AND
/// a <= c`, `COALESCE(a, b)` (and its spellings) as `CASE WHEN a IS NOT NULL THEN a ELSE b`.
fn doubles(expr: &Expr) -> bool {
    match expr {
        Expr::Between { .. } => true,
        Expr::Function(function) => function
            .name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|name| {
                ["coalesce", "nvl", "ifnull", "nvl2"]
                    .iter()
                    .any(|doubling| name.value.eq_ignore_ascii_case(doubling))
            }),
        _ => false,
    }
}

/// How deep the set operations of `body` nest, counted up to `room + 1` (recursion stops
/// there, so it is bounded by the limit, not by the input).
fn set_operation_depth(body: &SetExpr, room: usize) -> usize {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            if room == 0 {
                return 1;
            }
            let left = set_operation_depth(left, room - 1);
            let right = if left >= room {
                0
            } else {
                set_operation_depth(right, room - 1)
            };
            1 + left.max(right)
        }
        _ => 0,
    }
}

/// Why the text of a row filter or a SQL mask is not one expression within the limits.
#[derive(Debug, thiserror::Error)]
pub enum ExprSyntaxError {
    #[error(transparent)]
    Tokens(#[from] TokenizerError),
    #[error(transparent)]
    Parse(#[from] ParserError),
    #[error("there is text after the expression")]
    TrailingText,
    #[error(transparent)]
    Limit(#[from] SyntaxLimitExceeded),
}

impl From<ExprSyntaxError> for datafusion::error::DataFusionError {
    fn from(error: ExprSyntaxError) -> Self {
        Self::External(Box::new(error))
    }
}

/// Parses one expression from `tokens` within `limits`; for row filters and SQL masks.
/// Call it inside [`on_deep_stack`].
pub fn parse_expr(tokens: Vec<Token>, limits: &SyntaxLimits) -> Result<Expr, ExprSyntaxError> {
    limits.check_tokens(&tokens)?;
    let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
    let mut parser = datafusion::sql::sqlparser::parser::Parser::new(&dialect).with_tokens(tokens);
    let expr = parser.parse_expr()?;
    if parser.peek_token().token != Token::EOF {
        return Err(ExprSyntaxError::TrailingText);
    }
    limits.check_expr(&expr)?;
    Ok(expr)
}

/// Bytes of stack given to work on a tree parsed from `text_len` bytes of text: enough to
/// drop the deepest tree that many bytes can spell (a level per two bytes, as in `1+1+1`),
/// with room to spare. Only the part that is touched is ever backed by memory.
fn stack_for(text_len: usize) -> usize {
    const PER_BYTE: usize = 512;
    const BASE: usize = 4 * 1024 * 1024;
    BASE.saturating_add(text_len.saturating_mul(PER_BYTE))
}

/// Runs `work` (parsing `text_len` bytes of text, checking and, if refused, dropping the
/// tree) on a stack of its own, sized for the deepest tree that text can make.
pub fn on_deep_stack<T>(text_len: usize, work: impl FnOnce() -> T) -> T {
    stacker::grow(stack_for(text_len), work)
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    use super::*;

    const LIMITS: SyntaxLimits = SyntaxLimits {
        max_depth: 100,
        max_terms: 1000,
        max_call_depth: 20,
        max_doubling_depth: 4,
    };

    fn check(sql: &str) -> Result<(), SyntaxLimitExceeded> {
        on_deep_stack(sql.len(), || {
            let dialect = GenericDialect {};
            let tokens = Tokenizer::new(&dialect, sql).tokenize().unwrap();
            LIMITS.check_tokens(&tokens)?;
            let statement = Parser::new(&dialect)
                .with_recursion_limit(10_000)
                .try_with_sql(sql)
                .unwrap()
                .parse_statement()
                .unwrap();
            LIMITS.check_statement(&statement)
        })
    }

    fn chain(term: &str, separator: &str, count: usize) -> String {
        vec![term; count].join(separator)
    }

    #[test]
    fn flat_chains_count_a_level_per_link() {
        for separator in ["+", " OR ", " AND ", " || ", "*"] {
            let within = format!("SELECT {}", chain("1", separator, 90));
            assert_eq!(check(&within), Ok(()), "{separator}");
            let over = format!("SELECT {}", chain("1", separator, 150));
            assert_eq!(
                check(&over),
                Err(SyntaxLimitExceeded::Depth { limit: 100 }),
                "{separator}"
            );
        }
    }

    fn nested(template: &str, levels: usize) -> String {
        (0..levels).fold("x".to_owned(), |inner, _| template.replace('#', &inner))
    }

    #[test]
    fn nested_calls_and_casts_are_counted_apart_from_other_nesting() {
        for template in [
            "abs(#)",
            "CAST(# AS BIGINT)",
            "#::TEXT",
            "upper(trim(#))",
            "substring(# from 2)",
        ] {
            assert_eq!(
                check(&format!("SELECT {}", nested(template, 10))),
                Ok(()),
                "{template}"
            );
            assert_eq!(
                check(&format!("SELECT {}", nested(template, 25))),
                Err(SyntaxLimitExceeded::Calls { limit: 20 }),
                "{template}"
            );
        }
        // Calls side by side are not nested, nor are operators.
        let wide = format!("SELECT {}", chain("abs(abs(abs(x)))", " + ", 30));
        assert_eq!(check(&wide), Ok(()));
    }

    #[test]
    fn expressions_planned_with_an_operand_twice_are_counted_apart() {
        for template in [
            "coalesce(#, 1)",
            "COALESCE(1, #)",
            "nvl(#, y)",
            "IFNULL(#, 0)",
            "nvl2(#, 1, 2)",
            "(# BETWEEN 1 AND 2)",
        ] {
            assert_eq!(
                check(&format!("SELECT {}", nested(template, 4))),
                Ok(()),
                "{template}"
            );
            assert_eq!(
                check(&format!("SELECT {}", nested(template, 5))),
                Err(SyntaxLimitExceeded::Doubling { limit: 4 }),
                "{template}"
            );
        }
        let side_by_side = format!("SELECT {}", chain("coalesce(coalesce(x, 1), 2)", ", ", 30));
        assert_eq!(check(&side_by_side), Ok(()));
    }

    #[test]
    fn a_chain_far_beyond_the_limit_is_refused_without_overflowing() {
        let sql = format!("SELECT {}", chain("1", "+", 200_000));
        assert_eq!(check(&sql), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
    }

    #[test]
    fn set_operations_and_joins_count_as_depth() {
        let unions = chain("SELECT 1", " UNION ALL ", 150);
        assert_eq!(check(&unions), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
        assert_eq!(check(&chain("SELECT 1", " UNION ALL ", 50)), Ok(()));
        let tables = format!("SELECT 1 FROM {}", chain("t", ", ", 150));
        assert_eq!(check(&tables), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
        let joins = format!("SELECT 1 FROM t{}", " JOIN t USING (x)".repeat(150));
        assert_eq!(check(&joins), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
    }

    #[test]
    fn nested_brackets_and_types_are_refused_on_the_tokens() {
        let parens = format!("SELECT {}1{}", "(".repeat(150), ")".repeat(150));
        assert_eq!(check(&parens), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
        let types = format!(
            "SELECT CAST(NULL AS {}INT{})",
            "ARRAY<".repeat(150),
            ">".repeat(150)
        );
        assert_eq!(check(&types), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
        // Comparisons neither open nor close brackets.
        assert_eq!(check(&format!("SELECT {}", chain("1 < 2", " AND ", 40))), Ok(()));
        let mixed = format!("SELECT {}1{}", "(1 > ".repeat(150), ")".repeat(150));
        assert_eq!(check(&mixed), Err(SyntaxLimitExceeded::Depth { limit: 100 }));
    }

    #[test]
    fn wide_but_shallow_trees_count_their_terms() {
        let list = format!("SELECT 1 WHERE x IN ({})", chain("1", ", ", 500));
        assert_eq!(check(&list), Ok(()));
        let long = format!("SELECT 1 WHERE x IN ({})", chain("1", ", ", 2000));
        assert_eq!(check(&long), Err(SyntaxLimitExceeded::Terms { limit: 1000 }));
    }
}
