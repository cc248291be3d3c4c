//! Any PEP 517 project: small fixture projects (not yamause, which stays on
//! hatchling) for hatchling, setuptools, flit-core, pdm-backend and poetry-core,
//! each with its version where its backend reads it, go through `cargo xtask lock`
//! (real uv against PyPI), a tag release to the local stack with a version other
//! than the file's, Confirm, a re-run that finds every file already published (so
//! the rebuild was byte-identical), and `pip install` from the stack, imported from
//! outside the checkout. Adding a build requirement without locking again is
//! refused in Preflight with the command that fixes it.

use std::{fs, path::Path, process::Command};

use castack::Stack;

use crate::support::{Creds, TempDir, copy_repo, git, release, release_env, run_xtask, start_stack, text};

/// One fixture project: its name, `[build-system]`, the rest of its pyproject.toml
/// and its files (the version 0.1.0 wherever it lives).
struct Fixture {
    name: &'static str,
    module: &'static str,
    build_system: &'static str,
    pyproject: &'static str,
    files: &'static [(&'static str, &'static str)],
}

const INIT: &str = "\"\"\"A fixture of the release tests.\"\"\"\n__version__ = \"0.1.0\"\n";
const PLAIN_INIT: &str = "\"\"\"A fixture of the release tests.\"\"\"\n";

const FIXTURES: [Fixture; 5] = [
    Fixture {
        name: "fixture-hatch",
        module: "fixture_hatch",
        build_system: "requires = [\"hatchling>=1.26\"]\nbuild-backend = \"hatchling.build\"\n",
        pyproject: "dynamic = [\"version\"]\n\n[tool.hatch.version]\npath = \"src/fixture_hatch/__about__.py\"\n\n\
                    [tool.hatch.build.targets.wheel]\npackages = [\"src/fixture_hatch\"]\n",
        files: &[
            ("src/fixture_hatch/__init__.py", "from .__about__ import __version__\n"),
            ("src/fixture_hatch/__about__.py", "__version__ = \"0.1.0\"\n"),
        ],
    },
    Fixture {
        name: "fixture-setuptools",
        module: "fixture_setuptools",
        build_system: "requires = [\"setuptools>=77\"]\nbuild-backend = \"setuptools.build_meta\"\n",
        pyproject: "dynamic = [\"version\"]\n\n[tool.setuptools]\npackage-dir = {\"\" = \"src\"}\n\
                    packages = [\"fixture_setuptools\"]\n\n[tool.setuptools.dynamic]\n\
                    version = {attr = \"fixture_setuptools.__version__\"}\n",
        files: &[("src/fixture_setuptools/__init__.py", INIT)],
    },
    Fixture {
        name: "fixture-flit",
        module: "fixture_flit",
        build_system: "requires = [\"flit_core>=3.4,<5\"]\nbuild-backend = \"flit_core.buildapi\"\n",
        pyproject: "dynamic = [\"version\"]\n",
        files: &[("fixture_flit/__init__.py", INIT)],
    },
    Fixture {
        name: "fixture-pdm",
        module: "fixture_pdm",
        build_system: "requires = [\"pdm-backend>=2.3\"]\nbuild-backend = \"pdm.backend\"\n",
        pyproject: "dynamic = [\"version\"]\n\n[tool.pdm.version]\nsource = \"file\"\n\
                    path = \"src/fixture_pdm/__init__.py\"\n",
        files: &[("src/fixture_pdm/__init__.py", INIT)],
    },
    Fixture {
        name: "fixture-poetry",
        module: "fixture_poetry",
        build_system: "requires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
        pyproject: "version = \"0.1.0\"\n\n[tool.poetry]\npackages = [{include = \"fixture_poetry\", from = \"src\"}]\n",
        files: &[("src/fixture_poetry/__init__.py", PLAIN_INIT)],
    },
];

/// A copy of this repository (for its xtask) whose Python project is `fixture`.
fn fixture_repo(fixture: &Fixture) -> TempDir {
    let repo = copy_repo(fixture.name);
    let root = repo.path();
    for gone in ["yamause", "build-requirements.txt", "pyproject.toml"] {
        let path = root.join(gone);
        if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) }.unwrap();
    }
    let pyproject = format!(
        "[build-system]\n{}\n[project]\nname = \"{}\"\ndescription = \"A fixture of the release tests\"\n\
         readme = \"README.md\"\nrequires-python = \">=3.9\"\n{}",
        fixture.build_system, fixture.name, fixture.pyproject
    );
    fs::write(root.join("pyproject.toml"), pyproject).unwrap();
    fs::write(root.join("README.md"), format!("# {}\n\nA fixture of the release tests.\n", fixture.name)).unwrap();
    for (path, text) in fixture.files {
        fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        fs::write(root.join(path), text).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", &format!("the {} fixture", fixture.name)]);
    repo
}

/// `cargo xtask lock`, committed.
fn lock(repo: &Path, vars: &[(String, String)]) -> String {
    let out = run_xtask(repo, &["lock"], vars);
    assert!(out.status.success(), "cargo xtask lock failed (it needs PyPI):\n{}", text(&out));
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "lock the build requirements"]);
    fs::read_to_string(repo.join("build-requirements.txt")).unwrap()
}

/// Installs `name==version` from the stack into a fresh environment and imports
/// `module` there, outside any checkout: (metadata version, module file).
pub fn install(stack: &Stack, name: &str, version: &str, module: &str) -> (String, String) {
    let venv = TempDir::new("backend-install");
    let out = Command::new("python3").args(["-m", "venv"]).arg(venv.path().join("v")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let python = venv.path().join("v/bin/python");
    let token = stack.emulator().issue_token(Some(900)).unwrap();
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", &format!("{name}=={version}")])
        .env("PIP_INDEX_URL", stack.index_url(&token.value))
        .output()
        .unwrap();
    assert!(out.status.success(), "pip install {name}=={version} failed:\n{}", text(&out));
    let check = format!(
        "import importlib, importlib.metadata as m; print(m.version({name:?})); print(importlib.import_module({module:?}).__file__)"
    );
    let out = Command::new(&python).args(["-I", "-c", &check]).current_dir(venv.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    (lines.next().unwrap().to_owned(), lines.next().unwrap().to_owned())
}

/// Lock, release v2.0.0 (the file says 0.1.0), re-run (every file already
/// published: the rebuild was byte-identical), install.
fn release_with(fixture: &Fixture) {
    let stack = start_stack();
    let repo = fixture_repo(fixture);
    let vars = release_env(&stack, Creds::Static, "v2.0.0", &[]);
    let locked = lock(repo.path(), &vars);
    let backend = fixture.build_system.split('"').nth(1).unwrap().split(['>', '<', '=']).next().unwrap();
    assert!(locked.contains("# requires = [") && locked.contains("--hash=sha256:"), "{locked}");
    assert!(locked.contains(&format!("\n{}==", backend.replace('_', "-"))), "{backend} is not pinned:\n{locked}");

    let out = release(repo.path(), &["v2.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{}: {log}", fixture.name);
    assert!(log.contains("2 uploaded, 0 already published, 0 refused"), "{log}");
    assert!(log.contains("build backend "), "{log}");
    let out = release(repo.path(), &["v2.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{}: {log}", fixture.name);
    assert!(log.contains("0 uploaded, 2 already published, 0 refused"), "the rebuild differs: {log}");

    let (installed, file) = install(&stack, fixture.name, "2.0.0", fixture.module);
    assert_eq!(installed, "2.0.0");
    assert!(file.contains("site-packages"), "{file}");
    // The checkout says 0.1.0 again: the stamp was for the build only.
    let status = git(repo.path(), &["status", "--porcelain"]);
    assert_eq!(status, "", "the release left the checkout changed");
}

#[test]
fn a_hatchling_project_releases() {
    release_with(&FIXTURES[0]);
}

#[test]
fn a_setuptools_project_releases() {
    release_with(&FIXTURES[1]);
}

#[test]
fn a_flit_project_releases() {
    release_with(&FIXTURES[2]);
}

#[test]
fn a_pdm_project_releases() {
    release_with(&FIXTURES[3]);
}

#[test]
fn a_poetry_project_with_a_static_version_releases() {
    release_with(&FIXTURES[4]);
}

/// A build requirement added (or a pin edited) without locking again is refused in
/// Preflight, before any tool is installed or any request made.
#[test]
fn a_stale_or_edited_lock_is_refused_with_the_command() {
    let stack = start_stack();
    let repo = fixture_repo(&FIXTURES[0]);
    let vars = release_env(&stack, Creds::Static, "v2.0.0", &[]);
    let locked = lock(repo.path(), &vars);
    let pyproject = repo.path().join("pyproject.toml");
    let original = fs::read_to_string(&pyproject).unwrap();

    // A plugin added to [build-system] without a new lock.
    let added = original.replace("\"hatchling>=1.26\"", "\"hatchling>=1.26\", \"hatch-fancy-pypi-readme>=24\"");
    fs::write(&pyproject, added).unwrap();
    git(repo.path(), &["commit", "-qam", "a plugin, unlocked"]);
    let out = release(repo.path(), &["v2.0.0", "--dry-run"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("build-requirements.txt was made from") && log.contains("run `cargo xtask lock`"), "{log}");
    assert!(!log.contains("[4/") && stack.emulator().requests().is_empty(), "{log}");

    // The header edited by hand to match, the pins not: the pin is outside the
    // requirement.
    fs::write(&pyproject, original.replace("hatchling>=1.26", "hatchling>=99")).unwrap();
    fs::write(repo.path().join("build-requirements.txt"), locked.replace("\"hatchling>=1.26\"", "\"hatchling>=99\""))
        .unwrap();
    git(repo.path(), &["commit", "-qam", "a newer hatchling, the lock edited by hand"]);
    let out = release(repo.path(), &["v2.0.0", "--dry-run"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("but [build-system] requires hatchling>=99: run `cargo xtask lock`"), "{log}");

    // No lock at all.
    fs::remove_file(repo.path().join("build-requirements.txt")).unwrap();
    git(repo.path(), &["commit", "-qam", "no lock"]);
    let out = release(repo.path(), &["v2.0.0", "--dry-run"], &vars);
    assert!(!out.status.success() && text(&out).contains("there is no build-requirements.txt"), "{}", text(&out));
    assert!(stack.emulator().requests().is_empty());
}

/// A version a plugin derives from git tags cannot be stamped: refused with the
/// choices, before anything runs.
#[test]
fn a_vcs_derived_version_is_refused_with_the_choices() {
    let repo = fixture_repo(&FIXTURES[0]);
    let pyproject = repo.path().join("pyproject.toml");
    let text_of = fs::read_to_string(&pyproject).unwrap();
    let vcs = text_of
        .replace("\"hatchling>=1.26\"", "\"hatchling>=1.26\", \"hatch-vcs\"")
        .replace("path = \"src/fixture_hatch/__about__.py\"", "source = \"vcs\"");
    fs::write(&pyproject, vcs).unwrap();
    git(repo.path(), &["commit", "-qam", "vcs version"]);
    let out = run_xtask(repo.path(), &["release", "v2.0.0", "--build-only"], &[]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("[tool.hatch.version] source = \"vcs\" derives the version"), "{log}");
    assert!(log.contains("cannot stamp") && log.contains("[project] without `dynamic = [\"version\"]`"), "{log}");
}

/// yamause itself switched to setuptools, its version still in
/// `yamause/__about__.py`: `cargo xtask lock`, then `release vX --sandbox` publishes
/// to a throwaway stack and installs the released version from it.
#[test]
fn yamause_switched_to_setuptools_releases_through_the_sandbox() {
    let repo = copy_repo("yamause-setuptools");
    let pyproject = repo.path().join("pyproject.toml");
    let text_of = fs::read_to_string(&pyproject).unwrap();
    let hatch_tables = text_of.find("# The version lives in one file").expect("the hatch tables of pyproject.toml");
    let switched = text_of[..hatch_tables]
        .replace("requires = [\"hatchling\"]", "requires = [\"setuptools>=77\"]")
        .replace("build-backend = \"hatchling.build\"", "build-backend = \"setuptools.build_meta\"")
        + "[tool.setuptools]\npackages = [\"yamause\"]\n\n[tool.setuptools.dynamic]\n\
           version = {attr = \"yamause.__about__.__version__\"}\n";
    fs::write(&pyproject, switched).unwrap();
    git(repo.path(), &["commit", "-qam", "build with setuptools"]);
    let locked = lock(repo.path(), &[]);
    assert!(locked.contains("\nsetuptools==") && !locked.contains("hatchling"), "{locked}");
    // Share the built stack with the other tests instead of building it again.
    let target = crate::support::repo_root().join("target");
    let vars = [("CARGO_TARGET_DIR".to_owned(), target.to_string_lossy().into_owned())];
    let out = run_xtask(repo.path(), &["release", "v0.4.0", "--sandbox"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("build backend setuptools.build_meta"), "{log}");
    assert!(log.contains("installed yamause==0.4.0 from sandbox-repo in a fresh environment: its metadata says 0.4.0"));
}
