//! The control API's JSON form of a [`Rule`] (`POST /_castack/faults` and the
//! listing), both ways: every kind, its fields in camelCase, optional
//! `"operation"` and `"times"`. Parsing checks field types and then the rule
//! itself ([`Rule::validate`]), so a malformed rule is refused with a message that
//! names the field, never half-applied.

use anyhow::{bail, format_err};
use serde_json::{Map, Value, json};

use super::{Fault, Rule, UploadFailure};

impl Rule {
    /// The control API's JSON form (see [`Rule::from_json`]).
    pub fn to_json(&self) -> Value {
        let mut out = json!({ "kind": self.kind() });
        let obj = out.as_object_mut().unwrap();
        match &self.fault {
            Fault::Deny { action, principal } => {
                obj.insert("action".into(), json!(action));
                if let Some(principal) = principal {
                    obj.insert("principal".into(), json!(principal));
                }
            }
            Fault::DenyServiceBearerToken { principal } => {
                if let Some(principal) = principal {
                    obj.insert("principal".into(), json!(principal));
                }
            }
            Fault::DomainNotFound | Fault::RepositoryNotFound | Fault::InternalError => {}
            Fault::Throttle { retry_after_seconds } => {
                obj.insert("retryAfterSeconds".into(), json!(retry_after_seconds));
            }
            Fault::Slow { delay_ms } | Fault::Lag { delay_ms } => {
                obj.insert("delayMs".into(), json!(delay_ms));
            }
            Fault::Stall { max_ms } | Fault::Trickle { max_ms } => {
                obj.insert("maxMs".into(), json!(max_ms));
            }
            Fault::Upload { pass, failure } => {
                obj.insert("pass".into(), json!(pass));
                obj.insert("failure".into(), json!(failure.as_str()));
            }
            Fault::Sts { code, message, status } => {
                obj.insert("code".into(), json!(code));
                obj.insert("message".into(), json!(message));
                obj.insert("status".into(), json!(status));
            }
            Fault::Endpoint { url } => {
                obj.insert("url".into(), json!(url));
            }
            Fault::PageLoop => {}
        }
        if let Some(operation) = &self.operation {
            obj.insert("operation".into(), json!(operation));
        }
        if let Some(times) = self.times {
            obj.insert("times".into(), json!(times));
        }
        out
    }

    /// Parses the control API's JSON form:
    /// `{"kind": "deny", "action": "GetAuthorizationToken", "principal": "arn:…"}`,
    /// `{"kind": "deny-service-bearer-token"}`, `{"kind": "domain-not-found"}`,
    /// `{"kind": "repository-not-found"}`,
    /// `{"kind": "throttle", "times": 2, "retryAfterSeconds": 1}`,
    /// `{"kind": "internal-error", "times": 1}`, `{"kind": "slow", "times": 1, "delayMs": 500}`,
    /// `{"kind": "upload", "pass": 1, "failure": "reset", "times": 1}`,
    /// `{"kind": "lag", "times": 1, "delayMs": 3000}`,
    /// `{"kind": "sts", "code": "AccessDenied", "message": "…", "status": 403,
    /// "operation": "AssumeRoleWithWebIdentity"}` (`status` defaults to 400),
    /// `{"kind": "endpoint", "url": "https://elsewhere.invalid/pypi/r/"}`,
    /// `{"kind": "page-loop"}`; every kind takes optional `"operation"` and `"times"`.
    pub fn from_json(value: &Value) -> anyhow::Result<Rule> {
        let obj = value.as_object().ok_or_else(|| format_err!("a fault must be a JSON object"))?;
        let fields = Fields(obj);
        let kind = fields.text("kind")?.ok_or_else(|| format_err!("a fault needs a \"kind\""))?;
        let mut rule = Rule::from(fault_from_json(&kind, &fields)?);
        if obj.contains_key("times") {
            rule.times = fields.small("times")?;
        }
        rule.operation = fields.text("operation")?;
        rule.validate()?;
        Ok(rule)
    }
}

/// The fields of a fault object, read with a message that names the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> anyhow::Result<Option<String>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(it)) => Ok(Some(it.clone())),
            Some(_) => bail!("fault field {key:?} must be a string"),
        }
    }

    fn number(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(it) => {
                it.as_u64().map(Some).ok_or_else(|| format_err!("fault field {key:?} must be a non-negative integer"))
            }
        }
    }

    fn small(&self, key: &str) -> anyhow::Result<Option<u32>> {
        self.number(key)?
            .map(|it| u32::try_from(it).map_err(|_| format_err!("fault field {key:?} is too large")))
            .transpose()
    }
}

/// The fault of kind `kind`, its own fields read from `fields`.
fn fault_from_json(kind: &str, fields: &Fields<'_>) -> anyhow::Result<Fault> {
    let fault = match kind {
        "deny" => Fault::Deny {
            action: fields.text("action")?
                .ok_or_else(|| format_err!("a deny fault needs an \"action\", such as GetAuthorizationToken"))?,
            principal: fields.text("principal")?,
        },
        "deny-service-bearer-token" => Fault::DenyServiceBearerToken { principal: fields.text("principal")? },
        "domain-not-found" => Fault::DomainNotFound,
        "repository-not-found" => Fault::RepositoryNotFound,
        "throttle" => Fault::Throttle { retry_after_seconds: fields.small("retryAfterSeconds")?.unwrap_or(1) },
        "internal-error" => Fault::InternalError,
        "slow" => Fault::Slow {
            delay_ms: fields.number("delayMs")?.ok_or_else(|| format_err!("a slow fault needs \"delayMs\""))?,
        },
        "stall" => Fault::Stall {
            max_ms: fields.number("maxMs")?.ok_or_else(|| format_err!("a stall fault needs \"maxMs\""))?,
        },
        "trickle" => Fault::Trickle {
            max_ms: fields.number("maxMs")?.ok_or_else(|| format_err!("a trickle fault needs \"maxMs\""))?,
        },
        "lag" => Fault::Lag {
            delay_ms: fields.number("delayMs")?.ok_or_else(|| format_err!("a lag fault needs \"delayMs\""))?,
        },
        "upload" => Fault::Upload {
            pass: fields.small("pass")?.unwrap_or(0),
            failure: UploadFailure::parse(&fields.text("failure")?.unwrap_or_else(|| "forbidden".into()))?,
        },
        "sts" => Fault::Sts {
            code: fields.text("code")?
                .ok_or_else(|| format_err!("an sts fault needs a \"code\", such as AccessDenied"))?,
            message: fields.text("message")?.ok_or_else(|| {
                format_err!("an sts fault needs a \"message\", such as \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"")
            })?,
            status: fields.number("status")?
                .map(|it| u16::try_from(it).map_err(|_| format_err!("fault field \"status\" is too large")))
                .transpose()?
                .unwrap_or(400),
        },
        "endpoint" => Fault::Endpoint {
            url: fields.text("url")?.ok_or_else(|| format_err!("an endpoint fault needs a \"url\""))?,
        },
        "page-loop" => Fault::PageLoop,
        other => bail!(
            "unknown fault kind {other:?}: use deny, deny-service-bearer-token, domain-not-found, \
             repository-not-found, throttle, internal-error, slow, stall, upload, lag, sts, endpoint or page-loop"
        ),
    };
    Ok(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let rules = [
            Fault::Deny { action: "GetAuthorizationToken".into(), principal: Some("arn:x".into()) }.always(),
            Fault::Throttle { retry_after_seconds: 3 }.times(2).only("DescribeDomain"),
            Fault::Upload { pass: 1, failure: UploadFailure::ResetAfterStore }.times(1),
            Fault::Slow { delay_ms: 10 }.times(1),
            Fault::Lag { delay_ms: 2_000 }.times(2),
            Fault::Upload { pass: 0, failure: UploadFailure::ExpireToken }.times(1),
            Fault::Sts { code: "AccessDenied".into(), message: "Not <authorized> & \"x\"".into(), status: 403 }
                .times(2)
                .only("AssumeRoleWithWebIdentity"),
            Fault::Sts { code: "InvalidIdentityToken".into(), message: "Incorrect token audience".into(), status: 400 }
                .always(),
            Fault::Endpoint { url: "https://elsewhere.invalid/pypi/r/".into() }.times(1),
            Fault::PageLoop.always().only("ListPackageVersionAssets"),
        ];
        for rule in rules {
            assert_eq!(Rule::from_json(&rule.to_json()).unwrap(), rule);
        }
        assert!(Rule::from_json(&json!({"kind": "throttle", "times": null})).is_err());
        assert!(Rule::from_json(&json!({"kind": "slow", "times": 1, "delayMs": 10_000_000})).is_err());
        assert!(Rule::from_json(&json!({"kind": "lag", "delayMs": 10_000_000})).is_err());
        assert_eq!(Rule::from_json(&json!({"kind": "lag", "delayMs": 5})).unwrap().times, Some(1));
        assert!(Rule::from_json(&json!({"kind": "nope"})).is_err());
        assert!(Rule::from_json(&json!({"kind": "endpoint"})).is_err());
        assert!(Rule::from_json(&json!({"kind": "endpoint", "url": ""})).is_err());
        let sts = Rule::from_json(&json!({"kind": "sts", "code": "ExpiredTokenException", "message": "m"})).unwrap();
        assert_eq!(sts.fault, Fault::Sts { code: "ExpiredTokenException".into(), message: "m".into(), status: 400 });
        assert_eq!(sts.times, None, "a bare sts fault answers at once and stays until reset");
        for bad in [
            json!({"kind": "sts", "message": "m"}),
            json!({"kind": "sts", "code": "AccessDenied"}),
            json!({"kind": "sts", "code": "<x>", "message": "m"}),
            json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 200}),
            json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 70000}),
        ] {
            assert!(Rule::from_json(&bad).is_err(), "{bad}");
        }
    }
}
