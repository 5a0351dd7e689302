//! The HTTP client the CLI commands share.

use bytes::Bytes;
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the hub at {hub}: {message}")]
    Unreachable { hub: String, message: String },
    /// The hub answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Hub {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the hub's answer is not readable: {0}")]
    Response(String),
}

pub struct HubClient {
    base: String,
    http: reqwest::Client,
}

impl HubClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, error: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            hub: self.base.clone(),
            message: error.to_string(),
        }
    }

    async fn checked(&self, response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(ClientError::Hub {
            status,
            code: body["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
            message: body["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_owned(),
        })
    }

    async fn json<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T, ClientError> {
        let response = self.checked(response).await?;
        response
            .json()
            .await
            .map_err(|error| ClientError::Response(error.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.json(response).await
    }

    /// Sends a YAML or JSON document.
    pub async fn send_document<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        document: String,
        content_type: &str,
    ) -> Result<T, ClientError> {
        let response = self
            .http
            .request(method, self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(document)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.json(response).await
    }

    /// Runs a query and decodes its Arrow IPC stream as it arrives.
    pub async fn query(
        &self,
        sql: &str,
        purpose: &str,
    ) -> Result<impl Stream<Item = Result<RecordBatch, ClientError>>, ClientError> {
        let response = self
            .http
            .post(self.url("/v1/query"))
            .header(reqwest::header::ACCEPT, "application/vnd.apache.arrow.stream")
            .json(&json!({ "sql": sql, "purpose": purpose }))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let bytes = self.checked(response).await?.bytes_stream();
        Ok(decode_arrow(bytes))
    }
}

fn decode_arrow(
    bytes: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> impl Stream<Item = Result<RecordBatch, ClientError>> {
    let state = (bytes, StreamDecoder::new(), Buffer::from(Vec::<u8>::new()), false);
    futures::stream::unfold(state, |(mut bytes, mut decoder, mut buffer, done)| async move {
        if done {
            return None;
        }
        loop {
            if !buffer.is_empty() {
                match decoder.decode(&mut buffer) {
                    Ok(Some(batch)) => return Some((Ok(batch), (bytes, decoder, buffer, false))),
                    Ok(None) => {}
                    Err(error) => {
                        return Some((
                            Err(ClientError::Response(error.to_string())),
                            (bytes, decoder, buffer, true),
                        ));
                    }
                }
            }
            match bytes.next().await {
                Some(Ok(chunk)) => buffer = Buffer::from(chunk),
                Some(Err(error)) => {
                    let error = ClientError::Response(format!("the result stream broke off: {error}"));
                    return Some((Err(error), (bytes, decoder, buffer, true)));
                }
                None => {
                    return match decoder.finish() {
                        Ok(()) => None,
                        Err(error) => Some((
                            Err(ClientError::Response(error.to_string())),
                            (bytes, decoder, buffer, true),
                        )),
                    };
                }
            }
        }
    })
}
