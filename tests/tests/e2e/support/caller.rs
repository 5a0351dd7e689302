use reqwest::StatusCode;
use serde_json::{Value, json};

use super::json_of;

/// One caller of a hub, as a user would be: an HTTP client carrying the caller's token and
/// the hub's address. Every test talks to the hub through `query`, `get` and `post`.
#[derive(Clone)]
pub struct Caller {
    pub url: String,
    pub http: reqwest::Client,
}

impl Caller {
    /// A query for `purpose`, sent as JSON and answered as JSON.
    pub async fn query(&self, sql: &str, purpose: &str) -> (StatusCode, Value) {
        json_of(self.query_response(sql, purpose).await).await
    }

    /// The response of a query for `purpose`, headers and all.
    pub async fn query_response(&self, sql: &str, purpose: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/query", self.url))
            .json(&json!({ "sql": sql, "purpose": purpose }))
            .send()
            .await
            .expect("query request")
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        let response = self
            .http
            .delete(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        response.status()
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("request");
        json_of(response).await
    }
}
