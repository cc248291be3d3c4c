//! castack's answers held against descriptions nobody here wrote (`describe.py` does
//! the checking, with the stack tools' Python):
//!
//! - every CodeArtifact operation the release and check-iam call, and its error
//!   answers, against botocore's CodeArtifact model; castack's own STS answers
//!   (refusals) and moto's answers through it against botocore's STS model
//!   (botocore 1.44.8, pinned with moto in xtask/tools/stack.txt);
//! - every operation of the fake GitHub API, with its error answers, against
//!   GitHub's OpenAPI description (`@octokit/openapi`, pinned in
//!   xtask/tools/npm/openapi/, installed here with `npm ci`);
//! - the JSON simple index against PEP 691 and PEP 700.
//!
//! Answers the descriptions do not document (SigV4 refusals, common errors of the
//! query protocol, GitHub's error statuses on operations that list only 200) are
//! named here and in castack's README.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use castack::{
    AwsKey, Deployment, ExternalConnection, Fault, GithubEndpoint, GithubEnvironment, GithubRepo, OidcSigning,
    PUBLIC_PYPI, RefType, Reviewer,
};
use serde_json::{Value, json};

use crate::{
    control::base64_basic,
    github_writes::{put_secret, seal, send_as},
    sts::FakeMoto,
    support::*,
};

/// Runs `describe.py` on `request`; panics with every violation found.
pub(crate) fn check(request: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/describe.py");
    let mut child = Command::new(stack_python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run describe.py with the stack tools' Python");
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "describe.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("checked: {:#}", report["checked"]);
    let violations = report["violations"].as_array().unwrap();
    assert!(violations.is_empty(), "castack disagrees with the description:\n{violations:#?}");
    report["checked"].clone()
}

/// An answer as `describe.py` reads it.
fn answer(raw: &Raw) -> Value {
    let headers: serde_json::Map<String, Value> =
        raw.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), json!(v))).collect();
    json!({"status": raw.status, "headers": headers, "body": raw.body})
}

/// A CodeArtifact call signed with `key`.
fn codeartifact(fx: &Fixture, key: &AwsKey, operation: &str, method: &str, target: &str) -> Value {
    codeartifact_with_body(&fx.emulator, key, (operation, method, target), "")
}

/// A CodeArtifact call signed with `key`, with a JSON `body` when it is not empty,
/// as `describe.py` takes it.
pub(crate) fn codeartifact_with_body(
    emulator: &castack::Emulator,
    key: &AwsKey,
    (operation, method, target): (&str, &str, &str),
    body: &str,
) -> Value {
    let json_type = [("Content-Type", "application/json")];
    let extra: &[(&str, &str)] = if body.is_empty() { &[] } else { &json_type };
    let head =
        signed_head_with(emulator, (method, target, body.as_bytes()), extra, key, ("us-east-1", "codeartifact", now()));
    let head = if body.is_empty() { head } else { format!("{head}Content-Length: {}\r\n", body.len()) };
    let mut out = answer(&raw_bytes(emulator, &head, body.as_bytes()));
    out["service"] = json!("codeartifact");
    out["operation"] = json!(operation);
    out
}

/// The answers about a package's origin: PutPackageOriginConfiguration creating a
/// package, the package it made (no versions), and a body that is refused.
fn origin_answers(fx: &Fixture, key: &AwsKey) -> Vec<Value> {
    let new = "domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=new-pkg";
    let put = |body: &str| {
        codeartifact_with_body(
            &fx.emulator,
            key,
            ("PutPackageOriginConfiguration", "POST", &format!("/v1/package?{new}")),
            body,
        )
    };
    vec![
        put(r#"{"restrictions":{"publish":"ALLOW","upstream":"BLOCK"}}"#),
        codeartifact(fx, key, "DescribePackage", "GET", &format!("/v1/package?{new}")),
        codeartifact(fx, key, "ListPackageVersions", "POST", &format!("/v1/package/versions?{new}")),
        put(r#"{"restrictions":{"publish":"ALLOW"}}"#),
    ]
}

const REPO: &str = "domain=sandbox-domain&repository=sandbox-repo";
const PACKAGE: &str = "domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=demo-pkg";

fn codeartifact_answers(fx: &Fixture) -> Vec<Value> {
    let key = AwsKey::new(ACCESS_KEY, SECRET);
    let call = |operation: &str, method: &str, target: String| codeartifact(fx, &key, operation, method, &target);
    let mut out = vec![
        call("GetAuthorizationToken", "POST", "/v1/authorization-token?domain=sandbox-domain&duration=900".into()),
        call("GetRepositoryEndpoint", "GET", format!("/v1/repository/endpoint?{REPO}&format=pypi")),
        call("DescribePackageVersion", "GET", format!("/v1/package/version?{PACKAGE}&version=1.0.0")),
        call("ListPackageVersionAssets", "POST", format!("/v1/package/version/assets?{PACKAGE}&version=1.0.0")),
        call("ListPackageVersions", "POST", format!("/v1/package/versions?{PACKAGE}")),
        call("ListPackageVersions", "POST", format!("/v1/package/versions?{PACKAGE}&max-results=1")),
        call("DescribePackage", "GET", format!("/v1/package?{PACKAGE}")),
        call("DescribeRepository", "GET", format!("/v1/repository?{REPO}")),
        call("DescribeDomain", "GET", "/v1/domain?domain=sandbox-domain".into()),
        // Errors: not found, invalid, denied, throttled, failed.
        call("DescribeDomain", "GET", "/v1/domain?domain=other-domain".into()),
        call("DescribePackageVersion", "GET", format!("/v1/package/version?{PACKAGE}&version=9.9.9")),
        call("GetRepositoryEndpoint", "GET", format!("/v1/repository/endpoint?{REPO}&format=rpm")),
        call("GetAuthorizationToken", "POST", "/v1/authorization-token?domain=sandbox-domain&duration=12".into()),
    ];
    out.extend(origin_answers(fx, &key));
    let deny = Fault::Deny { action: "GetAuthorizationToken".into(), principal: None };
    fx.emulator.inject(deny.times(1)).unwrap();
    out.push(call("GetAuthorizationToken", "POST", "/v1/authorization-token?domain=sandbox-domain".into()));
    fx.emulator.inject(Fault::Throttle { retry_after_seconds: 2 }.times(1)).unwrap();
    out.push(call("ListPackageVersions", "POST", format!("/v1/package/versions?{PACKAGE}")));
    fx.emulator.inject(Fault::InternalError.times(1)).unwrap();
    out.push(call("DescribeDomain", "GET", "/v1/domain?domain=sandbox-domain".into()));
    // Refused signatures: AWS's common errors, not in the model.
    let wrong = AwsKey::new(ACCESS_KEY, "wrong-secret");
    out.push(codeartifact(fx, &wrong, "DescribeDomain", "GET", "/v1/domain?domain=sandbox-domain"));
    let nobody = AwsKey::new("AKIDNOBODYKNOWS00001", SECRET);
    out.push(codeartifact(fx, &nobody, "DescribeDomain", "GET", "/v1/domain?domain=sandbox-domain"));
    let mut unsigned = answer(&raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", false));
    unsigned["service"] = json!("codeartifact");
    unsigned["operation"] = json!("DescribeDomain");
    out.push(unsigned);
    out
}

/// castack's own STS answers: refused tokens and signatures.
fn sts_refusals(fx: &Fixture) -> Vec<Value> {
    let form = |token: &str, role: &str| {
        format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=s&WebIdentityToken={token}",
            role.replace(':', "%3A").replace('/', "%2F")
        )
    };
    let post = |body: &str, signed: Option<&AwsKey>| {
        let content_type = ("Content-Type", "application/x-www-form-urlencoded");
        let head = match signed {
            Some(key) => signed_head_with(
                &fx.emulator,
                ("POST", "/", body.as_bytes()),
                &[content_type],
                key,
                ("us-east-1", "sts", now()),
            ),
            None => format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\n", content_type.1),
        };
        raw_bytes(&fx.emulator, &format!("{head}Content-Length: {}\r\n", body.len()), body.as_bytes())
    };
    let role = "arn:aws:iam::111122223333:role/ci-publisher";
    fx.emulator.set_oidc_signing(OidcSigning::Tampered);
    let tampered = fx.emulator.mint_oidc_token(None);
    fx.emulator.reset();
    fx.emulator.set_oidc_claims(serde_json::from_value(json!({"exp": 1_700_000_000})).unwrap());
    let expired = fx.emulator.mint_oidc_token(None);
    fx.emulator.reset();
    let caller = "Action=GetCallerIdentity&Version=2011-06-15";
    let answers = [
        ("AssumeRoleWithWebIdentity", post(&form("not-a-jwt", role), None)),
        ("AssumeRoleWithWebIdentity", post(&form(&tampered, role), None)),
        ("AssumeRoleWithWebIdentity", post(&form(&expired, role), None)),
        ("AssumeRoleWithWebIdentity", post(&form(&fx.emulator.mint_oidc_token(Some("x")), role), None)),
        ("AssumeRoleWithWebIdentity", post(&form("not-a-jwt", "arn:aws:iam::1:role/x"), None)),
        ("GetCallerIdentity", post(caller, None)),
        ("GetCallerIdentity", post(caller, Some(&AwsKey::new(ACCESS_KEY, "wrong-secret")))),
        ("GetCallerIdentity", post(caller, Some(&AwsKey::new("AKIDNOBODYKNOWS00001", SECRET)))),
    ];
    answers
        .into_iter()
        .map(|(operation, raw)| {
            let mut out = answer(&raw);
            out["service"] = json!("sts");
            out["operation"] = json!(operation);
            out
        })
        .collect()
}

/// The errors the models leave out, with the status AWS answers them with (AWS's
/// "Common Errors" of the query APIs; the SigV4 errors of the JSON protocols).
fn accepted_errors() -> Value {
    json!({
        "codeartifact": {
            "MissingAuthenticationTokenException": 403,
            "IncompleteSignatureException": 403,
            "InvalidSignatureException": 403,
            "UnrecognizedClientException": 403,
            "ExpiredTokenException": 403,
        },
        "sts": {
            "MissingAuthenticationToken": 403,
            "IncompleteSignature": 400,
            "SignatureDoesNotMatch": 403,
            "InvalidClientTokenId": 403,
            "ExpiredToken": 403,
            "ValidationError": 400,
            "AccessDenied": 403,
            "Throttling": 400,
            "InternalFailure": 500,
        },
    })
}

#[test]
fn codeartifact_sts_and_the_simple_index_agree_with_their_descriptions() {
    let moto = FakeMoto::start();
    let fx = fixture_with(|config| {
        config.sts_upstream = Some(moto.addr());
        // DescribeRepository lists it; nothing listens there (nothing is ingested).
        let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        config.external_connection = Some(ExternalConnection { name: PUBLIC_PYPI.into(), upstream });
    });
    let mut botocore = codeartifact_answers(&fx);
    botocore.extend(sts_refusals(&fx));
    let token = fx.emulator.issue_token(None).unwrap().value;
    let pages: Vec<Value> = ["demo-pkg", "other-thing"]
        .iter()
        .map(|project| {
            let path = format!("/pypi/sandbox-repo/simple/{project}/");
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nAccept: application/vnd.pypi.simple.v1+json\r\n",
                base64_basic("aws", &token)
            );
            let raw = raw_bytes(&fx.emulator, &head, b"");
            assert_eq!(raw.status, 200, "{raw:?}");
            json!({"path": path, "content_type": raw.header("content-type").unwrap_or_default(), "body": raw.body})
        })
        .collect();
    let checked = check(json!({"botocore": botocore, "accepted_errors": accepted_errors(), "pep691": pages}));
    assert_eq!(checked["botocore"], 31, "{checked}");
    assert_eq!(checked["pep691"], 2, "{checked}");
}

/// GitHub's OpenAPI description, `api.github.com.json` of the `@octokit/openapi`
/// pinned in xtask/tools/npm/openapi/, installed with `npm ci` (no scripts) into the
/// workspace's `target/npm-openapi` on first use and reused while the lock file
/// stays the same. Needs Node.js with npm and the npm registry (the machine's proxy
/// and CA variables apply); fails saying so, never skips.
fn github_openapi() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let src = root.join("xtask/tools/npm/openapi");
        let dir =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from).join("npm-openapi");
        let file = dir.join("node_modules/@octokit/openapi/generated/api.github.com.json");
        let lock = std::fs::read(src.join("package-lock.json")).unwrap();
        let marker = dir.join("node_modules/.castack-lock.json");
        if std::fs::read(&marker).is_ok_and(|it| it == lock) && file.is_file() {
            return file;
        }
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["package.json", "package-lock.json"] {
            std::fs::copy(src.join(name), dir.join(name)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--prefix"])
            .arg(&dir)
            .args(["--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .output();
        let ok = out.as_ref().is_ok_and(|it| it.status.success());
        assert!(
            ok && file.is_file(),
            "installing @octokit/openapi (GitHub's OpenAPI description) with `npm ci` failed; the contract tests \
             need Node.js 18+ with npm and the npm registry (behind a proxy: HTTPS_PROXY; a private CA: \
             NODE_EXTRA_CA_CERTS): {}",
            out.map(|it| String::from_utf8_lossy(&it.stderr).into_owned()).unwrap_or_else(|err| err.to_string())
        );
        std::fs::write(&marker, lock).unwrap();
        file
    })
    .clone()
}

const GITHUB_REPO: &str = "/repos/octo-org/yamause";

/// A repository with every shape the fake can answer: user and team reviewers,
/// custom branch and tag policies, a secret of each scope.
fn github_fixture() -> Fixture {
    let fx = fixture();
    let mut release = GithubEnvironment::protected("release");
    release.reviewers = vec![Reviewer::User("release-manager".into()), Reviewer::Team("release-managers".into())];
    release.deployment = Deployment::Custom(vec![("v*".into(), RefType::Tag), ("main".into(), RefType::Branch)]);
    let mut open = GithubEnvironment::created("open");
    open.deployment = Deployment::ProtectedBranches;
    fx.emulator.set_github_repo(GithubRepo { environments: vec![release, open], ..GithubRepo::default() });
    for scope in [format!("{GITHUB_REPO}/actions"), format!("{GITHUB_REPO}/environments/release")] {
        let (sealed, key_id) = seal(&fx, &scope, "value");
        assert_eq!(put_secret(&fx, &scope, "PUBLISH_TOKEN", &sealed, &key_id).status, 201);
    }
    fx
}

fn github_answers(fx: &Fixture) -> Vec<Value> {
    let bearer = format!("Bearer {}", fx.emulator.github_token());
    let call = |method: &str, path: &str, body: Option<Value>, auth: Option<&str>| {
        let body = body.map(|it| it.to_string());
        let raw = send_as(fx, method, path, body.as_deref(), auth);
        json!({"method": method, "path": path, "status": raw.status, "body": raw.body})
    };
    let get = |path: &str| call("GET", &format!("{GITHUB_REPO}{path}"), None, Some(&bearer));
    let env = |path: &str| format!("{GITHUB_REPO}/environments/{path}");
    let policies = get("/environments/release/deployment-branch-policies");
    let policy_id =
        serde_json::from_str::<Value>(policies["body"].as_str().unwrap()).unwrap()["branch_policies"][0]["id"]
            .as_u64()
            .unwrap();
    let staging = json!({"wait_timer": 30, "prevent_self_review": true, "reviewers": [{"type": "User", "id": 1000},
        {"type": "Team", "id": 2000}], "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}});
    let mut out = vec![
        call("GET", "/user", None, Some(&bearer)),
        call("GET", "/users/second-reviewer", None, Some(&bearer)),
        call("GET", "/users/octo-org", None, Some(&bearer)),
        call("GET", "/users/nobody-here", None, Some(&bearer)),
        get(""),
        get("/environments"),
        get("/environments/release"),
        get("/environments/open"),
        get("/environments/missing"),
        call("PUT", &env("staging"), Some(staging), Some(&bearer)),
        call("PUT", &env("staging"), Some(json!({"wait_timer": 99999})), Some(&bearer)),
        policies,
        call(
            "POST",
            &env("staging/deployment-branch-policies"),
            Some(json!({"name": "v*", "type": "tag"})),
            Some(&bearer),
        ),
        get(&format!("/environments/release/deployment-branch-policies/{policy_id}")),
        get("/environments/open/deployment-branch-policies/1"),
        get("/actions/secrets/public-key"),
        get("/environments/release/secrets/public-key"),
        get("/actions/secrets"),
        get("/actions/secrets/PUBLISH_TOKEN"),
        get("/environments/release/secrets"),
        get("/environments/release/secrets/PUBLISH_TOKEN"),
        get("/actions/secrets/MISSING"),
        call("PUT", &format!("{GITHUB_REPO}/actions/secrets/BAD-NAME"), Some(json!({})), Some(&bearer)),
        get("/actions/oidc/customization/sub"),
        get("/rulesets"),
        get("/rulesets/42"),
        get("/rulesets/7"),
        call("GET", GITHUB_REPO, None, None),
        call("GET", GITHUB_REPO, None, Some("Bearer ghp_wrong")),
    ];
    // The token of a workflow (no user), and a permission taken away.
    let repo = fx.emulator.github_repo();
    fx.emulator.set_github_repo(GithubRepo { token_user: None, forbidden: vec![GithubEndpoint::Environments], ..repo });
    out.push(call("GET", "/user", None, Some(&bearer)));
    out.push(get("/environments"));
    out
}

#[test]
fn the_github_api_agrees_with_githubs_openapi_description() {
    let fx = github_fixture();
    let answers = github_answers(&fx);
    let file = github_openapi();
    let checked = check(json!({"openapi": {"file": file, "answers": answers}}));
    assert_eq!(checked["openapi"], answers.len(), "{checked}");
    // What no schema says: the token's user sees its own account (`private`), others
    // see the public view.
    let view = |i: usize| {
        serde_json::from_str::<Value>(answers[i]["body"].as_str().unwrap()).unwrap()["user_view_type"].clone()
    };
    assert_eq!((view(0), view(1)), (json!("private"), json!("public")));
}

/// What the release consumes from STS comes from moto through the emulator: the
/// web-identity exchange and GetCallerIdentity, held against botocore's STS model
/// like castack's own answers.
#[test]
fn moto_sts_answers_through_the_stack_agree_with_the_model() {
    let stack = castack::Stack::start(castack::StackConfig::new(stack_python())).expect("start the stack");
    let emulator = stack.emulator();
    let post = |body: &str, key: Option<&AwsKey>| {
        let content_type = ("Content-Type", "application/x-www-form-urlencoded");
        let head = match key {
            Some(key) => signed_head_with(
                emulator,
                ("POST", "/", body.as_bytes()),
                &[content_type],
                key,
                ("us-east-1", "sts", now()),
            ),
            None => format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\n", content_type.1),
        };
        raw_bytes(emulator, &format!("{head}Content-Length: {}\r\n", body.len()), body.as_bytes())
    };
    let exchange = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2F\
         ci-publisher&RoleSessionName=release-session&WebIdentityToken={}",
        emulator.mint_oidc_token(None)
    );
    let exchanged = post(&exchange, None);
    assert_eq!(exchanged.status, 200, "{exchanged:?}");
    let creds = |tag: &str| {
        let start = exchanged.body.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
        exchanged.body[start..].split('<').next().unwrap().to_owned()
    };
    let session = AwsKey::new(creds("AccessKeyId"), creds("SecretAccessKey")).with_session_token(creds("SessionToken"));
    let caller = post("Action=GetCallerIdentity&Version=2011-06-15", Some(&session));
    assert_eq!(caller.status, 200, "{caller:?}");
    let answers: Vec<Value> = [("AssumeRoleWithWebIdentity", &exchanged), ("GetCallerIdentity", &caller)]
        .into_iter()
        .map(|(operation, raw)| {
            let mut out = answer(raw);
            out["service"] = json!("sts");
            out["operation"] = json!(operation);
            out
        })
        .collect();
    let checked = check(json!({"botocore": answers, "accepted_errors": accepted_errors()}));
    assert_eq!(checked["botocore"], 2, "{checked}");
}
