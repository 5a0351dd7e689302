//! Planning held to its bounds: shapes that DataFusion 55 plans in time or space far
//! beyond their text.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::resilience::{alive, chain, cpu_seconds};
use crate::support::Hub;

/// Shapes that DataFusion plans in time or space far beyond their text: long arithmetic
/// chains are answered, nested calls and doubling expressions past their limits are refused
/// by name, and planning that outlasts the timeout ends at it, its work stopped.
#[tokio::test]
async fn shapes_slow_to_plan_are_answered_refused_or_end_at_the_timeout() {
    let hub = Hub::start("[limits]\nquery_timeout = \"1s\"\n").await;
    let nested = |template: &str, levels: usize| {
        (0..levels).fold("x".to_owned(), |inner, _| template.replace('#', &inner))
    };
    let select = |expression: &str| format!("SELECT {expression} AS v FROM (VALUES (2)) AS t(x)");
    // Within the limits: answered. A call per `+` took 11 s to plan at 1,000 terms.
    for (expression, expected) in [
        (chain("x::BIGINT", " + ", 600), 1_200.0),
        (chain("x::DOUBLE", " - ", 600), -1_196.0),
        (nested("coalesce(#, 1)", 10), 2.0),
        (nested("#::DOUBLE::BIGINT", 50), 2.0),
    ] {
        let (status, body) = hub.query(&select(&expression)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", &expression[..40]);
        assert_eq!(
            body["rows"][0]["v"].as_f64(),
            Some(expected),
            "{}",
            &expression[..40]
        );
    }
    // Past them: refused before planning, naming the setting.
    for (expression, setting) in [
        (nested("#::DOUBLE::BIGINT", 51), "limits.max_call_depth"),
        (nested("#::DOUBLE::BIGINT", 1_000), "limits.max_call_depth"),
        (nested("coalesce(#, 1)", 11), "limits.max_doubling_depth"),
        (nested("(# BETWEEN 0 AND 3)", 30), "limits.max_doubling_depth"),
    ] {
        let started = Instant::now();
        let (status, body) = hub.query(&select(&expression)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", &expression[..40]);
        assert_eq!(body["error"]["code"], "query_too_large", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(setting), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused after {:?}",
            started.elapsed()
        );
    }
    // As long as the depth limit allows: DataFusion alone takes about 5 s to plan this on a
    // debug build, in steps of up to 4 s. It ends at the timeout, or is answered within it.
    let sql = select(&chain("x::BIGINT", " + ", 1_995));
    let started = Instant::now();
    let (status, body) = hub.query(&sql).await;
    let took = started.elapsed();
    if status == StatusCode::OK {
        assert!(
            took < Duration::from_secs(1),
            "answered after {took:?}, past its timeout"
        );
    } else {
        assert_eq!(body["error"]["code"], "query_timeout", "{body}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_seconds(hub.pid());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let used = cpu_seconds(hub.pid()) - before;
    assert!(used < 0.5, "{used} s of CPU after the answer");
    alive(&hub).await;
}
