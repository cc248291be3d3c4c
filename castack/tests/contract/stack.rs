//! Behaviours of the real CodeArtifact that only show with what the emulator fronts:
//! uploads stored by real pypiserver (filed by the upload form, published with a
//! latency), the index read by real pip, callers minted by real moto. Each test
//! starts a `castack::Stack` with the stack tools' Python (`support::stack_python`).

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use aws_sdk_codeartifact::{config::Credentials, types::PackageFormat};
use castack::{Fault, Stack, StackConfig};

use crate::support::*;

/// A stack whose emulator also accepts the contract tests' key (`support::client`).
fn start(latency: Duration) -> Stack {
    let mut config = StackConfig::new(stack_python());
    config.publish_latency = latency;
    let stack = Stack::start(config).expect("start the stack (pypiserver, moto_server, emulator)");
    stack.emulator().add_credentials(castack::AwsKey::new(ACCESS_KEY, SECRET));
    stack
}

fn token(stack: &Stack) -> String {
    stack.emulator().issue_token(None).unwrap().value
}

/// A GET on the PyPI endpoint with the token, and `accept` when given.
fn get(stack: &Stack, token: &str, path: &str, accept: Option<&str>) -> Raw {
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n",
        stack.emulator().addr(),
        crate::control::base64_basic("aws", token)
    );
    if let Some(accept) = accept {
        head.push_str(&format!("Accept: {accept}\r\n"));
    }
    raw_bytes(stack.emulator(), &head, b"")
}

/// Real behaviour: an upload is filed under the `name` and `version` fields of the
/// upload form, which twine reads from the archive's METADATA
/// (https://github.com/pypa/twine/blob/main/twine/package.py, `metadata_dictionary`),
/// not under the version in the file name. The upload API takes "`metadata_version`,
/// `name` and `version` set according to the Core metadata specifications"
/// (https://github.com/pypi/warehouse/blob/main/docs/dev/api-reference/legacy.rst);
/// CodeArtifact is assumed to file by them as PyPI does (AWS does not document it). So a
/// wheel called 0.9.1 whose METADATA says 9.9.9 is version 9.9.9, and 0.9.1 does not
/// exist.
#[test]
fn uploads_are_filed_by_the_version_of_their_form() {
    let stack = start(Duration::ZERO);
    let token = token(&stack);
    let file = "demo_pkg-0.9.1-py3-none-any.whl";
    let answer = twine_upload(stack.emulator().addr(), Some(&token), (file, "Demo_Pkg", "9.9.9"), b"wheel").unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(stack.package_dir().join(file).is_file(), "pypiserver stored it under its file name");
    rt().block_on(async {
        let client = client(stack.emulator()).await;
        let version = |v: &str| {
            client
                .describe_package_version()
                .domain("sandbox-domain")
                .repository("sandbox-repo")
                .format(PackageFormat::Pypi)
                .package("demo-pkg")
                .package_version(v)
                .send()
        };
        let filed = version("9.9.9").await.unwrap();
        let filed = filed.package_version().unwrap();
        assert_eq!((filed.version(), filed.display_name()), (Some("9.9.9"), Some("Demo_Pkg")));
        let err = version("0.9.1").await.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let listed = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .send()
            .await
            .unwrap();
        let versions: Vec<&str> = listed.versions().iter().map(|it| it.version()).collect();
        assert_eq!(versions, ["9.9.9"]);
        let assets = client
            .list_package_version_assets()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("9.9.9")
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = assets.assets().iter().map(|it| it.name()).collect();
        assert_eq!(names, [file], "asset names keep the file name");
    });
}

/// Real behaviour: "Package versions published to a CodeArtifact repository are
/// often available for download in less than one second … However, publishing can
/// be inconsistent and can sometimes take longer … use retries … repeat the
/// download up to three times"
/// (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-latency).
/// A listing, the index and the download lag the upload by the stack's latency (or
/// by a `Lag` fault's delay, for the "longer" case), then show it.
#[test]
fn listings_the_index_and_downloads_lag_an_upload() {
    let stack = start(Duration::from_millis(1_500));
    assert_eq!(stack.emulator().publish_latency(), Duration::from_millis(1_500));
    assert_eq!(control(stack.emulator(), "GET", "/latency", None).json()["publishLatencyMs"], 1_500);
    let token = token(&stack);
    let file = "lagging-1.0.0.tar.gz";
    let uploaded = Instant::now();
    let answer = twine_upload(stack.emulator().addr(), Some(&token), (file, "lagging", "1.0.0"), b"sdist").unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let visible = |stack: &Stack| -> [bool; 3] {
        let listed = rt().block_on(async {
            client(stack.emulator())
                .await
                .list_package_version_assets()
                .domain("sandbox-domain")
                .repository("sandbox-repo")
                .format(PackageFormat::Pypi)
                .package("lagging")
                .package_version("1.0.0")
                .send()
                .await
                .is_ok()
        });
        let page = get(stack, &token, "/pypi/sandbox-repo/simple/lagging/", None).status == 200;
        let download = get(stack, &token, &format!("/pypi/sandbox-repo/packages/{file}"), None).status == 200;
        [listed, page, download]
    };
    assert_eq!(visible(&stack), [false; 3], "visible right after the upload");
    while uploaded.elapsed() < Duration::from_millis(1_600) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(visible(&stack), [true; 3], "still hidden after the latency");

    // "Can sometimes take longer": a Lag fault holds one upload back beyond it.
    stack.emulator().set_publish_latency(Duration::ZERO).unwrap();
    stack.emulator().inject(Fault::Lag { delay_ms: 1_000 }.times(1)).unwrap();
    let slow = "lagging-1.1.0.tar.gz";
    let uploaded = Instant::now();
    assert_eq!(
        twine_upload(stack.emulator().addr(), Some(&token), (slow, "lagging", "1.1.0"), b"slow").unwrap().status,
        200
    );
    let shown = |stack: &Stack| get(stack, &token, &format!("/pypi/sandbox-repo/packages/{slow}"), None).status;
    assert_eq!(shown(&stack), 404);
    while uploaded.elapsed() < Duration::from_millis(1_100) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(shown(&stack), 200);
    assert!(stack.emulator().faults().is_empty());
    // Reset brings the configured latency back.
    stack.emulator().reset();
    assert_eq!(stack.emulator().publish_latency(), Duration::from_millis(1_500));
}

/// Writes a minimal, valid wheel of `name` `version` (what pip needs to read its
/// METADATA) with the stack's Python.
pub(crate) fn make_wheel(path: &Path, name: &str, version: &str) {
    let script = r#"
import base64, hashlib, sys, zipfile
path, name, version = sys.argv[1:4]
info = f"{name}-{version}.dist-info"
files = {
    "backports/tarfile/__init__.py": b"",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: castack-contract\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{n},{digest(d)},{len(d)}\n" for n, d in files.items()) + f"{info}/RECORD,,\n"
with zipfile.ZipFile(path, "w") as z:
    for n, d in files.items():
        z.writestr(n, d)
    z.writestr(f"{info}/RECORD", record)
"#;
    let out = Command::new(stack_python()).args(["-c", script]).arg(path).args([name, version]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Real behaviours: CodeArtifact normalizes PyPI names ("lowercase, runs of `.`,
/// `-`, `_` become one `-`", https://docs.aws.amazon.com/codeartifact/latest/ug/python-name-normalization.html)
/// and serves `/simple/<project>/` as JSON to clients that ask for it (PEP 691;
/// https://docs.aws.amazon.com/pt_br/codeartifact/latest/ug/python-compatibility.md).
/// Real pip (which puts JSON first in its `Accept`) finds a dotted distribution,
/// `backports.tarfile`, through the stack, reading the JSON page: the case in which
/// pip once said "from versions: none".
#[test]
fn pip_reads_the_json_index_and_finds_dotted_names() {
    let stack = start(Duration::ZERO);
    let token = token(&stack);
    let dir = TempDir::new("dotted");
    let wheel = "backports.tarfile-1.2.0-py3-none-any.whl";
    make_wheel(&dir.path().join(wheel), "backports.tarfile", "1.2.0");
    let content = std::fs::read(dir.path().join(wheel)).unwrap();
    let answer =
        twine_upload(stack.emulator().addr(), Some(&token), (wheel, "backports.tarfile", "1.2.0"), &content).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let out = Command::new(stack_python())
        .args(["-m", "pip", "download", "-vvv", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "-d"])
        .arg(dir.path().join("got"))
        .arg("backports.tarfile==1.2.0")
        .env("PIP_INDEX_URL", stack.index_url(&token))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pip download failed:\n{log}");
    assert_eq!(std::fs::read(dir.path().join("got").join(wheel)).unwrap(), content);
    assert!(log.contains("as application/vnd.pypi.simple.v1+json"), "pip did not read JSON:\n{log}");
    let pages: Vec<String> =
        stack.emulator().requests().into_iter().filter(|r| r.operation == "pypi-index").map(|r| r.path).collect();
    assert_eq!(pages, ["/pypi/sandbox-repo/simple/backports-tarfile/"]);
}

/// Real behaviour: "By default, only the AWS account that owns the domain can create
/// and access repositories in the domain. You can apply a policy document to a
/// domain to allow other IAM principals to access it"
/// (https://docs.aws.amazon.com/codeartifact/latest/ug/domain-policies.html): a
/// caller from another account is the exception that needs resource policies.
/// The stack's clients are a session of the release role in the domain owner's
/// account, as a newcomer's own setup is; the throwaway static keys stay the
/// cross-account caller (moto's default account).
#[test]
fn the_stacks_caller_is_the_domain_owners_role() {
    let stack = start(Duration::ZERO);
    let value = |vars: &[(String, String)], name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    rt().block_on(async {
        let owner = stack.credentials_env();
        let credentials = Credentials::new(
            value(&owner, "AWS_ACCESS_KEY_ID").unwrap(),
            value(&owner, "AWS_SECRET_ACCESS_KEY").unwrap(),
            value(&owner, "AWS_SESSION_TOKEN"),
            None,
            "owner",
        );
        let who = sts_client(stack.emulator(), credentials).await.get_caller_identity().send().await.unwrap();
        assert_eq!(who.account(), Some("111122223333"));
        assert_eq!(who.arn(), Some("arn:aws:sts::111122223333:assumed-role/ci-publisher/castack"));
        assert_eq!(who.arn(), Some(stack.caller_arn()));

        let cross = stack.cross_account_credentials_env();
        assert_eq!(value(&cross, "AWS_ACCESS_KEY_ID").as_deref(), Some(castack::ACCESS_KEY_ID));
        let credentials = Credentials::new(castack::ACCESS_KEY_ID, castack::SECRET_ACCESS_KEY, None, None, "static");
        let who = sts_client(stack.emulator(), credentials).await.get_caller_identity().send().await.unwrap();
        assert_eq!(who.account(), Some("123456789012"));
    });
    // The session's secrets count as issued, for the leak tests.
    let issued = stack.issued_sts_secrets();
    assert!(issued.contains(&value(&stack.credentials_env(), "AWS_SESSION_TOKEN").unwrap()));
}
