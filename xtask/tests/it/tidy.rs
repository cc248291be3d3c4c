//! Tidy checks of the repository itself, as tests: what CI runs matches what the
//! README promises, and every source file says what it is for.

use std::{fs, path::Path};

use crate::support::repo_root;

/// The test command the README gives for a fresh machine.
fn readme_test_command() -> String {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let marker = "# Run the whole test suite";
    let after = readme
        .split_once(marker)
        .expect("README.md names the test command after a `# Run the whole test suite` comment")
        .1;
    after.lines().nth(1).unwrap().trim().to_owned()
}

#[test]
fn ci_runs_the_readme_test_command() {
    let command = readme_test_command();
    assert!(command.starts_with("cargo "), "{command:?}");
    let ci = fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|line| line.trim() == command), ".ci/run does not run `{command}`");
    for lint in ["cargo fmt --all --check", "cargo clippy --locked --workspace --all-targets -- -D warnings"] {
        assert!(ci.lines().any(|line| line.trim() == lint), ".ci/run does not run `{lint}`");
    }
}

/// `cargo xtask` (and so every release and workflow) builds what Cargo.lock names
/// or stops; so does every cargo command CI runs.
#[test]
fn cargo_never_resolves_a_dependency_the_lock_does_not_name() {
    let config = fs::read_to_string(repo_root().join(".cargo/config.toml")).unwrap();
    let alias = config.lines().find(|it| it.starts_with("xtask =")).expect("an `xtask` alias in .cargo/config.toml");
    assert!(alias.contains("run --locked "), "{alias}");
    let ci = fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    for line in ci.lines().filter(|it| it.starts_with("cargo ") && !it.starts_with("cargo fmt")) {
        assert!(line.contains(" --locked "), ".ci/run: `{line}` may update Cargo.lock");
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut missing = Vec::new();
    for dir in ["xtask", "castack"] {
        visit(&repo_root().join(dir), &mut |path| {
            if path.extension().is_some_and(|it| it == "rs") {
                let text = fs::read_to_string(path).unwrap();
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        });
    }
    assert!(missing.is_empty(), "add a `//!` line saying what the file is for: {missing:#?}");
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|it| it != "target") {
                visit(&path, f);
            }
        } else {
            f(&path);
        }
    }
}

/// The release path compiles no IAM client, no setup crypto, no aws-lc C build and
/// no server code.
#[test]
fn the_release_path_has_no_heavy_or_server_crates() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .args(["tree", "--package", "xtask", "--edges", "normal", "--prefix", "none", "--format", "{p} {f}"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("aws-sdk-codeartifact") && tree.contains("rustls"), "unexpected tree:\n{tree}");
    // icu_*: the idna_adapter pin (see xtask/Cargo.toml) keeps ICU4X out.
    for banned in [
        "aws-sdk-iam ",
        "crypto_box ",
        "aws-sdk-sso ",
        "aws-lc-sys ",
        "aws-lc-rs ",
        "castack ",
        "tiny_http ",
        "openssl-sys ",
        "icu_properties ",
        "tokio-macros ",
    ] {
        assert!(!tree.lines().any(|l| l.starts_with(banned)), "{banned}is in the release path:\n{tree}");
    }
    let hyper_features =
        tree.lines().filter(|l| l.starts_with("hyper ") || l.starts_with("hyper-util ")).collect::<Vec<_>>();
    assert!(hyper_features.iter().all(|l| !l.contains("server")), "server features in {hyper_features:?}");
    let tokio = tree.lines().find(|l| l.starts_with("tokio ")).unwrap_or_default();
    assert!(!tokio.contains("rt-multi-thread") && !tokio.contains("full"), "tokio features: {tokio}");
}
