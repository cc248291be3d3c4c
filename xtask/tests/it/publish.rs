//! `xtask release` end to end against the local stack: real twine uploads through
//! the CodeArtifact emulator to real pypiserver, real moto for STS, pip installs of
//! the result. Each test has its own stack and its own copy of the repository.

use std::{collections::BTreeSet, fs};

use castack::{Fault, OriginRestrictions, Restriction, UploadFailure};

use crate::support::{
    self, Creds, TempDir, copy_dir, copy_repo, git, install_and_read_version, published_files, release, release_env,
    start_stack, text, uploads,
};

#[test]
fn github_oidc_release_publishes_verifies_and_installs() {
    let stack = start_stack();
    let repo = copy_repo("oidc");
    let summary = repo.path().join("summary.md");
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let session = format!("assumed-role/{}/gha-4242-1", castack::DEFAULT_ROLE);
    assert!(log.contains("exchanged the GitHub OIDC token") && log.contains(&session), "{log}");
    assert!(log.contains(&format!("account {}", stack.config().account)), "{log}");
    assert_eq!(log.matches(": uploaded").count(), 2, "{log}");
    assert!(log.contains("yamause 1.0.0 is Published"), "{log}");
    assert!(log.contains("PIP_INDEX_URL=") && log.contains("Never --extra-index-url"), "{log}");
    assert!(log.contains("UV_INDEX_CODEARTIFACT_PASSWORD") && log.contains("POETRY_HTTP_BASIC_CODEARTIFACT"), "{log}");
    // The token was masked for the runner before anything could print it.
    assert!(log.contains("::add-mask::"), "{log}");
    assert_eq!(published_files(&stack).len(), 2);
    // CodeArtifact was called with the session minted by STS, not with static keys.
    let keys: BTreeSet<Option<String>> = stack
        .emulator()
        .requests()
        .into_iter()
        .filter(|r| r.operation == "GetAuthorizationToken")
        .map(|r| r.access_key_id)
        .collect();
    assert!(!keys.contains(&Some(castack::ACCESS_KEY_ID.to_owned())) && !keys.is_empty(), "{keys:?}");
    let md = fs::read_to_string(&summary).unwrap();
    assert!(md.contains("Release of yamause 1.0.0") && md.contains("| uploaded |"), "{md}");
    assert!(md.contains("```toml\n[[tool.uv.index]]") && md.contains("explicit = true"), "{md}");
    assert_eq!(install_and_read_version(&stack, "yamause==1.0.0"), "1.0.0");
}

#[test]
fn static_credentials_release_publishes() {
    let stack = start_stack();
    let repo = copy_repo("static");
    let out = release(repo.path(), &["v2.1.0rc1"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("through the AWS credential chain (Environment"), "{log}");
    // Keys of the domain owner's account: no cross-account note.
    assert!(log.contains(&format!("authenticated as {}", stack.caller_arn())), "{log}");
    assert!(!log.contains("is not the domain owner"), "{log}");
    assert!(log.contains("yamause 2.1.0rc1 is Published"), "{log}");
    assert_eq!(uploads(&stack).len(), 2, "{log}");
    assert_eq!(install_and_read_version(&stack, "yamause==2.1.0rc1"), "2.1.0rc1");

    // The cross-account caller (moto's default account) is told what a
    // cross-account domain needs, and still publishes.
    let out = release(repo.path(), &["v2.1.0rc2"], &release_env(&stack, Creds::CrossAccount, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("note: the caller's account 123456789012 is not the domain owner 111122223333"), "{log}");
}

/// CodeArtifact's publishing "can sometimes take longer" than its usual second
/// (User Guide, "Publishing latency"): Confirm asks again while the listing lags,
/// and when it lags beyond Confirm's tries the release says what is missing; a
/// re-run, once the files show, skips them and confirms.
#[test]
fn confirm_waits_for_a_listing_that_lags_and_reports_one_that_lags_too_long() {
    let stack = start_stack();
    let repo = copy_repo("lagging");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    stack.emulator().inject(Fault::Lag { delay_ms: 2_500 }.times(2)).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.matches("checking again in 1 s").count() >= 2, "{log}");
    assert!(log.contains("yamause 1.0.0 is Published"), "{log}");

    stack.emulator().inject(Fault::Lag { delay_ms: 10_000 }.times(2)).unwrap();
    let out = release(repo.path(), &["v1.1.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("step 9/9 (Confirm) failed"), "{log}");
    assert!(log.contains("yamause-1.1.0-py3-none-any.whl is not in the repository"), "{log}");
    // Nothing was lost: the files are stored, and show once the lag is over.
    assert_eq!(uploads(&stack).iter().filter(|it| it.contains("1.1.0")).count(), 2, "{log}");
    std::thread::sleep(std::time::Duration::from_secs(6));
    let out = release(repo.path(), &["v1.1.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(log.matches("already published with the same SHA-256; skipped").count(), 2, "{log}");
}

/// A package whose origin controls block publishing (`publish: BLOCK`) is refused
/// in CodeArtifact's words ("This package is configured to block new versions"):
/// the release names the setting and how to change it, and does not take the
/// refusal for an expired token.
#[test]
fn origin_controls_that_block_publishing_are_named() {
    let stack = start_stack();
    let repo = copy_repo("origin-blocked");
    stack
        .emulator()
        .set_origin_restrictions(OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Allow });
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("its origin controls block direct publishing (`publish: BLOCK`"), "{log}");
    assert!(log.contains("put-package-origin-configuration --domain sandbox-domain"), "{log}");
    assert!(log.contains("--package yamause --restrictions publish=ALLOW,upstream=BLOCK"), "{log}");
    assert!(!log.contains("getting a new one"), "a refusal by origin controls is no expired token:\n{log}");
    assert!(uploads(&stack).is_empty(), "{log}");
}

#[test]
fn manual_dispatch_releases_the_version_file() {
    let stack = start_stack();
    let repo = copy_repo("manual-publish");
    let mut vars = release_env(&stack, Creds::GithubOidc, "main", &[]);
    // workflow_dispatch on a branch: not a tag push.
    vars.retain(|(k, _)| k != "GITHUB_REF_TYPE");
    vars.push(("GITHUB_REF_TYPE".to_owned(), "branch".to_owned()));
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("releasing yamause 0.1.0 (from the version file"), "{log}");
    assert_eq!(
        published_files(&stack),
        BTreeSet::from(["yamause-0.1.0-py3-none-any.whl".to_owned(), "yamause-0.1.0.tar.gz".to_owned()])
    );
}

#[test]
fn rerunning_a_published_release_uploads_nothing() {
    let stack = start_stack();
    let repo = copy_repo("rerun");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    assert!(release(repo.path(), &["v1.0.0"], &vars).status.success());
    stack.emulator().clear_requests();
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(log.matches("already published with the same SHA-256; skipped").count(), 2, "{log}");
    assert!(log.contains("0 uploaded, 2 already published, 0 refused"), "{log}");
    let attempts: Vec<_> = stack.emulator().requests().into_iter().filter(|r| r.operation == "pypi-upload").collect();
    assert!(attempts.is_empty(), "a re-run uploaded: {attempts:?}");
}

#[test]
fn a_changed_file_is_refused_with_both_hashes_and_the_others_are_handled() {
    let stack = start_stack();
    let repo = copy_repo("conflict");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    assert!(release(repo.path(), &["v1.0.0"], &vars).status.success());
    // The wheel never made it (a partial release), and the source changed since.
    let wheel = stack.package_dir().join("yamause-1.0.0-py3-none-any.whl");
    fs::remove_file(&wheel).unwrap();
    let published_sdist = fs::read(stack.package_dir().join("yamause-1.0.0.tar.gz")).unwrap();
    fs::write(
        repo.path().join("yamause/__init__.py"),
        "\"\"\"changed.\"\"\"\n\nfrom yamause.__about__ import __version__\n\n__all__ = [\"__version__\"]\n",
    )
    .unwrap();
    git(repo.path(), &["commit", "-qam", "change"]);
    stack.emulator().clear_requests();

    // The tag stays on the first commit: publishing the changed HEAD takes
    // --allow-dirty.
    let out = release(repo.path(), &["v1.0.0"], &vars);
    assert!(text(&out).contains("tag v1.0.0 points at") && text(&out).contains("--allow-dirty"), "{}", text(&out));
    let out = release(repo.path(), &["v1.0.0", "--allow-dirty"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    let remote = support::sha256_hex(&published_sdist);
    assert!(
        log.contains("yamause-1.0.0.tar.gz differs from the file already published")
            && log.contains(&format!("published sha256:{remote}")),
        "{log}"
    );
    assert!(log.contains("release a new version"), "{log}");
    // The wheel was still uploaded, and the sdist was never sent.
    assert_eq!(uploads(&stack), ["yamause-1.0.0-py3-none-any.whl"], "{log}");
    assert!(log.contains("1 of 2 file(s) were not published"), "{log}");
}

#[test]
fn a_release_that_failed_after_the_first_file_completes_on_rerun() {
    let stack = start_stack();
    let repo = copy_repo("partial");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    // The first upload passes; every attempt at the second file fails with 500: twine
    // tries five times itself, and the release runs twine three times.
    stack.emulator().inject(Fault::Upload { pass: 1, failure: UploadFailure::InternalError }.times(15)).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("the repository kept failing (500)") && log.contains("resumes where it stopped"), "{log}");
    let attempts =
        stack.emulator().requests().iter().filter(|r| r.operation == "pypi-upload" && r.status == 500).count();
    assert_eq!(attempts, 15, "bounded retries");
    assert_eq!(published_files(&stack).len(), 1);

    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 uploaded, 1 already published, 0 refused"), "{log}");
    assert_eq!(published_files(&stack).len(), 2);
}

#[test]
fn a_broken_connection_after_the_upload_is_retried_to_success() {
    let stack = start_stack();
    let repo = copy_repo("reset");
    stack.emulator().inject(Fault::Upload { pass: 0, failure: UploadFailure::ResetAfterStore }.times(1)).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("2 uploaded, 0 already published, 0 refused"), "{log}");
}

#[test]
fn denied_listing_still_uploads_and_says_which_permission_helps() {
    let stack = start_stack();
    let repo = copy_repo("no-list");
    stack
        .emulator()
        .inject(Fault::Deny { action: "ListPackageVersionAssets".to_owned(), principal: None }.always())
        .unwrap();
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("Allow codeartifact:ListPackageVersionAssets and codeartifact:DescribePackageVersion on arn:aws:codeartifact:"), "{log}");
    assert!(log.contains("pypi//yamause for safe re-runs"), "{log}");
    assert_eq!(uploads(&stack).len(), 2, "{log}");
}

/// Each denial names the action, the resource and the statement to add.
#[test]
fn access_denied_is_mapped_to_the_missing_permission() {
    let stack = start_stack();
    let repo = copy_repo("denied");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    let account = stack.config().account.clone();
    let domain_arn = format!("arn:aws:codeartifact:us-east-1:{account}:domain/{}", castack::DEFAULT_DOMAIN);
    let repo_arn = format!(
        "arn:aws:codeartifact:us-east-1:{account}:repository/{}/{}",
        castack::DEFAULT_DOMAIN,
        castack::DEFAULT_REPOSITORY
    );
    let cases: Vec<(Fault, Vec<String>)> = vec![
        (
            Fault::Deny { action: "GetAuthorizationToken".to_owned(), principal: None },
            vec![
                format!("lacks codeartifact:GetAuthorizationToken on {domain_arn}"),
                "sts:GetServiceBearerToken".to_owned(),
                "request id".to_owned(),
            ],
        ),
        (
            Fault::DenyServiceBearerToken { principal: None },
            vec![
                "lacks sts:GetServiceBearerToken".to_owned(),
                "\"sts:AWSServiceName\": \"codeartifact.amazonaws.com\"".to_owned(),
            ],
        ),
        (
            Fault::Deny { action: "GetRepositoryEndpoint".to_owned(), principal: None },
            vec![format!("lacks codeartifact:GetRepositoryEndpoint on {repo_arn}"), "\"Effect\": \"Allow\"".to_owned()],
        ),
        (
            Fault::Deny { action: "PublishPackageVersion".to_owned(), principal: None },
            vec![
                "refused the upload (403)".to_owned(),
                "codeartifact:PublishPackageVersion".to_owned(),
                "pypi//yamause".to_owned(),
                "publish: BLOCK".to_owned(),
            ],
        ),
    ];
    for (fault, wants) in cases {
        stack.emulator().reset();
        stack.emulator().inject(fault.clone().always()).unwrap();
        let out = release(repo.path(), &["v1.0.0"], &vars);
        let log = text(&out);
        assert!(!out.status.success(), "{fault:?} was not an error:\n{log}");
        for want in wants {
            assert!(log.contains(&want), "{fault:?}: {want:?} missing in:\n{log}");
        }
    }
}

#[test]
fn a_missing_domain_names_the_settings_to_check() {
    let stack = start_stack();
    let repo = copy_repo("not-found");
    stack.emulator().inject(Fault::DomainNotFound.always()).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("CodeArtifact has no such domain")
            && log.contains("CODEARTIFACT_DOMAIN (sandbox-domain)")
            && log.contains("AWS_REGION (us-east-1)"),
        "{log}"
    );
}

#[test]
fn a_job_without_id_token_permission_is_told_what_to_add() {
    let stack = start_stack();
    let repo = copy_repo("no-id-token");
    let out = release(repo.path(), &[], &release_env(&stack, Creds::GithubNoIdToken, "v1.0.0", &[]));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("permissions: id-token: write") && log.contains("fork"), "{log}");
    assert!(log.lines().any(|l| l.starts_with("::error::")), "{log}");
    assert!(uploads(&stack).is_empty());
}

#[test]
fn throttling_is_retried_to_success() {
    let stack = start_stack();
    let repo = copy_repo("throttle");
    stack.emulator().inject(Fault::Throttle { retry_after_seconds: 1 }.times(2).only("GetAuthorizationToken")).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let statuses: Vec<u16> = stack
        .emulator()
        .requests()
        .iter()
        .filter(|r| r.operation == "GetAuthorizationToken")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[test]
fn settings_are_validated_before_any_network_call() {
    let stack = start_stack();
    let repo = copy_repo("bad-settings");
    let vars = release_env(&stack, Creds::Static, "", &[("CODEARTIFACT_DOMAIN_OWNER", "12345")]);
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("CODEARTIFACT_DOMAIN_OWNER = \"12345\" (from the environment) is not a 12-digit AWS account id"),
        "{log}"
    );
    assert!(stack.emulator().requests().is_empty(), "a request was sent");
    // Nothing was built or stamped either.
    assert!(!repo.path().join("target/dist").exists());
}

#[test]
fn split_build_and_publish_checks_the_manifest() {
    let stack = start_stack();
    let repo = copy_repo("split");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    // The build job: no AWS settings at all.
    let out = support::xtask(repo.path(), &["release", "v1.0.0", "--build-only"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stack.emulator().requests().is_empty());
    // The publish job gets the files as an artifact.
    let artifact = TempDir::new("artifact");
    copy_dir(&repo.path().join("target/dist"), artifact.path());
    let tampered = artifact.path().join("1.0.0/yamause-1.0.0.tar.gz");
    let original = fs::read(&tampered).unwrap();
    fs::write(&tampered, b"not the built file").unwrap();
    let out = release(repo.path(), &["v1.0.0", "--publish-only", artifact.path().to_str().unwrap()], &vars);
    let log = text(&out);
    assert!(!out.status.success() && log.contains("changed since the build"), "{log}");
    assert!(uploads(&stack).is_empty());
    fs::write(&tampered, original).unwrap();
    let out = release(repo.path(), &["v2.0.0", "--publish-only", artifact.path().to_str().unwrap()], &vars);
    assert!(!out.status.success() && text(&out).contains("release is 2.0.0"), "{}", text(&out));
    let out = release(repo.path(), &["v1.0.0", "--publish-only", artifact.path().to_str().unwrap()], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("(matches the manifest)") && log.contains("2 uploaded"), "{log}");
}

/// STS refusals of the OIDC exchange, each with the claims and its likely cause.
#[test]
fn refused_oidc_exchanges_are_explained() {
    let stack = start_stack();
    let repo = copy_repo("sts");
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[]);
    let cases = [
        (
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            403,
            vec![
                "does not accept this job's token",
                "sub: repo:octo-org/yamause:environment:release",
                "aud: sts.amazonaws.com",
                "environment: release",
                "immutable",
                "cargo xtask check-iam",
            ],
        ),
        (
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com",
            400,
            vec!["aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com"],
        ),
        (
            "InvalidIdentityToken",
            "Incorrect token audience",
            400,
            vec!["not in the client id list", "GITHUB_OIDC_AUDIENCE"],
        ),
    ];
    for (code, message, status, wants) in cases {
        stack.emulator().reset();
        let fault = Fault::Sts { code: code.to_owned(), message: message.to_owned(), status };
        stack.emulator().inject(fault.always().only("AssumeRoleWithWebIdentity")).unwrap();
        let out = release(repo.path(), &[], &vars);
        let log = text(&out);
        assert!(!out.status.success(), "{log}");
        for want in wants {
            assert!(log.contains(want), "{code} {message}: {want:?} missing in:\n{log}");
        }
        assert!(uploads(&stack).is_empty());
    }
    // An expired ID token is retried once with a fresh one.
    stack.emulator().reset();
    let fault =
        Fault::Sts { code: "ExpiredTokenException".to_owned(), message: "Token expired".to_owned(), status: 400 };
    stack.emulator().inject(fault.times(1).only("AssumeRoleWithWebIdentity")).unwrap();
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("retrying with a fresh ID token"), "{log}");
}

#[test]
fn a_token_that_expires_during_the_uploads_is_replaced() {
    let stack = start_stack();
    let repo = copy_repo("expire");
    stack.emulator().inject(Fault::Upload { pass: 1, failure: UploadFailure::ExpireToken }.times(1)).unwrap();
    let out = release(repo.path(), &["v1.0.0"], &release_env(&stack, Creds::Static, "", &[]));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("the repository refused the token (expired?); getting a new one"), "{log}");
    assert!(log.contains("2 uploaded, 0 already published, 0 refused"), "{log}");
    assert!(stack.emulator().issued_tokens().len() >= 2);
}
