//! CodeArtifact's error answers, in the rest-json shape both the Rust SDK and
//! botocore read: an `x-amzn-ErrorType` header plus `__type` and `message` in the
//! body, and the extra members some errors carry (`reason`, `resourceId`,
//! `resourceType`).

use serde_json::{Value, json};

use crate::{faults::Transient, http::Response};

pub(crate) struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    fields: Vec<(&'static str, Value)>,
    retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    /// A `ValidationException` with its `reason`.
    pub fn validation(reason: &str, message: impl Into<String>) -> ApiError {
        let mut err = ApiError::new(400, "ValidationException", message);
        err.fields.push(("reason", json!(reason)));
        err
    }

    /// A `ResourceNotFoundException` naming the resource.
    pub fn not_found(kind: &str, id: &str, message: impl Into<String>) -> ApiError {
        let mut err = ApiError::new(404, "ResourceNotFoundException", message);
        err.fields.push(("resourceId", json!(id)));
        err.fields.push(("resourceType", json!(kind)));
        err
    }

    /// A 500 for what went wrong inside the emulator (a file it cannot read, a
    /// password file it cannot write).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalServerException", message)
    }

    /// An injected throttle or internal error as CodeArtifact words it.
    pub fn transient(fault: Transient) -> ApiError {
        let code = match fault {
            Transient::Throttle { .. } => "ThrottlingException",
            Transient::InternalError => "InternalServerException",
        };
        let mut err = ApiError::new(fault.status(), code, fault.message());
        err.retry_after = fault.retry_after_seconds();
        err
    }

    pub fn response(self, request_id: &str) -> Response {
        let mut body = json!({ "__type": self.code, "message": self.message });
        for (key, value) in self.fields {
            body[key] = value;
        }
        let mut response = Response::json(self.status, &body)
            .with_header("x-amzn-RequestId", request_id)
            .with_header("x-amzn-ErrorType", self.code);
        if let Some(seconds) = self.retry_after {
            response = response.with_header("Retry-After", seconds.to_string());
        }
        response
    }
}
