//! What the real CodeArtifact PyPI endpoint does where a release depends on it, each
//! test stating the behaviour and its source: the index's format negotiation and
//! name normalization, the words of an origin-control refusal, throttling. The
//! emulator alone answers all of them (no pypiserver behind it: what it would
//! forward answers 502 here).

use castack::{Fault, OriginRestrictions, Restriction};

use crate::{control::base64_basic, support::*};

const PIP_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

fn get(fx: &Fixture, password: &str, path: &str, accept: Option<&str>) -> Raw {
    let mut head =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n", base64_basic("aws", password));
    if let Some(accept) = accept {
        head.push_str(&format!("Accept: {accept}\r\n"));
    }
    raw_bytes(&fx.emulator, &head, b"")
}

/// A fixture with a dotted distribution name next to the usual files.
fn dotted() -> Fixture {
    let fx = fixture();
    let packages = fx.dir.path().join("packages");
    std::fs::write(packages.join("backports.tarfile-1.2.0-py3-none-any.whl"), "dotted wheel").unwrap();
    std::fs::write(packages.join("backports_tarfile-1.2.0.tar.gz"), "underscored sdist").unwrap();
    fx
}

/// Real behaviour: CodeArtifact implements version 1.1 of the Simple Repository API
/// (PEP 503, PEP 691, PEP 700) on `/simple/<project>/`; `Accept` chooses JSON
/// (`application/vnd.pypi.simple.v1+json`, `…latest+json`) or HTML (`…v1+html`,
/// `…latest+html`, `text/html`, `*/*`, no header), and an `Accept` with none of them
/// is `406 Not Acceptable` (CodeArtifact User Guide, "Python compatibility", current
/// version: https://docs.aws.amazon.com/pt_br/codeartifact/latest/ug/python-compatibility.md;
/// PEP 691: https://peps.python.org/pep-0691/). pypiserver answers HTML to all of
/// them, so the emulator answers project pages itself.
#[test]
fn project_pages_negotiate_json_and_html() {
    let fx = dotted();
    let token = fx.emulator.issue_token(None).unwrap().value;
    let page = "/pypi/sandbox-repo/simple/demo-pkg/";

    // pip and uv put JSON first, so they read JSON.
    let answer = get(&fx, &token, page, Some(PIP_ACCEPT));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("Content-Type"), Some("application/vnd.pypi.simple.v1+json"));
    assert_eq!(answer.header("Vary"), Some("Accept"));
    let json = answer.json();
    assert_eq!(json["meta"]["api-version"], "1.1");
    assert_eq!(json["name"], "demo-pkg");
    assert_eq!(json["versions"], serde_json::json!(["1.0.0", "1.1.0"]));
    let files = json["files"].as_array().unwrap();
    let wheel = files.iter().find(|it| it["filename"] == WHEEL_100).unwrap();
    assert_eq!(wheel["hashes"]["sha256"], WHEEL_100_SHA256);
    assert_eq!(wheel["size"], 11);
    assert_eq!(wheel["url"], format!("/pypi/sandbox-repo/packages/{WHEEL_100}"));
    assert_eq!(files.len(), 3);
    let latest = get(&fx, &token, page, Some("application/vnd.pypi.simple.latest+json"));
    assert_eq!(latest.header("Content-Type"), Some("application/vnd.pypi.simple.v1+json"));

    // HTML for the HTML types, `*/*` and no header at all.
    for (accept, content_type) in [
        (None, "text/html"),
        (Some("text/html"), "text/html"),
        (Some("*/*"), "text/html"),
        (Some("application/vnd.pypi.simple.v1+html"), "application/vnd.pypi.simple.v1+html"),
        (Some("application/vnd.pypi.simple.latest+html"), "application/vnd.pypi.simple.v1+html"),
    ] {
        let answer = get(&fx, &token, page, accept);
        assert_eq!((answer.status, answer.header("Content-Type")), (200, Some(content_type)), "{accept:?}");
        let link = format!("href=\"/pypi/sandbox-repo/packages/{WHEEL_100}#sha256={WHEEL_100_SHA256}\"");
        assert!(answer.body.contains(&link), "{accept:?}: {}", answer.body);
        assert!(answer.body.contains(r#"<meta name="pypi:repository-version" content="1.1">"#));
    }

    // Nothing supported acceptable: 406.
    for accept in ["application/json", "application/vnd.pypi.simple.v1+json;q=0", "text/plain"] {
        assert_eq!(get(&fx, &token, page, Some(accept)).status, 406, "{accept}");
    }
    // Unknown projects are 404; without the token pypiserver decides (502 here).
    assert_eq!(get(&fx, &token, "/pypi/sandbox-repo/simple/nothing-here/", Some(PIP_ACCEPT)).status, 404);
    assert_eq!(get(&fx, "wrong", page, Some(PIP_ACCEPT)).status, 502);
}

/// Real behaviour: "CodeArtifact lowercases PyPI names and turns each run of `.`,
/// `-` and `_` into a single `-`"; the normalized name is the one to use
/// (https://docs.aws.amazon.com/codeartifact/latest/ug/python-name-normalization.html,
/// PEP 503: https://peps.python.org/pep-0503/#normalized-names), while asset names
/// keep their spelling. So `backports.tarfile` files, whether the file name says
/// `backports.tarfile` or `backports_tarfile`, are the project `backports-tarfile`,
/// and the page of a name that is not normalized redirects to the normalized one.
#[test]
fn dotted_names_are_normalized_in_the_index() {
    let fx = dotted();
    let token = fx.emulator.issue_token(None).unwrap().value;
    let answer = get(&fx, &token, "/pypi/sandbox-repo/simple/backports-tarfile/", Some(PIP_ACCEPT));
    assert_eq!(answer.status, 200, "{answer:?}");
    let json = answer.json();
    assert_eq!(json["name"], "backports-tarfile");
    let names: Vec<&str> =
        json["files"].as_array().unwrap().iter().map(|it| it["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["backports.tarfile-1.2.0-py3-none-any.whl", "backports_tarfile-1.2.0.tar.gz"]);
    assert_eq!(json["versions"], serde_json::json!(["1.2.0"]));
    for spelled in ["backports.tarfile", "Backports_Tarfile", "backports%2Etarfile"] {
        let answer = get(&fx, &token, &format!("/pypi/sandbox-repo/simple/{spelled}/"), None);
        assert_eq!(answer.status, 301, "{spelled}: {answer:?}");
        assert_eq!(answer.header("Location"), Some("/pypi/sandbox-repo/simple/backports-tarfile/"), "{spelled}");
    }
    // The control plane knows the package by its normalized name too.
    rt().block_on(async {
        let out = client(&fx.emulator)
            .await
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(aws_sdk_codeartifact::types::PackageFormat::Pypi)
            .package("backports-tarfile")
            .send()
            .await
            .unwrap();
        assert_eq!(out.versions().iter().map(|it| it.version()).collect::<Vec<_>>(), ["1.2.0"]);
    });
}

/// Real behaviour: when a package's origin controls block publishing (`publish:
/// BLOCK`, the default for a package whose first version came from an upstream,
/// https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html),
/// a twine upload fails with text containing `This package is configured to block
/// new versions` (cdklabs/publib matches on it:
/// https://github.com/cdklabs/publib/blob/main/src/codeartifact/staging/pip.ts).
/// The status is not documented; castack answers 403.
#[test]
fn origin_controls_refuse_in_codeartifacts_words() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    fx.emulator
        .set_origin_restrictions(OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Allow });
    let answer = twine_upload(
        fx.emulator.addr(),
        Some(&token),
        ("demo_pkg-2.0.0-py3-none-any.whl", "Demo_Pkg", "2.0.0"),
        b"new",
    )
    .unwrap();
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("This package is configured to block new versions"), "{}", answer.body);
    assert!(answer.body.contains("demo-pkg"), "{}", answer.body);
    assert!(!fx.dir.path().join("packages/demo_pkg-2.0.0-py3-none-any.whl").exists());
}

/// Real behaviour: the PyPI endpoint has request-rate quotas (per authorization
/// token among others: https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html)
/// and answers `429 Too Many Requests` past them, which clients retry (cdklabs/publib
/// retries on it: https://github.com/cdklabs/publib/blob/main/src/codeartifact/staging/pip.ts).
/// A `Throttle` fault on a PyPI operation answers 429 with an integer `Retry-After`
/// before anything else (authentication included), for as many requests as it
/// counts, and then the endpoint answers normally.
#[test]
fn the_pypi_endpoint_throttles_with_retry_after() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    fx.emulator.inject(Fault::Throttle { retry_after_seconds: 3 }.times(2).only("pypi-upload")).unwrap();
    fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(1).only("pypi-index")).unwrap();
    let upload = || twine_upload(fx.emulator.addr(), Some(&token), (WHEEL_100, "Demo_Pkg", "1.0.0"), b"wheel 1.0.0");
    for _ in 0..2 {
        let answer = upload().unwrap();
        assert_eq!((answer.status, answer.header("Retry-After")), (429, Some("3")), "{answer:?}");
        assert_eq!(answer.body.trim_end(), "Rate exceeded");
    }
    // Identical content: accepted once the throttling ends.
    assert_eq!(upload().unwrap().status, 200);
    let page = get(&fx, "not-even-the-token", "/pypi/sandbox-repo/simple/demo-pkg/", Some(PIP_ACCEPT));
    assert_eq!((page.status, page.header("Retry-After")), (429, Some("1")));
    assert_eq!(get(&fx, &token, "/pypi/sandbox-repo/simple/demo-pkg/", Some(PIP_ACCEPT)).status, 200);
    assert!(fx.emulator.faults().is_empty());
    let statuses: Vec<u16> = fx.emulator.requests().iter().map(|it| it.status).collect();
    assert_eq!(statuses, [429, 429, 200, 429, 200]);
}
