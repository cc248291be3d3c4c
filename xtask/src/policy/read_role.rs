//! The build-deps job's read role, as the trust analysis and the generated trust
//! policy see it: the job of `.github/workflows/release.yml` that downloads the
//! locked build requirements runs in the environment `build-deps`, and the role it
//! assumes can only read the repository, so that environment needs a deployment
//! tag rule but no required reviewers (a release waits for reviewers once, in the
//! publish job's environment).

use super::TrustContext;

/// The environment of the build-deps job (`environment: build-deps` in
/// `release.yml`), which the read role's trust policy pins.
pub const READ_ENVIRONMENT: &str = "build-deps";

/// The trust context of the read role: the release's (repository, account,
/// partition, audience, tag, session), in `environment`, without reviewers.
pub fn read_role_context(release: &TrustContext, environment: &str) -> TrustContext {
    TrustContext { environment: Some(environment.to_owned()), needs_reviewers: false, ..release.clone() }
}
