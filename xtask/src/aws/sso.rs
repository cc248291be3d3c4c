//! Sign-in through AWS IAM Identity Center (SSO) profiles, without compiling it
//! into every CI build. The SDK's SSO providers (`aws-sdk-sso`, `aws-sdk-ssooidc`
//! and their hashing crates) are about 6% of a cold build of the release binary,
//! and CI never uses them: it has the GitHub OIDC exchange or keys in the
//! environment. So they sit behind the `sso` feature, and a laptop whose active
//! profile signs in through SSO gets them by itself: the command runs again from a
//! build with the feature (as `check-iam --inspect-role` does for the IAM client),
//! in a target folder of its own so that neither build undoes the other.

use std::{borrow::Cow, env};

use anyhow::{Result, bail};
use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::report;

/// Runs the current command again from a build with the `sso` feature when the
/// credentials would come from an SSO profile and this build has no SSO support.
/// Returns when nothing needs to change; otherwise exits with the rerun's status.
pub fn ensure_supported() -> Result<()> {
    // In Actions the credentials come from OIDC or the environment; a runner's own
    // SSO profile is the SDK's to report.
    if cfg!(feature = "sso") || report::in_github_actions() {
        return Ok(());
    }
    let runtime = super::runtime()?;
    let Some(profile) = runtime.block_on(sso_profile(&Env::real(), &Fs::real())) else {
        return Ok(());
    };
    let Some(cargo) = env::var_os("CARGO") else {
        bail!(
            "the AWS profile `{profile}` signs in through IAM Identity Center (SSO), which this build of xtask leaves \
             out (CI never needs it and compiles faster without it): run it as `cargo xtask …`, which builds it with \
             SSO support by itself, or build it with `cargo build -p xtask --features sso`"
        );
    };
    let why = format!("the AWS profile `{profile}` signs in through IAM Identity Center (SSO)");
    crate::rerun::with_feature(cargo, "sso", &why)
}

/// The profile whose credentials come through SSO, when the SDK's default chain
/// would use one: no keys in the environment (they come first), and the selected
/// profile, or one it names as `source_profile`, has SSO settings.
async fn sso_profile(env: &Env, fs: &Fs) -> Option<String> {
    if env.get("AWS_ACCESS_KEY_ID").is_ok_and(|it| !it.is_empty()) {
        return None;
    }
    // An unreadable or malformed file is the SDK's to report, with its own message.
    let profiles =
        aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None::<Cow<'static, str>>).await.ok()?;
    uses_sso(&profiles)
}

fn uses_sso(profiles: &ProfileSet) -> Option<String> {
    let mut name = profiles.selected_profile().to_owned();
    // A chain of role profiles ends at the one that holds the source credentials;
    // a loop is the SDK's to report.
    for _ in 0..16 {
        let profile = profiles.get_profile(&name)?;
        if ["sso_session", "sso_start_url", "sso_account_id"].iter().any(|key| profile.get(key).is_some()) {
            return Some(name);
        }
        name = profile.get("source_profile")?.to_owned();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(config: &str, vars: &[(&str, &str)]) -> Option<String> {
        let mut all = vec![("HOME", "/home/u"), ("AWS_CONFIG_FILE", "/c")];
        all.extend_from_slice(vars);
        let env = Env::from_slice(&all);
        let fs = Fs::from_slice(&[("/c", config)]);
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(sso_profile(&env, &fs))
    }

    const CONFIG: &str = "[default]\nregion = us-east-1\n\n[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n[profile legacy]\nsso_start_url = https://corp.awsapps.com/start\nsso_account_id = 1\n\n[profile publisher]\nrole_arn = arn:aws:iam::111122223333:role/p\nsource_profile = dev\n\n[profile keys]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n";

    #[test]
    fn finds_sso_in_the_selected_profile_and_its_source() {
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "dev")]).as_deref(), Some("dev"));
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "legacy")]).as_deref(), Some("legacy"));
        // A role profile whose source profile signs in through SSO.
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "publisher")]).as_deref(), Some("dev"));
    }

    #[test]
    fn needs_nothing_without_sso() {
        assert_eq!(detect(CONFIG, &[]), None, "the default profile has no SSO");
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "keys")]), None);
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "missing")]), None);
        // Keys in the environment come before any profile.
        assert_eq!(detect(CONFIG, &[("AWS_PROFILE", "dev"), ("AWS_ACCESS_KEY_ID", "AKID")]), None);
        // A loop of role profiles ends.
        let looped = "[profile a]\nrole_arn = r\nsource_profile = b\n[profile b]\nrole_arn = r\nsource_profile = a\n";
        assert_eq!(detect(looped, &[("AWS_PROFILE", "a")]), None);
        assert_eq!(detect("not an ini file [", &[("AWS_PROFILE", "dev")]), None);
    }
}
