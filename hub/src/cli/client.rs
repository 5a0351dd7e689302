//! The HTTP client the CLI commands share.

use bytes::Bytes;
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::HubArgs;
use super::credentials::{self, CredentialsError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
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
    /// A client of the hub `args` names, speaking TLS as they say.
    pub fn new(args: &HubArgs) -> Result<Self, ClientError> {
        Ok(Self {
            base: args.hub.trim_end_matches('/').to_owned(),
            http: http_client(args)?,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn authorized(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let token = credentials::token(&self.http, &self.base).await?;
        Ok(request.bearer_auth(token))
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
        let request = self.authorized(self.http.get(self.url(path))).await?;
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        self.json(response).await
    }

    /// Sends a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        self.send_document(reqwest::Method::POST, path, body.to_string(), "application/json")
            .await
    }

    /// Deletes a resource; the hub answers 204 with no body.
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        let request = self.authorized(self.http.delete(self.url(path))).await?;
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        self.checked(response).await.map(drop)
    }

    /// Sends a YAML or JSON document.
    pub async fn send_document<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        document: String,
        content_type: &str,
    ) -> Result<T, ClientError> {
        let request = self.http.request(method, self.url(path));
        let response = self
            .authorized(request)
            .await?
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(document)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.json(response).await
    }

    /// Runs a query and decodes its Arrow IPC stream as it arrives.
    /// Sends a query; answers with its id (`x-causeway-query-id`) and its batches. An
    /// empty result is one empty batch of its schema, so that callers can print its columns.
    pub async fn query(
        &self,
        sql: &str,
        purpose: &str,
    ) -> Result<(String, impl Stream<Item = Result<RecordBatch, ClientError>>), ClientError> {
        let request = self.http.post(self.url("/v1/query"));
        let response = self
            .authorized(request)
            .await?
            .header(reqwest::header::ACCEPT, "application/vnd.apache.arrow.stream")
            .json(&json!({ "sql": sql, "purpose": purpose }))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = self.checked(response).await?;
        let query_id = response
            .headers()
            .get("x-causeway-query-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((query_id, decode_arrow(response.bytes_stream())))
    }
}

pub fn decode_arrow(
    bytes: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> impl Stream<Item = Result<RecordBatch, ClientError>> {
    // The state: the bytes, the decoder, what is left of the last chunk, whether the stream
    // ended, and whether a batch was given.
    let state = (
        bytes,
        StreamDecoder::new(),
        Buffer::from(Vec::<u8>::new()),
        false,
        false,
    );
    futures::stream::unfold(
        state,
        |(mut bytes, mut decoder, mut buffer, done, given)| async move {
            if done {
                return None;
            }
            loop {
                if !buffer.is_empty() {
                    match decoder.decode(&mut buffer) {
                        Ok(Some(batch)) => return Some((Ok(batch), (bytes, decoder, buffer, false, true))),
                        Ok(None) => {}
                        Err(error) => {
                            return Some((
                                Err(ClientError::Response(error.to_string())),
                                (bytes, decoder, buffer, true, given),
                            ));
                        }
                    }
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buffer = Buffer::from(chunk),
                    Some(Err(error)) => {
                        // The hub breaks a result off when a quota cuts it (a row or
                        // distinct-person quota reached mid-way), the query is stopped, or
                        // access ends; the reason is in the audit log, not in the stream.
                        let error = ClientError::Response(format!(
                            "the result broke off before its end, so the rows already written are incomplete \
                             (a daily row or distinct-person quota reached mid-way, a cancelled or timed-out \
                             query, access ended, or the connection failed: {error})"
                        ));
                        return Some((Err(error), (bytes, decoder, buffer, true, given)));
                    }
                    None => {
                        let schema = decoder.schema();
                        return match decoder.finish() {
                            Ok(()) => schema.filter(|_| !given).map(|schema| {
                                (
                                    Ok(RecordBatch::new_empty(schema)),
                                    (bytes, decoder, buffer, true, true),
                                )
                            }),
                            Err(error) => Some((
                                Err(ClientError::Response(error.to_string())),
                                (bytes, decoder, buffer, true, given),
                            )),
                        };
                    }
                }
            }
        },
    )
}

/// An HTTP client for the hub: the system's trusted roots, or the CA that `--ca-cert`
/// names, and a client certificate for mutual TLS when one is given.
fn http_client(args: &HubArgs) -> Result<reqwest::Client, ClientError> {
    if args.ca_cert.is_none() && args.client_cert.is_none() {
        return reqwest::Client::builder()
            .build()
            .map_err(|error| ClientError::Tls(error.to_string()));
    }
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read_certificates = |path: &std::path::Path| {
        CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| ClientError::Tls(format!("{}: {error}", path.display())))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &args.ca_cert {
        Some(path) => {
            for certificate in read_certificates(path)? {
                roots
                    .add(certificate)
                    .map_err(|error| ClientError::Tls(format!("{}: {error}", path.display())))?;
            }
        }
        None => {
            return Err(ClientError::Tls(
                "a client certificate needs --ca-cert, the CA that signed the hub's certificate".into(),
            ));
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| ClientError::Tls(error.to_string()))?
    .with_root_certificates(roots);
    let mut config = match (&args.client_cert, &args.client_key) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|error| ClientError::Tls(format!("{}: {error}", key.display())))?;
            builder
                .with_client_auth_cert(read_certificates(cert)?, key)
                .map_err(|error| ClientError::Tls(error.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(ClientError::Tls(
                "--client-cert and --client-key go together".into(),
            ));
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|error| ClientError::Tls(error.to_string()))
}
