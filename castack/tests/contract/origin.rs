//! Package origin controls and the external connection, as CodeArtifact keeps them
//! (AWS CodeArtifact User Guide, "Editing package origin controls",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html;
//! "Dependency substitution attacks",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/dependency-substitution-attacks.html):
//! each package's `publish` and `upstream` restrictions, set from how its first
//! version arrived or by PutPackageOriginConfiguration (which creates the package
//! when it does not exist); each version's origin; the repository's external
//! connection in DescribeRepository; ingestion from the connection (a second
//! pypiserver standing in for PyPI) when someone installs through the repository.

use std::process::Command;

use aws_sdk_codeartifact::types::{
    AllowPublish, AllowUpstream, PackageFormat, PackageOriginRestrictions, PackageVersionOriginType,
};
use castack::{Fault, OriginRestrictions, Restriction, Stack, StackConfig};
use serde_json::json;

use crate::{
    descriptions::{check, codeartifact_with_body},
    stack::make_wheel,
    support::*,
};

const PACKAGE_QUERY: &str = "domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=";

fn restrictions(publish: AllowPublish, upstream: AllowUpstream) -> PackageOriginRestrictions {
    PackageOriginRestrictions::builder().publish(publish).upstream(upstream).build().unwrap()
}

/// A signed PutPackageOriginConfiguration with `body` as it is, for what the SDK
/// cannot send.
fn put_raw(fx: &Fixture, package: &str, body: &str) -> Raw {
    let target = format!("/v1/package?{PACKAGE_QUERY}{package}");
    let head = signed_head(
        &fx.emulator,
        ("POST", &target, body.as_bytes()),
        &[("Content-Type", "application/json")],
        ("us-east-1", "codeartifact"),
    );
    raw_bytes(&fx.emulator, &format!("{head}Content-Length: {}\r\n", body.len()), body.as_bytes())
}

/// Real behaviour: PutPackageOriginConfiguration sets a package's restrictions and,
/// for a package the repository does not have, creates it ("the package will be
/// created … with the origin controls you specify", "Editing package origin
/// controls"), so DescribePackage then answers with them and ListPackageVersions
/// with no versions. Files put into the folder by hand count as published to the
/// repository: ALLOW/BLOCK, INTERNAL.
#[test]
fn put_package_origin_configuration_creates_the_package_and_describe_reports_it() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let describe = |package: &'static str| {
            client
                .describe_package()
                .domain("sandbox-domain")
                .repository("sandbox-repo")
                .format(PackageFormat::Pypi)
                .package(package)
                .send()
        };
        let err = describe("not-yet").await.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");

        let put = client
            .put_package_origin_configuration()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("not-yet")
            .restrictions(restrictions(AllowPublish::Allow, AllowUpstream::Block))
            .send()
            .await
            .unwrap();
        let answered = put.origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!((answered.publish(), answered.upstream()), (&AllowPublish::Allow, &AllowUpstream::Block));
        let described = describe("not-yet").await.unwrap();
        let package = described.package().unwrap();
        let set = package.origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!((set.publish(), set.upstream()), (&AllowPublish::Allow, &AllowUpstream::Block));
        assert_eq!(package.name(), Some("not-yet"));
        let listed = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("not-yet")
            .send()
            .await
            .unwrap();
        assert!(listed.versions().is_empty() && listed.default_display_version().is_none(), "{listed:?}");

        // A package with versions keeps them; its restrictions change.
        client
            .put_package_origin_configuration()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .restrictions(restrictions(AllowPublish::Block, AllowUpstream::Allow))
            .send()
            .await
            .unwrap();
        let described = describe("demo-pkg").await.unwrap();
        let set = described.package().unwrap().origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!((set.publish(), set.upstream()), (&AllowPublish::Block, &AllowUpstream::Allow));
        assert_eq!(fx.emulator.package_origin("Demo_Pkg"), Some(OriginRestrictions::INGESTED));

        // Files put by hand: published to the repository.
        let other = describe("other-thing").await.unwrap();
        let set = other.package().unwrap().origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!((set.publish(), set.upstream()), (&AllowPublish::Allow, &AllowUpstream::Block));
        let versions = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .send()
            .await
            .unwrap();
        for version in versions.versions() {
            let origin = version.origin().unwrap();
            assert_eq!(origin.origin_type(), Some(&PackageVersionOriginType::Internal));
            assert_eq!(origin.domain_entry_point().unwrap().repository_name(), Some("sandbox-repo"));
        }
    });
}

/// Real behaviour: both restrictions are required, each ALLOW or BLOCK (the model's
/// `PackageOriginRestrictions`), else ValidationException, and nothing is stored;
/// the IAM action is `codeartifact:PutPackageOriginConfiguration` on the package
/// ("Editing package origin controls").
#[test]
fn put_package_origin_configuration_is_validated_and_authorized() {
    let fx = fixture();
    // Validation, in CodeArtifact's words; nothing is stored.
    let missing = put_raw(&fx, "bad-input", "{}");
    assert_eq!((missing.status, missing.header("x-amzn-ErrorType")), (400, Some("ValidationException")));
    assert!(missing.body.contains("Value null at 'restrictions'"), "{}", missing.body);
    let half = put_raw(&fx, "bad-input", r#"{"restrictions": {"publish": "ALLOW"}}"#);
    assert!(half.status == 400 && half.body.contains("'restrictions.upstream'"), "{}", half.body);
    let wrong = put_raw(&fx, "bad-input", r#"{"restrictions": {"publish": "ALLOW", "upstream": "MAYBE"}}"#);
    assert!(wrong.status == 400 && wrong.body.contains("[ALLOW, BLOCK]"), "{}", wrong.body);
    let garbage = put_raw(&fx, "bad-input", "{not json");
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    assert_eq!(fx.emulator.package_origin("bad-input"), None);

    // Denied: the action on the package's ARN.
    let deny = Fault::Deny { action: "PutPackageOriginConfiguration".into(), principal: None };
    fx.emulator.inject(deny.times(1)).unwrap();
    let denied = put_raw(&fx, "denied", r#"{"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}}"#);
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(
        denied.body.contains("codeartifact:PutPackageOriginConfiguration on resource: arn:aws:codeartifact:us-east-1:111122223333:package/sandbox-domain/sandbox-repo/pypi//denied"),
        "{}",
        denied.body
    );
    assert_eq!(fx.emulator.package_origin("denied"), None);
    let log = fx.emulator.requests();
    assert!(log.iter().any(|it| it.operation == "PutPackageOriginConfiguration" && it.status == 403), "{log:?}");
}

/// The test lever: restrictions a test imposes hold for every package, until a
/// reset; the packages' own records stay.
#[test]
fn imposed_restrictions_win_until_a_reset() {
    let fx = fixture();
    rt().block_on(async {
        client(&fx.emulator)
            .await
            .put_package_origin_configuration()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("not-yet")
            .restrictions(restrictions(AllowPublish::Allow, AllowUpstream::Block))
            .send()
            .await
            .unwrap();
    });
    // What a test imposes on every package wins, until a reset; records stay.
    fx.emulator
        .set_origin_restrictions(OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Block });
    let control_view = control(&fx.emulator, "GET", "/origin-restrictions", None).json();
    assert_eq!(control_view["imposed"], json!({"publish": "BLOCK", "upstream": "BLOCK"}));
    assert_eq!(control_view["packages"]["not-yet"], json!({"publish": "ALLOW", "upstream": "BLOCK"}));
    let described = raw(&fx.emulator, "GET", &format!("/v1/package?{PACKAGE_QUERY}not-yet"), true).json();
    assert_eq!(described["package"]["originConfiguration"]["restrictions"]["publish"], "BLOCK");
    fx.emulator.reset();
    let described = raw(&fx.emulator, "GET", &format!("/v1/package?{PACKAGE_QUERY}not-yet"), true).json();
    assert_eq!(described["package"]["originConfiguration"]["restrictions"]["publish"], "ALLOW");
}

/// A stack with the stand-in for PyPI behind the external connection `public:pypi`.
fn start_with_public_pypi() -> Stack {
    let mut config = StackConfig::new(stack_python());
    config.public_pypi = true;
    config.publish_latency = std::time::Duration::ZERO;
    let stack = Stack::start(config).expect("start the stack with the stand-in for PyPI");
    stack.emulator().add_credentials(castack::AwsKey::new(ACCESS_KEY, SECRET));
    stack
}

/// `pip download --no-deps REQUIREMENT` through the repository's index: what an
/// install through the repository asks of it. The status and pip's output.
fn pip_download(stack: &Stack, requirement: &str, into: &std::path::Path) -> (bool, String) {
    let token = stack.emulator().issue_token(None).unwrap().value;
    let out = Command::new(stack_python())
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "-d"])
        .arg(into)
        .arg(requirement)
        .env("PIP_INDEX_URL", stack.index_url(&token))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The versions the repository's index page of `name` lists (PEP 691 JSON), and
/// its status.
fn index_page(stack: &Stack, token: &str, name: &str) -> (u16, Vec<String>) {
    let head = format!(
        "GET /pypi/sandbox-repo/simple/{name}/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\
         Accept: application/vnd.pypi.simple.v1+json\r\n",
        crate::control::base64_basic("aws", token)
    );
    let answer = raw_bytes(stack.emulator(), &head, b"");
    if answer.status != 200 {
        return (answer.status, Vec::new());
    }
    let page = answer.json();
    (200, page["versions"].as_array().unwrap().iter().map(|it| it.as_str().unwrap().to_owned()).collect())
}

/// The status of a download of `file` through the repository.
fn download(stack: &Stack, token: &str, file: &str) -> u16 {
    let head = format!(
        "GET /pypi/sandbox-repo/packages/{file} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n",
        crate::control::base64_basic("aws", token)
    );
    raw_bytes(stack.emulator(), &head, b"").status
}

/// What the control plane says after the ingestion: evil-pkg's version EXTERNAL
/// through `public:pypi` (and filtered as such), its restrictions BLOCK/ALLOW; ours
/// INTERNAL.
fn assert_origins_of_ingested_and_published(stack: &Stack) {
    rt().block_on(async {
        let client = client(stack.emulator()).await;
        let versions = |package: &'static str, origin: Option<PackageVersionOriginType>| {
            client
                .list_package_versions()
                .domain("sandbox-domain")
                .repository("sandbox-repo")
                .format(PackageFormat::Pypi)
                .package(package)
                .set_origin_type(origin)
                .send()
        };
        let evil = versions("evil-pkg", None).await.unwrap();
        let origin = evil.versions()[0].origin().unwrap();
        assert_eq!(origin.origin_type(), Some(&PackageVersionOriginType::External));
        assert_eq!(origin.domain_entry_point().unwrap().external_connection_name(), Some("public:pypi"));
        assert!(origin.domain_entry_point().unwrap().repository_name().is_none());
        assert!(versions("evil-pkg", Some(PackageVersionOriginType::Internal)).await.unwrap().versions().is_empty());
        let ours = versions("ours", Some(PackageVersionOriginType::Internal)).await.unwrap();
        let listed: Vec<&str> = ours.versions().iter().map(|it| it.version()).collect();
        assert_eq!(listed, ["1.0"]);
        let described = client
            .describe_package_version()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("evil-pkg")
            .package_version("9.0")
            .send()
            .await
            .unwrap();
        let origin = described.package_version().unwrap().origin().unwrap();
        assert_eq!(origin.origin_type(), Some(&PackageVersionOriginType::External));
        let described = client
            .describe_package()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("evil-pkg")
            .send()
            .await
            .unwrap();
        let set = described.package().unwrap().origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!((set.publish(), set.upstream()), (&AllowPublish::Block, &AllowUpstream::Allow));
    });
}

/// Real behaviours, with real pip through the repository and a second pypiserver as
/// PyPI: DescribeRepository lists the external connection (`public:pypi`,
/// `Available`); installing a name only PyPI has ingests it, and its first version
/// arriving that way sets publish BLOCK, upstream ALLOW, with the version's origin
/// EXTERNAL through `externalConnectionName` (so a later upload of the name is
/// refused in CodeArtifact's words); a name first published to the repository gets
/// publish ALLOW, upstream BLOCK, and PyPI's versions of it stay out of the index and
/// the repository; a name protected by PutPackageOriginConfiguration before anything
/// arrived is never ingested ("Dependency substitution attacks": block upstream
/// versions of your own packages before they can be ingested).
#[test]
fn the_external_connection_ingests_unless_the_origin_controls_block_it() {
    let stack = start_with_public_pypi();
    let public = stack.public_pypi_dir().expect("the stack has a stand-in for PyPI");
    let work = TempDir::new("origin");
    for (name, version) in [("evil-pkg", "9.0"), ("ours", "99.0"), ("protected", "1.0"), ("never-seen", "3.0")] {
        make_wheel(&public.join(format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"))), name, version);
    }
    let token = stack.emulator().issue_token(None).unwrap().value;
    let ours = work.path().join("ours-1.0-py3-none-any.whl");
    make_wheel(&ours, "ours", "1.0");
    let upload = |file: &std::path::Path, name: &str, version: &str| {
        let file_name = file.file_name().unwrap().to_str().unwrap().to_owned();
        twine_upload(stack.emulator().addr(), Some(&token), (&file_name, name, version), &std::fs::read(file).unwrap())
            .unwrap()
    };
    assert_eq!(upload(&ours, "ours", "1.0").status, 200);

    rt().block_on(async {
        let client = client(stack.emulator()).await;
        let repository =
            client.describe_repository().domain("sandbox-domain").repository("sandbox-repo").send().await.unwrap();
        let connections = repository.repository().unwrap().external_connections();
        assert_eq!(connections.len(), 1, "{connections:?}");
        assert_eq!(connections[0].external_connection_name(), Some("public:pypi"));
        assert_eq!(connections[0].package_format(), Some(&PackageFormat::Pypi));
        assert_eq!(connections[0].status().map(|it| it.as_str()), Some("Available"));

        let put = client
            .put_package_origin_configuration()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("protected")
            .restrictions(restrictions(AllowPublish::Allow, AllowUpstream::Block))
            .send()
            .await;
        put.unwrap();
    });

    // Only PyPI has it: installing it through the repository ingests it.
    let (ok, log) = pip_download(&stack, "evil-pkg==9.0", &work.path().join("got"));
    assert!(ok, "pip could not install a name only PyPI has through the repository:\n{log}");
    assert!(stack.package_dir().join("evil_pkg-9.0-py3-none-any.whl").is_file(), "not ingested");
    assert_eq!(stack.emulator().package_origin("evil-pkg"), Some(OriginRestrictions::INGESTED));
    // First published here: PyPI's higher version is neither offered nor ingested.
    let page = |name: &str| index_page(&stack, &token, name);
    let (status, versions) = page("ours");
    assert_eq!((status, versions), (200, vec!["1.0".to_owned()]), "PyPI's ours 99.0 is offered");
    assert_eq!(download(&stack, &token, "ours-99.0-py3-none-any.whl"), 404);
    assert!(!stack.package_dir().join("ours-99.0-py3-none-any.whl").exists());
    assert_eq!(stack.emulator().package_origin("ours"), Some(OriginRestrictions::PUBLISHED));
    // Protected before anything arrived: nothing comes in.
    assert_eq!(page("protected").0, 404, "a protected name is offered");
    assert_eq!(download(&stack, &token, "protected-1.0-py3-none-any.whl"), 404);
    assert!(!stack.package_dir().join("protected-1.0-py3-none-any.whl").exists());
    // Not protected, not yet ingested: offered.
    let (status, versions) = page("never-seen");
    assert_eq!((status, versions), (200, vec!["3.0".to_owned()]));

    assert_origins_of_ingested_and_published(&stack);

    // The answers about an ingested package, held against botocore's model.
    let key = castack::AwsKey::new(ACCESS_KEY, SECRET);
    let evil = format!("{PACKAGE_QUERY}evil-pkg");
    let call = |operation: &str, method: &str, target: String| {
        codeartifact_with_body(stack.emulator(), &key, (operation, method, &target), "")
    };
    let answers = vec![
        call("ListPackageVersions", "POST", format!("/v1/package/versions?{evil}")),
        call("DescribePackageVersion", "GET", format!("/v1/package/version?{evil}&version=9.0")),
        call("DescribePackage", "GET", format!("/v1/package?{evil}")),
        call("DescribeRepository", "GET", "/v1/repository?domain=sandbox-domain&repository=sandbox-repo".into()),
    ];
    assert_eq!(check(json!({ "botocore": answers }))["botocore"], 4);

    // The owner of the name now cannot publish it: CodeArtifact's refusal.
    let theirs = work.path().join("evil_pkg-9.1-py3-none-any.whl");
    make_wheel(&theirs, "evil-pkg", "9.1");
    let refused = upload(&theirs, "evil-pkg", "9.1");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("This package is configured to block new versions"), "{}", refused.body);
}
