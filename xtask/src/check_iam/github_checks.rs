//! The GitHub side of `check-iam`, in Actions: `id-token: write`, a fork pull
//! request, and the claims of the job's OIDC token (never the token itself). The
//! `github.*` ids are explained in docs/checks.md.

use crate::{
    github,
    policy::{Finding, Severity},
    settings::Settings,
};

/// The checks of the job's GitHub context; `environment` is the one the role's
/// generated trust policy expects (`release`, or `build-deps` for the read role).
pub async fn checks(settings: &Settings, environment: &str, findings: &mut Vec<Finding>) {
    if github::is_fork_pull_request() {
        findings.push(Finding::new(
            "github.fork",
            Severity::Error,
            "this run is a pull request from a fork: GitHub gives it no ID token, so it can never publish",
        ));
    }
    if !github::can_request_id_token() {
        findings.push(Finding::new("github.id-token", Severity::Error, github::no_id_token_help()));
        return;
    }
    findings.push(Finding::new("github.id-token.ok", Severity::Info, "the job may request an OIDC ID token"));
    let jwt = match github::request_id_token(&settings.audience).await {
        Ok(jwt) => jwt,
        Err(err) => {
            findings.push(Finding::new("github.id-token", Severity::Error, format!("{err:#}")));
            return;
        }
    };
    let claims = match github::decode_claims(jwt.expose()) {
        Ok(claims) => claims,
        Err(err) => {
            findings.push(Finding::new("github.claims", Severity::Error, format!("{err:#}")));
            return;
        }
    };
    findings.push(Finding::new(
        "github.claims.ok",
        Severity::Info,
        format!("the job's token (audience {}) says:{}", settings.audience, claims.describe()),
    ));
    let repo_part = claims.sub.strip_prefix("repo:").and_then(|it| it.split(':').next()).unwrap_or_default();
    if repo_part.contains('@') {
        findings.push(Finding::new(
            "github.immutable-subject",
            Severity::Info,
            format!(
                "this repository presents the immutable subject form ({repo_part}): the trust policy's sub must use it \
                 (`cargo xtask iam-policy --github-repo {repo_part}` prints one)"
            ),
        ));
    }
    if !claims.job_workflow_ref.is_empty() && claims.job_workflow_ref != claims.workflow_ref {
        findings.push(Finding::new(
            "github.reusable-workflow",
            Severity::Medium,
            format!(
                "the job runs in the reusable workflow {} called by {}: sub names the caller; to pin the workflow that \
                 publishes, add a StringEquals condition on token.actions.githubusercontent.com:job_workflow_ref",
                claims.job_workflow_ref, claims.workflow_ref
            ),
        ));
    }
    if claims.environment.is_empty() {
        findings.push(Finding::new(
            "github.environment",
            Severity::Medium,
            format!(
                "the job has no `environment:`, so its sub is {:?}; the generated trust policy expects \
                 `environment: {environment}` on the job that assumes the role",
                claims.sub
            ),
        ));
    }
}
