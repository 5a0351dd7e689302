//! Generated expression shapes, flat and nested, of every kind of link and up to 100,000
//! terms: the hub answers each or refuses it, and is alive after every one. A brief run
//! here, of fixed cases so that a run can be repeated; `PROPTEST_CASES=500
//! PROPTEST_RNG_SEED=$RANDOM cargo nextest run -p causeway-tests expression_shapes` for a
//! longer one of others. A hub that stops answering fails the case (after [`ANSWER`]) rather
//! than hanging the run.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Hub, json_of};

/// How one term joins the next.
#[derive(Debug, Clone, Copy)]
enum Link {
    Binary(&'static str),
    /// `f(f(f(x)))`, or `f(x, x, x)` when flat.
    Function(&'static str),
    /// `CASE WHEN ... THEN ... END`, nested in its ELSE or as many WHENs.
    Case,
    /// `x IN (1, 2, ...)`, or `x IN (SELECT ...)` nested.
    In,
    /// `SELECT 1 UNION ALL SELECT 1 ...`, or nested in parentheses.
    Union,
    /// `SELECT (SELECT (SELECT 1))`.
    Subquery,
    /// `((((1))))`.
    Parentheses,
}

const LINKS: [Link; 21] = [
    Link::Binary("+"),
    Link::Binary("-"),
    Link::Binary("*"),
    Link::Binary("/"),
    Link::Binary("%"),
    Link::Binary(" AND "),
    Link::Binary(" OR "),
    Link::Binary(" || "),
    Link::Binary(" = "),
    Link::Binary(" < "),
    Link::Binary(" LIKE "),
    Link::Binary(" IS DISTINCT FROM "),
    Link::Binary("::BIGINT + "),
    Link::Function("abs"),
    Link::Function("concat"),
    Link::Function("coalesce"),
    Link::Case,
    Link::In,
    Link::Union,
    Link::Subquery,
    Link::Parentheses,
];

fn term(link: Link) -> &'static str {
    match link {
        Link::Binary(" AND " | " OR ") => "(x > 0)",
        Link::Binary(" || " | " LIKE ") => "'ab'",
        _ => "x",
    }
}

/// A query over `x` whose expression links `count` terms, flat or nested.
fn shape(link: Link, count: usize, nested: bool) -> String {
    let t = term(link);
    let expression = match (link, nested) {
        (Link::Binary(op), false) => vec![t; count].join(op),
        (Link::Binary(op), true) => {
            let mut text = t.to_owned();
            for _ in 1..count {
                text = format!("({t}{op}{text})");
            }
            text
        }
        (Link::Function(name), false) => format!("{name}({})", vec![t; count].join(", ")),
        (Link::Function(name), true) => {
            format!("{}{t}{}", format!("{name}(").repeat(count), ")".repeat(count))
        }
        (Link::Case, false) => format!(
            "CASE {} ELSE 0 END",
            (0..count)
                .map(|n| format!("WHEN x = {n} THEN {n}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        (Link::Case, true) => format!(
            "{}0{}",
            "CASE WHEN x > 0 THEN 1 ELSE ".repeat(count),
            " END".repeat(count)
        ),
        (Link::In, false) => format!(
            "x IN ({})",
            (0..count).map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        ),
        (Link::In, true) => format!("{}1{}", "x IN (SELECT ".repeat(count), ")".repeat(count)),
        (Link::Union, false) => return vec!["SELECT 1 AS x"; count].join(" UNION ALL "),
        (Link::Union, true) => {
            return format!(
                "{}SELECT 1 AS x{}",
                "SELECT x FROM (SELECT 1 AS x UNION ALL ".repeat(count),
                ") AS t".repeat(count)
            );
        }
        (Link::Subquery, _) => format!("{}1{}", "(SELECT ".repeat(count), ")".repeat(count)),
        (Link::Parentheses, _) => format!("{}x{}", "(".repeat(count), ")".repeat(count)),
    };
    format!("SELECT {expression} AS v FROM (VALUES (1), (2)) AS t(x)")
}

fn shapes() -> impl Strategy<Value = (Link, usize, bool)> {
    // Counts spread over orders of magnitude, from one term to 100,000.
    let count = (0u32..=50).prop_map(|step| (10f64.powf(f64::from(step) / 10.0)) as usize);
    (proptest::sample::select(LINKS.to_vec()), count, any::<bool>())
}

/// The cases' seed unless `PROPTEST_RNG_SEED` names another.
const SEED: u64 = 20_261_204;

/// How long a case waits for an answer: well past the query timeout.
const ANSWER: std::time::Duration = std::time::Duration::from_secs(180);

#[test]
fn any_expression_shape_is_answered_or_refused_and_the_hub_lives() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let hub = runtime.block_on(Hub::start(""));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(48);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(SEED);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..Config::default()
    });
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&shapes(), |(link, count, nested)| {
        let sql = shape(link, count, nested);
        let status = runtime.block_on(async {
            let response = hub
                .http
                .post(format!("{}/v1/query", hub.url))
                .json(&json!({"sql": sql, "purpose": "testing"}))
                .timeout(ANSWER)
                .send()
                .await;
            let Ok(response) = response else {
                return None;
            };
            let (status, body) = json_of(response).await;
            let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
            Some((status, code))
        });
        let alive = runtime.block_on(async {
            hub.anonymous()
                .get(format!("{}/v1/health", hub.url))
                .timeout(ANSWER)
                .send()
                .await
                .is_ok_and(|response| response.status() == StatusCode::OK)
        });
        prop_assert!(
            alive,
            "{link:?} x{count} nested={nested}: the hub died\n{}",
            hub.log()
        );
        let Some((status, code)) = status else {
            return Err(TestCaseError::fail(format!("{link:?} x{count}: no answer")));
        };
        *seen.borrow_mut().entry(status.as_u16()).or_default() += 1;
        prop_assert!(
            status == StatusCode::OK
                || (status.is_client_error() && status != StatusCode::NOT_FOUND)
                || code == "query_timeout",
            "{link:?} x{count} nested={nested}: {status} {code}"
        );
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    eprintln!(
        "expression shapes: {cases} cases of seed {seed}, answers by status {:?}",
        seen.borrow()
    );
}
