//! The release against an attacker: everything it prints and did not write (file
//! names from the artifact, manifest fields, server answers, a child's output) is
//! read through a model of the GitHub runner's command parsing, and no command but
//! the release's own may take effect, nor any secret show; tampered artifacts are
//! refused before anything can mint credentials; two tags of one version cannot mix
//! two builds.

use std::{fs, path::Path};

use castack::{Fault, Stack, UploadFailure};
use serde_json::Value;

use crate::support::{
    Creds, TempDir, assert_runner_safe, copy_dir, copy_repo, ensure_tag, git, published_files, release, release_env,
    stack_secrets, start_stack, text, tools_python, uploads,
};

/// A `--build-only` artifact of v1.0.0 and the environment of the publish job that
/// gets it (GitHub Actions, OIDC, `GITHUB_SHA` the commit built).
struct Artifact {
    _dir: TempDir,
    path: std::path::PathBuf,
    vars: Vec<(String, String)>,
}

fn build_artifact(stack: &Stack, repo: &Path) -> Artifact {
    ensure_tag(repo, "v1.0.0");
    let out = crate::support::xtask(repo, &["release", "v1.0.0", "--build-only"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = TempDir::new("hostile-artifact");
    copy_dir(&repo.join("target/dist"), dir.path());
    let head = git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let mut vars = release_env(stack, Creds::GithubOidc, "v1.0.0", &[]);
    vars.push(("GITHUB_SHA".to_owned(), head));
    let path = dir.path().join("1.0.0");
    Artifact { _dir: dir, path, vars }
}

fn publish_only(repo: &Path, artifact: &Artifact) -> (bool, String) {
    let out = release(repo, &["--publish-only", artifact.path.to_str().unwrap()], &artifact.vars);
    (out.status.success(), text(&out))
}

/// The run stopped before Authenticate: no request reached the stack (not even the
/// OIDC token endpoint), nothing was uploaded.
pub(crate) fn assert_refused_before_authenticate(stack: &Stack, name: &str, ok: bool, log: &str) {
    assert!(!ok, "`{name}` was published:\n{log}");
    assert!(!log.contains("] Authenticate"), "`{name}` got to Authenticate:\n{log}");
    assert!(stack.emulator().requests().is_empty(), "`{name}`: a request was sent: {:#?}", stack.emulator().requests());
    assert_runner_safe(name, log, &stack_secrets(stack));
}

fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut manifest);
    fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn hostile_artifact_names_are_refused_before_authenticate() {
    let stack = start_stack();
    let repo = copy_repo("hostile-names");
    let artifact = build_artifact(&stack, repo.path());
    let wheel = artifact.path.join("yamause-1.0.0-py3-none-any.whl");
    let hostile = [
        "yamause-1.0.0-py3-none-##[stop-commands]x.whl",
        "yamause-1.0.0-py3-none-any##[add-mask]x.whl",
        "yamause-1.0.0-py3-none-any::add-mask::x.whl",
        "yamause-1.0.0-py3-none-any.whl\n::stop-commands::x",
        "yamause-1.0.0-py3-none-\n  ::error::x.whl",
        "yamause-1.0.0-py3-none-`id`.whl",
        "yamause-1.0.0-py3-none-a|b.whl",
    ];
    for name in hostile {
        // The hostile file next to the real ones, and named in the manifest too.
        let path = artifact.path.join(name);
        fs::copy(&wheel, &path).unwrap();
        let (ok, log) = publish_only(repo.path(), &artifact);
        assert!(log.contains("is not a valid distribution file name"), "{name:?}:\n{log}");
        assert_refused_before_authenticate(&stack, name, ok, &log);
        // Renamed in place of the wheel, with the manifest to match.
        fs::rename(&path, &wheel).unwrap();
        let original = fs::read_to_string(artifact.path.join("manifest.json")).unwrap();
        edit_manifest(&artifact.path, |m| {
            for file in m["files"].as_array_mut().unwrap() {
                if file["file"] == "yamause-1.0.0-py3-none-any.whl" {
                    file["file"] = name.into();
                }
            }
        });
        fs::rename(&wheel, &path).unwrap();
        let (ok, log) = publish_only(repo.path(), &artifact);
        assert!(log.contains("is not a valid distribution file name"), "{name:?}:\n{log}");
        assert_refused_before_authenticate(&stack, name, ok, &log);
        fs::rename(&path, &wheel).unwrap();
        fs::write(artifact.path.join("manifest.json"), original).unwrap();
    }
    // The untouched artifact publishes: the refusals above were about the names.
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(ok, "{log}");
    assert_runner_safe("untouched artifact", &log, &stack_secrets(&stack));
}

/// Rewrites the wheel at `path` with `Version: 9.9.9` in its METADATA and a RECORD
/// that matches, as an attacker who controls the build job could.
fn rewrite_wheel_version(path: &Path) {
    let script = r#"
import base64, hashlib, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as zf:
    members = [(info, zf.read(info.filename)) for info in zf.infolist()]
out = []
record_name = None
for info, data in members:
    if info.filename.endswith(".dist-info/METADATA"):
        data = data.replace(b"Version: 1.0.0", b"Version: 9.9.9")
    if info.filename.endswith(".dist-info/RECORD"):
        record_name = info.filename
    out.append((info, data))
lines = []
for info, data in out:
    if info.filename == record_name:
        continue
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    lines.append(f"{info.filename},sha256={digest},{len(data)}")
lines.append(f"{record_name},,")
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
    for info, data in out:
        if info.filename == record_name:
            data = ("\n".join(lines) + "\n").encode()
        zf.writestr(info, data)
"#;
    let out = std::process::Command::new(tools_python("release")).args(["-c", script]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn size_and_sha256(path: &Path) -> (u64, String) {
    let data = fs::read(path).unwrap();
    (data.len() as u64, crate::support::sha256_hex(&data))
}

#[test]
fn tampered_artifacts_are_refused_before_authenticate() {
    let stack = start_stack();
    let repo = copy_repo("tampered");
    let artifact = build_artifact(&stack, repo.path());
    let dir = artifact.path.clone();
    let pristine = TempDir::new("pristine");
    copy_dir(&dir, pristine.path());
    let restore = || {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            fs::remove_file(&path).unwrap();
        }
        copy_dir(pristine.path(), &dir);
    };

    // A wheel named 1.0.0 whose METADATA says 9.9.9, RECORD and manifest to match:
    // twine would send 9.9.9 and the repository would file it there.
    let wheel = dir.join("yamause-1.0.0-py3-none-any.whl");
    rewrite_wheel_version(&wheel);
    let (size, sha) = size_and_sha256(&wheel);
    edit_manifest(&dir, |m| {
        for file in m["files"].as_array_mut().unwrap() {
            if file["file"] == "yamause-1.0.0-py3-none-any.whl" {
                file["size"] = size.into();
                file["sha256"] = sha.clone().into();
            }
        }
    });
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains(r#"METADATA": Version "9.9.9" is not the release 1.0.0"#), "{log}");
    assert_refused_before_authenticate(&stack, "METADATA 9.9.9", ok, &log);
    restore();

    // A symbolic link in place of the sdist (to a file with the right content).
    let sdist = dir.join("yamause-1.0.0.tar.gz");
    let elsewhere = pristine.path().join("yamause-1.0.0.tar.gz");
    fs::remove_file(&sdist).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sdist).unwrap();
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains("is a symbolic link"), "{log}");
    assert_refused_before_authenticate(&stack, "symlink", ok, &log);
    restore();

    // A subfolder.
    fs::create_dir(dir.join("extra")).unwrap();
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains("is not a regular file"), "{log}");
    assert_refused_before_authenticate(&stack, "subfolder", ok, &log);
    fs::remove_dir(dir.join("extra")).unwrap();

    // A manifest that names a path outside the folder.
    edit_manifest(&dir, |m| m["files"][0]["file"] = "../x".into());
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains("\"../x\" is not a valid distribution file name"), "{log}");
    assert_refused_before_authenticate(&stack, "manifest ../x", ok, &log);
    restore();

    // A manifest of another commit (an artifact of another run).
    edit_manifest(&dir, |m| m["commit"] = "f".repeat(40).into());
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains("was built from commit ffffffffff"), "{log}");
    assert!(log.contains("(GITHUB_SHA)"), "{log}");
    assert_refused_before_authenticate(&stack, "other commit", ok, &log);
    restore();

    // Hostile manifest fields are shown escaped and neutralized.
    edit_manifest(&dir, |m| m["version"] = "1.0.0\n::stop-commands::x ##[add-mask]y".into());
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(log.contains("is for version"), "{log}");
    assert_refused_before_authenticate(&stack, "hostile version field", ok, &log);
    restore();

    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(ok, "the restored artifact does not publish:\n{log}");
    assert_eq!(uploads(&stack).len(), 2);
}

#[test]
fn hostile_server_answers_cannot_unmask_secrets() {
    let stack = start_stack();
    let repo = copy_repo("hostile-server");
    // A 500 whose reason phrase says `##[stop-commands]…` and whose body carries
    // commands, then the token expires (a refresh follows): the release completes.
    let emulator = stack.emulator();
    emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::HostileAnswer }.times(1)).unwrap();
    emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::ExpireToken }.times(1)).unwrap();
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[]);
    let out = release(repo.path(), &["-v"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("# #[stop-commands]castack-stop"), "the hostile reason phrase was not shown:\n{log}");
    assert!(log.contains("refused the token (expired?)"), "{log}");
    assert!(stack.emulator().issued_tokens().len() >= 2, "no refreshed token");
    assert_runner_safe("hostile 500, then a refresh", &log, &stack_secrets(&stack));

    // A 2,000-character error body that echoes the token, as is and in its Basic
    // form, beyond where the old code cut it.
    emulator.reset();
    emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::EchoToken }.always()).unwrap();
    let vars = release_env(&stack, Creds::GithubOidc, "v1.1.0", &[]);
    let out = release(repo.path(), &["-v"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("refused the upload (400)"), "{log}");
    assert!(log.contains("You sent the token ***"), "{log}");
    let secrets = stack_secrets(&stack);
    for secret in &secrets {
        assert!(!log.lines().filter(|l| !l.starts_with("::add-mask::")).any(|l| l.contains(secret.as_str())));
    }
    assert_runner_safe("a body that echoes the token", &log, &secrets);
}

#[test]
fn a_failing_build_cannot_inject_commands() {
    let stack = start_stack();
    let repo = copy_repo("hostile-build");
    // A build hook that prints workflow commands and fails, as compromised build
    // code would.
    fs::write(
        repo.path().join("hatch_build.py"),
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\
         class CustomBuildHook(BuildHookInterface):\n    def initialize(self, version, build_data):\n        \
         print('   ::add-mask::x')\n        print('::error::injected by the build')\n        \
         print('##[set-output name=a]b')\n        print('x ##[stop-commands]build-stop')\n        \
         raise SystemExit('build hook failed')\n",
    )
    .unwrap();
    let mut pyproject = fs::read_to_string(repo.path().join("pyproject.toml")).unwrap();
    pyproject.push_str("\n[tool.hatch.build.hooks.custom]\n");
    fs::write(repo.path().join("pyproject.toml"), pyproject).unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "hostile build hook"]);
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[]);
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("build the sdist and the wheel"), "{log}");
    assert!(log.contains(": :error::injected by the build") && log.contains("# #[set-output"), "{log}");
    assert_runner_safe("a hostile build", &log, &stack_secrets(&stack));
    assert!(uploads(&stack).is_empty());
}

#[test]
fn two_tags_of_one_version_cannot_mix_two_builds() {
    let stack = start_stack();
    let repo = copy_repo("two-tags");
    // In CI a tag that is not the canonical spelling of its version is refused,
    // with the tag to push instead.
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0-rc.1", &[]);
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("whose canonical tag is v1.0.0rc1") && log.contains("Push v1.0.0rc1 instead"), "{log}");
    assert!(stack.emulator().requests().is_empty());

    // Locally it is a warning; the first build of 1.0.0rc1 is published…
    let local = release_env(&stack, Creds::Static, "", &[]);
    let out = release(repo.path(), &["v1.0.0rc1"], &local);
    assert!(out.status.success(), "{}", text(&out));
    let first = published_files(&stack);
    let first_hashes: Vec<(u64, String)> =
        first.iter().map(|name| size_and_sha256(&stack.package_dir().join(name))).collect();
    // …then another commit under the other tag of the same version is refused, file
    // by file, and the repository still holds the first build only.
    fs::write(repo.path().join("yamause/extra.py"), "X = 1\n").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "another commit"]);
    git(repo.path(), &["tag", "-f", "v1.0.0-rc.1"]);
    let out = release(repo.path(), &["v1.0.0-rc.1"], &local);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("whose canonical tag is v1.0.0rc1"), "{log}");
    assert!(log.contains("differs from the file already published"), "{log}");
    assert_eq!(published_files(&stack), first);
    let hashes: Vec<(u64, String)> =
        first.iter().map(|name| size_and_sha256(&stack.package_dir().join(name))).collect();
    assert_eq!(hashes, first_hashes, "a published file changed");

    // A file of the version that no build of this commit makes (another build's
    // wheel): a re-run of the first commit refuses to call the version complete.
    let wheel = first.iter().find(|it| it.ends_with(".whl")).unwrap();
    fs::copy(stack.package_dir().join(wheel), stack.package_dir().join("yamause-1.0.0rc1-1-py3-none-any.whl")).unwrap();
    git(repo.path(), &["checkout", "-q", "v1.0.0rc1"]);
    let out = release(repo.path(), &["v1.0.0rc1"], &local);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("that this build did not make: yamause-1.0.0rc1-1-py3-none-any.whl"), "{log}");
}

/// GetRepositoryEndpoint naming another host (another port of loopback, where a
/// listener counts connections; a look-alike of the CodeArtifact host): refused
/// before the token is attached, naming the host; no connection is made there and
/// nothing is uploaded.
#[test]
fn an_endpoint_on_another_host_gets_no_token() {
    let stack = start_stack();
    let repo = copy_repo("other-endpoint");
    let artifact = build_artifact(&stack, repo.path());
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let port = elsewhere.local_addr().unwrap().port();
    let config = stack.config();
    let (domain, owner, region, repository) = (&config.domain, &config.account, &config.region, &config.repository);
    let cases = [
        (format!("http://127.0.0.1:{port}/pypi/{repository}/"), format!("127.0.0.1:{port}")),
        (
            format!(
                "https://{domain}-{owner}.d.codeartifact.{region}.amazonaws.com.elsewhere.invalid/pypi/{repository}/"
            ),
            format!("{domain}-{owner}.d.codeartifact.{region}.amazonaws.com.elsewhere.invalid"),
        ),
        (format!("{}/pypi/other-repo/", stack.emulator().url()), "/pypi/other-repo/".to_owned()),
    ];
    for (url, named) in cases {
        stack.emulator().reset();
        stack.emulator().inject(Fault::Endpoint { url: url.clone() }.always()).unwrap();
        let (ok, log) = publish_only(repo.path(), &artifact);
        assert!(!ok, "{url}: published:\n{log}");
        assert!(log.contains(&named) && log.contains("GetRepositoryEndpoint"), "{url}: the host is not named:\n{log}");
        let pypi = stack.emulator().requests().into_iter().filter(|r| r.operation.to_string().starts_with("pypi"));
        assert_eq!(pypi.count(), 0, "{url}: a request reached the PyPI endpoint");
        assert!(elsewhere.accept().is_err(), "{url}: a connection was made to the other host");
        assert_runner_safe(&url, &log, &stack_secrets(&stack));
    }
    stack.emulator().reset();
    let (ok, log) = publish_only(repo.path(), &artifact);
    assert!(ok, "the stack's own endpoint does not publish:\n{log}");
}
