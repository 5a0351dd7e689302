//! One error shape for every response: `{"error": {"code": ..., "message": ...}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causeway_connectors::ConnectorError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::acceleration::RefreshError;
use crate::audit::AuditError;
use crate::query::QueryError;
use crate::query::output::{EncodeError, UnsupportedFormat};
use crate::query::service::ServiceError;
use crate::registry::RegistryError;
use crate::store::StoreError;
use crate::supervision::QuotaExceeded;
use causeway_connectors::accelerated::AccelerationError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// A `WWW-Authenticate` challenge, for answers about credentials.
    pub challenge: Option<String>,
    /// Seconds a client should wait before asking again (`Retry-After`), when longer than
    /// the second a busy hub asks for: a daily quota's, until it renews.
    pub retry_after: Option<u64>,
    /// What the error is about, for a program to act on (boxed: most errors have none).
    pub details: Option<Box<ErrorParticulars>>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_query` or `contract_mismatch`.
    pub code: String,
    /// What went wrong and, where it helps, what to do about it.
    pub message: String,
    /// The particulars of a refusal of access or of a misnamed column, so that a program
    /// (the console) can say what to do next without reading `message`, whose wording may
    /// change. Absent for other errors. Names only: never a value of a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<ErrorParticulars>>,
}

/// The particulars of an error, each present where it applies.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ErrorParticulars {
    /// Why, more precisely than `code`: `no_grant`, `dataset_denied` (a deny rule),
    /// `administrative` (the caller's role reads no data), `verify_only`, `not_an_auditor`,
    /// `column_not_granted` or `unknown_column`.
    pub reason: &'static str,
    /// The dataset, as `department.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The purpose the caller gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The column misnamed (`unknown_column`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `unknown_column`: the columns there are to name; `column_not_granted`: the columns of
    /// `dataset` the query reads without a grant.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The deny rule that keeps the data back (`dataset_denied`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ErrorParticulars {
    /// The particulars of a refusal by the policies.
    pub fn of_denial(denied: &causeway_policies::AccessDenied) -> Self {
        use causeway_policies::AccessDenied;
        match denied {
            AccessDenied::NoGrant { dataset, purpose } => Self {
                reason: "no_grant",
                dataset: Some(dataset.to_string()),
                purpose: Some(purpose.clone()),
                ..Self::default()
            },
            AccessDenied::DatasetDenied { dataset, rule, .. } => Self {
                reason: "dataset_denied",
                dataset: Some(dataset.to_string()),
                rule: Some(rule.clone()),
                ..Self::default()
            },
            AccessDenied::Administrative { dataset, .. } => Self {
                reason: "administrative",
                dataset: Some(dataset.to_string()),
                ..Self::default()
            },
            AccessDenied::VerifyOnly { dataset, purpose } => Self {
                reason: "verify_only",
                dataset: Some(dataset.to_string()),
                purpose: Some(purpose.clone()),
                ..Self::default()
            },
        }
    }

    /// A column named that is not there, and those that are.
    pub fn unknown_column(column: String, columns: Vec<String>, dataset: Option<String>) -> Self {
        Self {
            reason: "unknown_column",
            dataset,
            column: Some(column),
            columns,
            ..Self::default()
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: ErrorParticulars) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Answers that asking again helps only once the daily quotas renew, at midnight UTC.
    pub fn until_quotas_renew(mut self) -> Self {
        let now = chrono::Utc::now();
        let midnight = (now.date_naive() + chrono::Days::new(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        self.retry_after = Some(u64::try_from((midnight - now).num_seconds()).unwrap_or(1).max(1));
        self
    }

    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure of the hub itself: logged in full, reported without internals.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the hub failed to handle the request; the details are in its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        );
        let challenge = self
            .challenge
            .and_then(|challenge| HeaderValue::from_str(&challenge).ok());
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if retry {
            let after = HeaderValue::from(self.retry_after.unwrap_or(1));
            response.headers_mut().insert(header::RETRY_AFTER, after);
        }
        if let Some(challenge) = challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        Self::from(&error)
    }
}

impl From<&QueryError> for ApiError {
    fn from(error: &QueryError) -> Self {
        let status = match error {
            QueryError::ExplainAnalyze
            | QueryError::FunctionNotAvailable(_)
            | QueryError::AccessDenied(_)
            | QueryError::NotAnAuditor
            | QueryError::ColumnsNotGranted { .. }
            | QueryError::Policy(_) => StatusCode::FORBIDDEN,
            QueryError::Timeout(_) | QueryError::MemoryLimit(_) | QueryError::SpillLimit => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            QueryError::Busy(_)
            | QueryError::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Uncounted { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            QueryError::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Daily { .. }) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            QueryError::TooManyOfYours(_) => StatusCode::TOO_MANY_REQUESTS,
            QueryError::ClientStalled(_) => StatusCode::REQUEST_TIMEOUT,
            QueryError::AccessEnded => StatusCode::UNAUTHORIZED,
            QueryError::Execution(_) => StatusCode::BAD_GATEWAY,
            QueryError::MissingPurpose
            | QueryError::Syntax(_)
            | QueryError::TooLarge(_)
            | QueryError::NotOneStatement(_)
            | QueryError::NotReadOnly(_)
            | QueryError::NotSupported(_)
            | QueryError::UnknownTable(_)
            | QueryError::UnknownColumn { .. }
            | QueryError::Plan(_)
            | QueryError::Evaluation(_)
            | QueryError::Cancelled => StatusCode::BAD_REQUEST,
        };
        let answer = Self::new(status, error.code(), error.to_string());
        match error {
            QueryError::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Daily { .. }) => {
                answer.until_quotas_renew()
            }
            QueryError::AccessDenied(denied) => answer.with_details(ErrorParticulars::of_denial(denied)),
            QueryError::NotAnAuditor => answer.with_details(ErrorParticulars {
                reason: "not_an_auditor",
                dataset: Some("audit.events".into()),
                ..ErrorParticulars::default()
            }),
            QueryError::UnknownColumn { column, columns } => answer.with_details(
                ErrorParticulars::unknown_column(column.clone(), columns.clone(), None),
            ),
            QueryError::ColumnsNotGranted { columns, purpose } => {
                // The first dataset's: the one to ask for access to first.
                let dataset = columns.first().map(|(dataset, _, _)| dataset.clone());
                answer.with_details(ErrorParticulars {
                    reason: "column_not_granted",
                    columns: columns
                        .iter()
                        .filter(|(of, _, _)| Some(of) == dataset.as_ref())
                        .map(|(_, column, _)| column.clone())
                        .collect(),
                    dataset,
                    purpose: Some(purpose.clone()),
                    ..ErrorParticulars::default()
                })
            }
            _ => answer,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::from(&error)
    }
}

/// A query's error as every front door shows it: HTTP as its status and body, Flight SQL as
/// the gRPC status of that HTTP status, with the same message.
impl From<&ServiceError> for ApiError {
    fn from(error: &ServiceError) -> Self {
        match error {
            ServiceError::Query(query) => query.into(),
            ServiceError::Quota(quota) => quota.into(),
            ServiceError::Audit(audit) => audit.into(),
            ServiceError::Suspended { .. } => {
                Self::new(StatusCode::FORBIDDEN, error.code(), error.public_message())
            }
            ServiceError::Verify(verify) => {
                use crate::query::service::VerifyError;
                let status = match verify {
                    VerifyError::Refused(causeway_policies::VerifyRefused::SubjectKeyMissing { .. })
                    | VerifyError::InvalidRecords(_)
                    | VerifyError::TooManyRecords { .. } => StatusCode::BAD_REQUEST,
                    VerifyError::Refused(_) => StatusCode::FORBIDDEN,
                    VerifyError::DailyLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
                    VerifyError::Uncounted { .. } => StatusCode::SERVICE_UNAVAILABLE,
                };
                let answer = Self::new(status, error.code(), error.public_message());
                if matches!(verify, VerifyError::DailyLimit { .. }) {
                    answer.until_quotas_renew()
                } else {
                    answer
                }
            }
            ServiceError::FrontDoor {
                code,
                message,
                denied,
            } => Self::new(
                if *denied {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                },
                code,
                message.clone(),
            ),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        Self::from(&error)
    }
}

impl From<&AuditError> for ApiError {
    fn from(error: &AuditError) -> Self {
        tracing::error!(%error, "refused: the audit log cannot be written");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            "the audit log cannot be written, so nothing is served until it can; the hub's health and log say why",
        )
    }
}

impl From<QuotaExceeded> for ApiError {
    fn from(error: QuotaExceeded) -> Self {
        Self::from(&error)
    }
}

impl From<&QuotaExceeded> for ApiError {
    fn from(error: &QuotaExceeded) -> Self {
        match error {
            // The count cannot be read: the caller may try again, as after any outage.
            QuotaExceeded::Uncounted { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "quota_unavailable",
                error.to_string(),
            ),
            QuotaExceeded::Daily { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "row_quota_exceeded",
                error.to_string(),
            )
            .until_quotas_renew(),
            QuotaExceeded::PerQuery { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "row_quota_exceeded",
                error.to_string(),
            ),
        }
    }
}

impl From<UnsupportedFormat> for ApiError {
    fn from(error: UnsupportedFormat) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", error.to_string())
    }
}

impl From<EncodeError> for ApiError {
    fn from(error: EncodeError) -> Self {
        Self::internal(&error)
    }
}

impl From<ConnectorError> for ApiError {
    fn from(error: ConnectorError) -> Self {
        let (status, code) = match &error {
            ConnectorError::ContractMismatch(_) | ConnectorError::UnboundedDecimals(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "contract_mismatch")
            }
            ConnectorError::Connect { .. } => (StatusCode::BAD_GATEWAY, "source_unavailable"),
            ConnectorError::Source { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "source_error"),
            ConnectorError::PathNotAllowed(_) => (StatusCode::FORBIDDEN, "path_not_allowed"),
            ConnectorError::NotFound(_) | ConnectorError::NoFiles { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "source_not_found")
            }
            ConnectorError::InvalidSource(_)
            | ConnectorError::Settings(_)
            | ConnectorError::MissingEnvironmentVariable(_)
            | ConnectorError::UnknownConnection(_)
            | ConnectorError::WrongConnectionKind { .. } => (StatusCode::BAD_REQUEST, "invalid_source"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists(_) => {
                Self::new(StatusCode::CONFLICT, "already_exists", error.to_string())
            }
            StoreError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", error.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::InvalidContract(_) | RegistryError::WrongDataset { .. } => {
                Self::bad_request("invalid_contract", error.to_string())
            }
            RegistryError::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            RegistryError::AlreadyExists(_) => {
                Self::new(StatusCode::CONFLICT, "already_exists", error.to_string())
            }
            RegistryError::NotFound(_) => Self::not_found(error.to_string()),
            RegistryError::Incompatible(_) => {
                Self::new(StatusCode::CONFLICT, "incompatible_contract", error.to_string())
            }
            RegistryError::Source(source) => source.into(),
            RegistryError::Acceleration(acceleration) => acceleration.into(),
            RegistryError::Store(store) => store.into(),
            RegistryError::Audit(audit) => audit.into(),
            RegistryError::Catalog(_) => Self::internal(&error),
        }
    }
}

impl From<AccelerationError> for ApiError {
    fn from(error: AccelerationError) -> Self {
        match error {
            AccelerationError::OverBudget { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "memory_budget_exceeded",
                error.to_string(),
            ),
            AccelerationError::Load { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "refresh_failed", error.to_string())
            }
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::NotAccelerated(_) => {
                Self::new(StatusCode::CONFLICT, "not_accelerated", error.to_string())
            }
            RefreshError::Failed(failed) => failed.into(),
            RefreshError::Audit(audit) => audit.into(),
        }
    }
}
