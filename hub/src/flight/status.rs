//! The API's errors as gRPC statuses: the code that matches the HTTP status, the same
//! message (the one redacted view every front door shows).

use axum::http::StatusCode;
use tonic::{Code, Status};

use crate::api::ApiError;

pub fn to_status(error: ApiError) -> Status {
    let code = match error.status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE => {
            Code::InvalidArgument
        }
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::CONFLICT => Code::FailedPrecondition,
        StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY => Code::Unavailable,
        StatusCode::GATEWAY_TIMEOUT => Code::DeadlineExceeded,
        _ => Code::Internal,
    };
    // Timeouts and memory limits are 422 over HTTP; over gRPC they say what they are.
    let code = match error.code {
        "query_timeout" | "client_stalled" => Code::DeadlineExceeded,
        "memory_limit" | "resource_exhausted" => Code::ResourceExhausted,
        "query_cancelled" => Code::Cancelled,
        _ => code,
    };
    Status::new(code, format!("{} ({})", error.message, error.code))
}
