//! CodeArtifact's error answers, in the rest-json shape both the Rust SDK and
//! botocore read: an `x-amzn-ErrorType` header plus `__type` and `message` in the
//! body, and the extra members some errors carry (`reason`, `resourceId`,
//! `resourceType`).

use serde_json::{Value, json};

use crate::{faults::Transient, http::Response, sigv4::Refusal};

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

    /// A request that did not authenticate, in the codes of AWS's JSON protocols:
    /// `InvalidSignatureException` 403 for a wrong, old or future signature (CodeArtifact
    /// answering a bad signature: aws/aws-sdk-kotlin#1217),
    /// `UnrecognizedClientException` 403 for an unknown key or token (iann0036/iamlive#58,
    /// a REST-JSON service), `ExpiredTokenException` 403 for an ended session (the
    /// "Common Error Types" of the AWS API references).
    pub fn unauthenticated(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Missing => {
                ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
            }
            Refusal::Incomplete(message) => ApiError::new(403, "IncompleteSignatureException", message),
            Refusal::Scope(message) | Refusal::Signature(message) => {
                ApiError::new(403, "InvalidSignatureException", message)
            }
            Refusal::UnknownKey | Refusal::InvalidToken => ApiError::new(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Refusal::ExpiredToken => {
                ApiError::new(403, "ExpiredTokenException", "The security token included in the request is expired")
            }
        }
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
