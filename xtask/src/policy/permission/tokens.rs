//! The calls before the upload: the authorization token on the domain, the
//! service bearer token behind it (scoped to CodeArtifact and, ideally, bounded in
//! lifetime), and the repository's endpoint.

use super::{
    BEARER_CONDITION, BEARER_TOKEN, GET_AUTHORIZATION_TOKEN, GET_REPOSITORY_ENDPOINT, SERVICE, analysis::Analysis,
    snippet,
};
use crate::policy::{
    Finding, Severity,
    eval::{Claim, Outcome, Tri},
    glob,
};

impl Analysis<'_> {
    /// `perm.get-authorization-token`.
    pub(super) fn check_authorization_token(&self, out: &mut Vec<Finding>) {
        let arn = self.target.domain_arn();
        let outcome = self.ask(GET_AUTHORIZATION_TOKEN, &arn);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => {
                out.push(self.unconfirmed("perm.get-authorization-token", GET_AUTHORIZATION_TOKEN, &arn, &outcome))
            }
            Tri::No => {
                let bearer_condition = self.bearer_condition_blocks(GET_AUTHORIZATION_TOKEN, &arn);
                out.push(Finding::new(
                    "perm.get-authorization-token",
                    Severity::Error,
                    format!(
                        "the role cannot call {GET_AUTHORIZATION_TOKEN} on domain/{}: {}{bearer_condition}; AWS \
                         answers \"User: {} is not authorized to perform: {GET_AUTHORIZATION_TOKEN} on resource: \
                         {arn}\". Add {}",
                        self.target.domain,
                        self.why_refused(GET_AUTHORIZATION_TOKEN, &outcome),
                        self.session_arn(),
                        snippet("AuthorizationToken", &[GET_AUTHORIZATION_TOKEN], &arn, None)
                    ),
                ));
            }
        }
    }

    /// A clause for the common mistake of granting a CodeArtifact action in the
    /// bearer-token statement: `sts:AWSServiceName` is absent from CodeArtifact
    /// requests, so the condition refuses them.
    pub(super) fn bearer_condition_blocks(&self, action: &str, resource: &str) -> String {
        let context = self.context(action, None, None);
        let relaxed = self.ask_with(action, glob::literal(resource), &context, &["sts:awsservicename"]);
        if relaxed.answer == Tri::No {
            return String::new();
        }
        format!(
            " ({} conditions on sts:AWSServiceName, a key that only sts:GetServiceBearerToken requests carry, so it \
             never applies to {action}; give {action} a statement of its own)",
            self.labels(&relaxed.allowed_by)
        )
    }

    /// `perm.service-bearer-token` (the release's request is allowed), then
    /// `perm.bearer-token-condition` and `perm.token-duration` (the grant is scoped
    /// to CodeArtifact and bounds the token's lifetime).
    pub(super) fn check_bearer_token(&self, out: &mut Vec<Finding>) {
        let duration = self.target.token_duration;
        let context = self.context(BEARER_TOKEN, Some(SERVICE), Some(duration));
        let outcome = self.ask_with(BEARER_TOKEN, glob::literal("*"), &context, &[]);
        match outcome.answer {
            Tri::Maybe => out.push(self.unconfirmed("perm.service-bearer-token", BEARER_TOKEN, "*", &outcome)),
            Tri::No => out.push(self.bearer_token_refused(&context, &outcome)),
            Tri::Yes => {
                self.check_bearer_scope(out);
                self.check_token_lifetime(out);
            }
        }
    }

    /// `perm.service-bearer-token`: why the release's bearer-token request is
    /// refused, and the statement that allows it.
    fn bearer_token_refused(&self, context: &dyn Fn(&str) -> Claim, outcome: &Outcome) -> Finding {
        let duration = self.target.token_duration;
        let relaxed =
            self.ask_with(BEARER_TOKEN, glob::literal("*"), context, &["sts:awsservicename", "sts:durationseconds"]);
        let why = if outcome.denied_by.is_empty() && relaxed.answer != Tri::No {
            format!(
                "the conditions of {} refuse a request for {SERVICE} with sts:DurationSeconds = {duration} (the \
                 release's token duration)",
                self.labels(&relaxed.allowed_by)
            )
        } else {
            self.why_refused(BEARER_TOKEN, outcome)
        };
        Finding::new(
            "perm.service-bearer-token",
            Severity::Error,
            format!(
                "the role cannot call {BEARER_TOKEN} ({why}); GetAuthorizationToken then fails with \"… is not \
                 authorized to perform: {BEARER_TOKEN} …\". It must be in the role's own permission policy, as \
                 CodeArtifact resource policies cannot grant it. Add {}",
                snippet("BearerTokenForCodeArtifact", &[BEARER_TOKEN], "*", Some(BEARER_CONDITION))
            ),
        )
    }

    /// `perm.bearer-token-condition`: a bearer token for another service must be
    /// refused.
    fn check_bearer_scope(&self, out: &mut Vec<Finding>) {
        let other = self.context(BEARER_TOKEN, Some("other.amazonaws.com"), Some(self.target.token_duration));
        let unscoped = self.ask_with(BEARER_TOKEN, glob::literal("*"), &other, &[]);
        if unscoped.answer != Tri::No {
            out.push(Finding::new(
                "perm.bearer-token-condition",
                Severity::Low,
                format!(
                    "{BEARER_TOKEN} is not scoped to CodeArtifact in {}: scope it with \"Condition\": {BEARER_CONDITION}",
                    self.labels(&unscoped.allowed_by)
                ),
            ));
        }
    }

    /// `perm.token-duration`: a note when nothing refuses a 12-hour token.
    fn check_token_lifetime(&self, out: &mut Vec<Finding>) {
        let duration = self.target.token_duration;
        let long = self.context(BEARER_TOKEN, Some(SERVICE), Some(43200));
        if self.ask_with(BEARER_TOKEN, glob::literal("*"), &long, &[]).answer != Tri::No {
            let wanted = if duration > 0 { duration } else { 900 };
            out.push(Finding::new(
                "perm.token-duration",
                Severity::Info,
                format!(
                    "nothing bounds the CodeArtifact token lifetime (up to 12 hours); consider adding \
                     \"NumericLessThanEquals\": {{\"sts:DurationSeconds\": \"{wanted}\"}} to the bearer-token \
                     condition (the release asks for {duration} s)"
                ),
            ));
        }
    }

    /// `perm.get-repository-endpoint`.
    pub(super) fn check_repository_endpoint(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        let outcome = self.ask(GET_REPOSITORY_ENDPOINT, &arn);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => {
                out.push(self.unconfirmed("perm.get-repository-endpoint", GET_REPOSITORY_ENDPOINT, &arn, &outcome))
            }
            Tri::No => out.push(Finding::new(
                "perm.get-repository-endpoint",
                Severity::Error,
                format!(
                    "the role cannot resolve the PyPI endpoint of {}/{}: {GET_REPOSITORY_ENDPOINT} needs the \
                     repository ARN, and {}{}. Add {}",
                    self.target.domain,
                    self.target.repository,
                    self.why_refused(GET_REPOSITORY_ENDPOINT, &outcome),
                    self.bearer_condition_blocks(GET_REPOSITORY_ENDPOINT, &arn),
                    snippet("RepositoryEndpoint", &[GET_REPOSITORY_ENDPOINT], &arn, None)
                ),
            )),
        }
    }
}
