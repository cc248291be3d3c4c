//! PutPackageOriginConfiguration: `POST /v1/package` with the package in the query
//! and `{"restrictions": {"publish": …, "upstream": …}}` in a JSON body (botocore's
//! CodeArtifact model; aws-sdk-codeartifact `put_package_origin_configuration`).
//! It sets the package's origin controls and creates the package's record when the
//! repository has none: "you can use put-package-origin-configuration to set
//! origin controls on a package that does not exist yet" (AWS CodeArtifact User
//! Guide, "Editing package origin controls",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html).
//! The answer is the configuration as stored, `{"originConfiguration":
//! {"restrictions": …}}`.

use serde_json::{Value, json};

use crate::{
    config::{OriginRestrictions, Restriction},
    http::lock,
    state::State,
};

use super::{error::ApiError, validate::Target};

/// The body's restrictions, validated as CodeArtifact validates its input: both
/// members required, each `ALLOW` or `BLOCK`.
pub(crate) fn parse_body(body: &[u8]) -> Result<OriginRestrictions, ApiError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|err| ApiError::validation("CANNOT_PARSE", format!("The request body is not JSON: {err}")))?
    };
    let Some(restrictions) = value.get("restrictions").filter(|it| !it.is_null()) else {
        return Err(null_member("restrictions"));
    };
    let member = |name: &str| -> Result<Restriction, ApiError> {
        let path = format!("restrictions.{name}");
        match restrictions.get(name) {
            None | Some(Value::Null) => Err(null_member(&path)),
            Some(Value::String(text)) => Restriction::parse(text).map_err(|_| not_in_enum(text, &path)),
            Some(other) => Err(not_in_enum(&other.to_string(), &path)),
        }
    };
    Ok(OriginRestrictions { publish: member("publish")?, upstream: member("upstream")? })
}

/// Sets the restrictions of `target`'s package, creating its record if needed.
pub(crate) fn put(state: &State, target: &Target, restrictions: OriginRestrictions) -> Result<Value, ApiError> {
    if target.format != "pypi" {
        // A documented deviation (castack's README): the emulator keeps PyPI packages only.
        return Err(ApiError::validation("OTHER", "castack emulates PyPI packages only: use format pypi"));
    }
    lock(&state.store).put_record(&target.package, restrictions);
    Ok(json!({ "originConfiguration": { "restrictions": {
        "publish": restrictions.publish.as_str(),
        "upstream": restrictions.upstream.as_str(),
    }}}))
}

fn null_member(member: &str) -> ApiError {
    ApiError::validation(
        "FIELD_VALIDATION_FAILED",
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

fn not_in_enum(value: &str, member: &str) -> ApiError {
    let shown: String = value.chars().take(100).collect();
    ApiError::validation(
        "FIELD_VALIDATION_FAILED",
        format!(
            "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: Member must \
             satisfy enum value set: [ALLOW, BLOCK]"
        ),
    )
}
