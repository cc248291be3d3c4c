//! Private build dependencies: a project whose build backend (`octo-build`, a thin
//! wrapper of hatchling) exists only in the CodeArtifact repository. `cargo xtask
//! lock` resolves it from the repository's index with the token in uv's environment
//! only; on a laptop the release installs the lock from the repository (the token
//! only in the installer's environment, never the backend's); in CI a job with
//! read access fetches the lock's wheels (`--fetch-build-deps`) and a token-less
//! build installs them offline (`--build-deps`), refusing a replaced wheel before
//! anything is installed. (The same through `release.yml` itself: `workflow_run.rs`.)

use std::{fs, path::Path, process::Command};

use castack::Stack;

use crate::support::{
    Creds, TempDir, build_project, copy_repo, git, pip_python, release, release_env, repo_root, run_xtask,
    stack_secrets, start_stack, text,
};

/// The private backend: hatchling's hooks under another name, so that a build of
/// the fixture fails without it.
const BACKEND: &str = "\"\"\"A build backend only the private repository has.\"\"\"\n\
    from hatchling.build import build_sdist, build_wheel, get_requires_for_build_sdist, get_requires_for_build_wheel\n";

/// Puts `octo-build` 1.0.0 (built here) and the wheels of this repository's own
/// lock (hatchling and what it needs, for this Python) into the stack's repository,
/// as an upstream of PyPI would have them.
pub fn seed_private_repository(stack: &Stack) {
    let dir = TempDir::new("octo-build");
    let project = dir.path().join("octo-build");
    fs::create_dir_all(project.join("octo_build")).unwrap();
    fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\n\
         name = \"octo-build\"\nversion = \"1.0.0\"\ndescription = \"A private build backend\"\n\
         requires-python = \">=3.9\"\n\
         dependencies = [\"hatchling>=1.26\"]\n",
    )
    .unwrap();
    fs::write(project.join("octo_build/__init__.py"), BACKEND).unwrap();
    let out = build_project(&project, &dir.path().join("dist"), "1700000000");
    assert!(out.status.success(), "building octo-build failed:\n{}", text(&out));
    let wheel = dir.path().join("dist/octo_build-1.0.0-py3-none-any.whl");
    fs::copy(&wheel, stack.package_dir().join("octo_build-1.0.0-py3-none-any.whl")).unwrap();
    let out = Command::new(pip_python())
        .args(["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes"])
        .args(["--disable-pip-version-check", "-d"])
        .arg(stack.package_dir())
        .arg("-r")
        .arg(repo_root().join("build-requirements.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "downloading hatchling failed (PyPI access?):\n{}", text(&out));
}

/// A copy of this repository whose project builds with `octo-build`, with
/// private-dependencies on in pyproject.toml (the build job has no settings).
pub fn private_fixture(label: &str) -> TempDir {
    let repo = copy_repo(label);
    let root = repo.path();
    for gone in ["yamause", "build-requirements.txt"] {
        let path = root.join(gone);
        if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) }.unwrap();
    }
    // Python 3.11 and newer: the repository holds the wheels for this Python only.
    fs::write(
        root.join("pyproject.toml"),
        "[build-system]\nrequires = [\"octo-build>=1.0\"]\nbuild-backend = \"octo_build\"\n\n[project]\n\
         name = \"fixture-private\"\nversion = \"0.1.0\"\ndescription = \"Built with a private backend\"\n\
         readme = \"README.md\"\nrequires-python = \">=3.11\"\n\n[tool.xtask.publish]\nprivate-dependencies = true\n",
    )
    .unwrap();
    fs::write(root.join("README.md"), "# fixture-private\n\nBuilt with a backend from the private repository.\n")
        .unwrap();
    fs::create_dir_all(root.join("fixture_private")).unwrap();
    fs::write(root.join("fixture_private/__init__.py"), "\"\"\"A fixture.\"\"\"\n").unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "a project with a private build backend"]);
    repo
}

/// `cargo xtask lock` against the stack, committed; returns the lock.
pub fn lock_from_stack(stack: &Stack, repo: &Path) -> String {
    let vars = release_env(stack, Creds::Static, "", &[]);
    let out = run_xtask(repo, &["lock"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("from the CodeArtifact repository"), "{log}");
    let lock = fs::read_to_string(repo.join("build-requirements.txt")).unwrap();
    assert!(lock.contains("\nocto-build==1.0.0"), "{lock}");
    assert!(lock.contains("\nhatchling=="), "{lock}");
    for secret in stack_secrets(stack) {
        assert!(!lock.contains(&secret) && !log.contains(&secret), "a secret reached the lock or the output");
    }
    // The resolver read the repository's index with the token.
    let reads = stack.emulator().requests().into_iter().filter(|r| r.operation == "pypi-index").collect::<Vec<_>>();
    assert!(!reads.is_empty() && reads.iter().all(|r| r.user.as_deref() == Some("aws")), "{reads:?}");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "lock the build requirements"]);
    lock
}

#[test]
fn a_laptop_release_installs_private_build_requirements_with_the_token() {
    let stack = start_stack();
    seed_private_repository(&stack);
    let repo = private_fixture("private-laptop");
    lock_from_stack(&stack, repo.path());

    let record = TempDir::new("private-children");
    let children = record.path().join("children.jsonl");
    let recorded = [("XTASK_RECORD_CHILDREN", children.to_str().unwrap())];
    let vars = release_env(&stack, Creds::Static, "", &recorded);
    // Without ReadFromRepository the installer is refused by the repository, and the
    // message names the permission.
    let deny_read = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["codeartifact:*", "sts:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "codeartifact:ReadFromRepository", "Resource": "*"},
    ]});
    stack.emulator().set_identity_policy(Some(&deny_read)).unwrap();
    let out = release(repo.path(), &["v2.0.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("install build-requirements.txt into a fresh build environment from the repository's index"));
    assert!(log.contains("codeartifact:ReadFromRepository"), "{log}");
    stack.emulator().reset();

    let out = release(repo.path(), &["v2.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    // Authenticate came first, then the build from the repository.
    let auth = log.find("[4/9] Authenticate: done").expect("authentication before the build");
    assert!(auth < log.find("[6/9] Build: done").unwrap(), "{log}");
    assert!(log.contains("build backend octo_build"), "{log}");
    let downloads = stack.emulator().requests().into_iter().filter(|r| r.operation == "pypi-download");
    let octo: Vec<_> = downloads.filter(|r| r.path.contains("octo_build")).collect();
    assert!(!octo.is_empty() && octo.iter().all(|r| r.user.as_deref() == Some("aws")), "{octo:?}");
    // Only the installer got the index with the token; the backend that ran build
    // code got neither it nor the network settings.
    let recorded = fs::read_to_string(&children).unwrap();
    let env_of = |needle: &str| -> Vec<String> {
        let line = recorded.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle}: {recorded}"));
        let child: serde_json::Value = serde_json::from_str(line).unwrap();
        child["env"].as_array().unwrap().iter().map(|it| it.as_str().unwrap().to_owned()).collect()
    };
    assert!(env_of("build-requirements.txt").contains(&"PIP_INDEX_URL".to_owned()));
    let backend = env_of("build_dists.py");
    let leaks = |it: &String| {
        it.starts_with("PIP_") || it.starts_with("UV_") || it.ends_with("_PROXY") || it.starts_with("AWS_")
    };
    assert!(!backend.iter().any(leaks), "{backend:?}");
}

#[test]
fn ci_fetches_the_wheels_and_builds_without_a_token() {
    let stack = start_stack();
    seed_private_repository(&stack);
    let repo = private_fixture("private-ci");
    lock_from_stack(&stack, repo.path());
    let deps = TempDir::new("build-deps");
    let folder = deps.path().join("wheels");

    // The build-deps job: the wheels of the lock, nothing built.
    let vars = release_env(&stack, Creds::GithubOidc, "v2.0.0", &[]);
    let out = run_xtask(repo.path(), &["release", "--fetch-build-deps", folder.to_str().unwrap()], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("[3/3] Fetch build requirements: done"), "{log}");
    assert!(folder.join("octo_build-1.0.0-py3-none-any.whl").is_file(), "{log}");
    assert!(!repo.path().join("target/dist").exists(), "the fetch built something");

    // The build job: no AWS settings, no OIDC variables, no network settings needed.
    let ci = [("GITHUB_ACTIONS", "true"), ("CI", "true"), ("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v2.0.0")];
    let ci: Vec<(String, String)> = ci.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    crate::support::ensure_tag(repo.path(), "v2.0.0");
    let out = run_xtask(repo.path(), &["release", "--build-only"], &ci);
    let log = text(&out);
    assert!(!out.status.success() && log.contains("pass --build-deps DIR"), "{log}");
    let build_only = ["release", "--build-only", "--build-deps", folder.to_str().unwrap()];
    let out = run_xtask(repo.path(), &build_only, &ci);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("build backend octo_build"), "{log}");

    // A wheel replaced in the artifact: refused by name before anything is installed.
    let wheel = fs::read_dir(&folder)
        .unwrap()
        .map(|it| it.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("hatchling"));
    let wheel = wheel.expect("hatchling was fetched");
    let mut bytes = fs::read(&wheel).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs::write(&wheel, bytes).unwrap();
    let out = run_xtask(repo.path(), &build_only, &ci);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        log.contains(&format!("{name} in ")) && log.contains("which build-requirements.txt does not name"),
        "{log}"
    );
    assert!(!log.contains("install --"), "an installer ran: {log}");
}
