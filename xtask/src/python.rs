//! Python: the interpreter check, and the pinned tool environments (build, hatchling,
//! twine, packaging …) provisioned from the hashed lock files in `xtask/tools/`.
//!
//! A tool environment is a virtual environment under the target directory, one per
//! lock file. It is created the first time, reused while the lock file and the
//! interpreter stay the same, and rebuilt when either changes. It is never the user's
//! own environment. `uv` is used when it is on `PATH`, else `python3 -m venv` + pip
//! (the interpreter's own pip when it is recent enough, see [`Installer`]).

use std::{
    ffi::OsString,
    fs::{self, File},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

// The lock's name is a flag value (`cargo xtask tools LOCK`); every user of the
// tools names it through here.
pub use crate::flags::ToolLock;

use crate::{
    exec::{self, Env},
    project,
    redact::Secret,
    report,
};

/// The interpreter every tool environment is made from.
pub const PYTHON: &str = "python3";

/// The oldest Python the release supports (the tool locks are resolved for it).
const MIN_PYTHON: (u32, u32) = (3, 9);

const INSTALL_HINT: &str = "install Python 3.9 or newer with its venv module (Debian/Ubuntu: \
     `apt install python3 python3-venv`; macOS: `brew install python`; others: \
     https://www.python.org/downloads/) and make sure `python3` is on PATH";

/// Checks that `python3` exists and is new enough; returns its version, e.g. `3.11.7`.
pub fn check_interpreter(sh: &Shell) -> Result<String> {
    Ok(probe(sh)?.python.clone())
}

/// What one run of the interpreter tells: its version, and the version of its own
/// pip (`None` without one).
struct Probe {
    python: String,
    pip: Option<String>,
}

fn probe(sh: &Shell) -> Result<&'static Probe> {
    static CHECKED: OnceLock<Probe> = OnceLock::new();
    if let Some(probe) = CHECKED.get() {
        return Ok(probe);
    }
    // importlib.metadata reads pip's version without importing pip.
    let probe = "import sys\nprint('%d.%d.%d' % sys.version_info[:3])\ntry:\n    from importlib.metadata import version\n    print(version('pip'))\nexcept Exception:\n    print('-')\n";
    let out = exec::run(cmd!(sh, "{PYTHON} -c {probe}"), &Env::base())
        .capture()
        .exec()
        .with_context(|| format!("run {PYTHON}: {INSTALL_HINT}"))?;
    let mut lines = out.stdout.lines().map(str::trim);
    let version = lines.next().unwrap_or_default().to_owned();
    let pip = lines.next().filter(|it| !it.is_empty() && *it != "-").map(str::to_owned);
    let mut parts = version.split('.').map(|it| it.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < MIN_PYTHON {
        bail!("{PYTHON} is Python {version}, older than 3.9: {INSTALL_HINT}");
    }
    Ok(CHECKED.get_or_init(|| Probe { python: version, pip }))
}

impl crate::flags::Tools {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        let tools = ensure(sh, &root, self.lock)?;
        report::out(&tools.python.display().to_string());
        Ok(())
    }
}

/// How a tool environment is made, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Installer {
    /// `uv venv` + `uv pip install`, when uv is on PATH.
    Uv,
    /// `venv --without-pip` + the base interpreter's pip with `--python` (pip 22.3
    /// or newer): creating an environment with its own pip takes seconds.
    BasePip,
    /// `venv` + the environment's own pip.
    VenvPip,
}

impl Installer {
    fn choose(sh: &Shell) -> Installer {
        if exec::on_path("uv") {
            return Installer::Uv;
        }
        match probe(sh) {
            Ok(Probe { pip: Some(pip), .. }) if pip_supports_python_option(pip) => Installer::BasePip,
            _ => Installer::VenvPip,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Installer::Uv => "uv",
            Installer::BasePip => "venv + the interpreter's pip",
            Installer::VenvPip => "venv + pip",
        }
    }
}

/// Whether pip `version` (`24.0`, `22.3.1`) is 22.3 or newer, the first with
/// `--python`.
fn pip_supports_python_option(version: &str) -> bool {
    let mut parts = version.split('.').map(|it| it.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (22, 3)
}

/// A provisioned tool environment.
pub struct Tools {
    pub python: PathBuf,
}

impl Tools {
    /// A program the environment installed, next to its interpreter (`uv`).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.python.with_file_name(if cfg!(windows) { format!("{name}.exe") } else { name.to_owned() })
    }
}

/// An interpreter with pip: `python3` itself when it has one (the runners' images
/// do), else `dir` made a fresh environment with a pip of its own.
pub fn with_pip(sh: &Shell, dir: &Path) -> Result<PathBuf> {
    if probe(sh)?.pip.is_some() {
        return which::which(PYTHON).with_context(|| format!("find {PYTHON} on PATH: {INSTALL_HINT}"));
    }
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("remove the earlier {}", dir.display()))?;
    }
    exec::run(cmd!(sh, "{PYTHON} -m venv {dir}"), &Env::base())
        .exec()
        .with_context(|| format!("create an environment with pip: {INSTALL_HINT}"))?;
    Ok(dir.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" }))
}

/// Where tool environments live: `$XTASK_TOOLS_DIR`, else `<target>/pytools`.
pub fn tools_root(root: &Path) -> PathBuf {
    match std::env::var_os("XTASK_TOOLS_DIR").filter(|it| !it.is_empty()) {
        Some(dir) => root.join(dir),
        None => project::target_dir(root).join("pytools"),
    }
}

/// Returns the environment of `lock`, creating or rebuilding it when needed.
pub fn ensure(sh: &Shell, root: &Path, lock: ToolLock) -> Result<Tools> {
    let lock_file = root.join("xtask/tools").join(format!("{}.txt", lock.name()));
    let requirements = fs::read_to_string(&lock_file).with_context(|| format!("read {}", lock_file.display()))?;
    let tools_root = tools_root(root);
    fs::create_dir_all(&tools_root).with_context(|| format!("create {}", tools_root.display()))?;
    let dir = tools_root.join(lock.name());
    let python = dir.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    let interpreter = check_interpreter(sh)?;
    let base = which::which(PYTHON).with_context(|| format!("find {PYTHON} on PATH: {INSTALL_HINT}"))?;
    // The stamp says what the environment was made from. It is written last, so an
    // environment whose provisioning was interrupted has none and is made again.
    let stamp_path = dir.join("xtask-lock.txt");
    let stamp = format!("python {interpreter}\n{requirements}");

    // Parallel runs (tests, two terminals) share the environments: one provisions,
    // the others wait for it and then reuse the result.
    let guard = File::create(tools_root.join(format!(".{}.lock", lock.name())))
        .with_context(|| format!("create the lock file in {}", tools_root.display()))?;
    guard.lock().with_context(|| format!("lock {}", tools_root.display()))?;

    if python.exists() && fs::read_to_string(&stamp_path).is_ok_and(|it| it == stamp) {
        report::say(&format!("reusing the {} tools in {}", lock.name(), dir.display()));
        return Ok(Tools { python });
    }
    let installer = Installer::choose(sh);
    report::say(&format!(
        "provisioning the {} tools from {} into {} (with {})",
        lock.name(),
        lock_file.strip_prefix(root).unwrap_or(&lock_file).display(),
        dir.display(),
        installer.describe()
    ));
    let what = format!("the {} tools", lock.name());
    make_env(sh, (installer, &base), (&dir, &python), &lock_file, &LockSource::Index, &what)?;
    fs::write(&stamp_path, stamp).with_context(|| format!("write {}", stamp_path.display()))?;
    Ok(Tools { python })
}

/// Where the files of a lock come from.
pub enum LockSource<'a> {
    /// The package index of the machine's installer settings (PyPI unless pip's or
    /// uv's own settings name another).
    Index,
    /// One index whose URL carries a credential: in the installer's environment
    /// only; the machine's installer settings and caches are left out.
    PrivateIndex(&'a Secret),
    /// The wheels of a folder, and no network at all.
    Folder(&'a Path),
}

/// Makes `dir` a fresh environment holding exactly `lock_file` (every file checked
/// against its hashes, nothing resolved, wheels only, so installing runs no
/// package's code) and returns its interpreter.
pub fn fresh_env(sh: &Shell, dir: &Path, lock_file: &Path, source: &LockSource<'_>) -> Result<PathBuf> {
    check_interpreter(sh)?;
    let base = which::which(PYTHON).with_context(|| format!("find {PYTHON} on PATH: {INSTALL_HINT}"))?;
    let python = dir.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    let installer = Installer::choose(sh);
    make_env(sh, (installer, &base), (dir, &python), lock_file, source, "the build requirements")?;
    Ok(python)
}

/// `install`, in a folder emptied first; when the interpreter's pip fails, once
/// more with a pip of the environment's own.
fn make_env(
    sh: &Shell,
    (installer, base): (Installer, &Path),
    (dir, python): (&Path, &Path),
    lock_file: &Path,
    source: &LockSource<'_>,
    what: &str,
) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("remove the earlier {}", dir.display()))?;
    }
    let install = |installer| Install { installer, base, dir, python, lock_file, source, what }.run(sh);
    match install(installer) {
        Err(err) if installer == Installer::BasePip && crate::interrupt::check().is_ok() => {
            // The interpreter's pip said it could, and could not (a broken or half
            // removed pip): the environment gets a pip of its own instead.
            report::warn(&format!(
                "{err:#}\nthe interpreter's pip failed; trying again with a pip of the environment's own"
            ));
            fs::remove_dir_all(dir).with_context(|| format!("remove the half-made {}", dir.display()))?;
            install(Installer::VenvPip)
        }
        other => other,
    }
}

/// One installation of a lock into a new environment.
struct Install<'a> {
    installer: Installer,
    base: &'a Path,
    dir: &'a Path,
    python: &'a Path,
    lock_file: &'a Path,
    source: &'a LockSource<'a>,
    what: &'a str,
}

impl Install<'_> {
    /// The environment and the arguments that pick where the files come from.
    fn env_and_args(&self) -> (Env, Vec<OsString>) {
        let uv = self.installer == Installer::Uv;
        match self.source {
            // Installers need the network and honour the user's index and proxy
            // settings; every file is still checked against the hashes of the lock.
            LockSource::Index => (Env::installer(), Vec::new()),
            LockSource::PrivateIndex(index) => {
                let mut env = Env::private_build();
                // The URL carries the token: the environment only, never an argument.
                env.set("PIP_INDEX_URL", index.expose()).set("UV_DEFAULT_INDEX", index.expose());
                env.set("PIP_CONFIG_FILE", NULL_DEVICE).set("UV_NO_CONFIG", "1");
                let no_cache = if uv { "--no-cache" } else { "--no-cache-dir" };
                (env, vec![no_cache.into()])
            }
            LockSource::Folder(folder) => {
                let mut env = Env::base();
                env.set("PIP_CONFIG_FILE", NULL_DEVICE).set("UV_NO_CONFIG", "1").set("UV_OFFLINE", "1");
                (env, vec!["--no-index".into(), "--find-links".into(), folder.as_os_str().to_owned()])
            }
        }
    }

    fn run(&self, sh: &Shell) -> Result<()> {
        let (env, source_args) = self.env_and_args();
        let (base, dir, python, lock_file, what) = (self.base, self.dir, self.python, self.lock_file, self.what);
        // Wheels only: installing never runs a package's own build code.
        match self.installer {
            Installer::Uv => {
                exec::run(cmd!(sh, "uv venv --quiet --no-python-downloads --python {base} {dir}"), &env)
                    .exec()
                    .with_context(|| format!("create the environment of {what} with uv"))?;
                exec::run(
                    cmd!(
                        sh,
                        "uv pip install --python {python} --require-hashes --no-deps --only-binary :all: {source_args...} -r {lock_file}"
                    ),
                    &env,
                )
                .exec()
                .with_context(|| format!("install {what} with uv"))?;
            }
            Installer::BasePip | Installer::VenvPip => {
                let without_pip = (self.installer == Installer::BasePip).then_some("--without-pip");
                exec::run(cmd!(sh, "{base} -m venv {without_pip...} {dir}"), &env)
                    .exec()
                    .with_context(|| format!("create the environment of {what}: {INSTALL_HINT}"))?;
                // `--python`: the base interpreter's pip installs into the environment.
                let (pip_python, target) = match self.installer {
                    Installer::BasePip => (base, Some(["--python".as_ref(), python.as_os_str()])),
                    _ => (python, None),
                };
                let target = target.into_iter().flatten();
                // No `.pyc` compiled up front: what a tool imports is compiled when it
                // is first imported, and installing the rest of them costs seconds.
                exec::run(
                    cmd!(
                        sh,
                        "{pip_python} -m pip {target...} install --disable-pip-version-check --no-input --no-compile --require-hashes --no-deps --only-binary :all: {source_args...} -r {lock_file}"
                    ),
                    &env,
                )
                .exec()
                .with_context(|| format!("install {what} with pip"))?;
            }
        }
        Ok(())
    }
}

/// What pip and uv read as "no configuration file".
pub const NULL_DEVICE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// Requirement blocks of a lock file: the pin (`name==version`) and its hashes
    /// (comments dropped), by package name.
    fn pins(lock: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in lock.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if line.starts_with(char::is_whitespace) {
                let (_, block) = current.as_mut().expect("a hash line follows a requirement");
                block.push_str(trimmed.trim_end_matches(['\\', ' ']));
                continue;
            }
            out.extend(current.take());
            // The pin without its environment markers, which differ between locks
            // resolved for different sets of packages and do not change the file.
            let pin = trimmed.split([' ', ';']).next().unwrap();
            let name = pin.split('=').next().unwrap().to_owned();
            current = Some((name, pin.to_owned()));
        }
        out.extend(current);
        out
    }

    #[test]
    fn reads_the_pip_version() {
        assert!(super::pip_supports_python_option("24.0"));
        assert!(super::pip_supports_python_option("22.3"));
        assert!(super::pip_supports_python_option("100.0.1"));
        assert!(!super::pip_supports_python_option("22.2.2"));
        assert!(!super::pip_supports_python_option("9.0.1"));
        assert!(!super::pip_supports_python_option(""));
    }

    /// The publish job checks files with the same twine and packaging as the build
    /// job: every pin of publish.txt is in release.txt, with the same hashes.
    #[test]
    fn the_publish_lock_is_a_subset_of_the_release_lock() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let (publish, release) = (pins(&read("publish.txt")), pins(&read("release.txt")));
        assert!(publish.contains_key("twine") && publish.contains_key("packaging"), "{publish:?}");
        assert!(!publish.contains_key("build") && !publish.contains_key("hatchling"), "publishing installs no builder");
        // Nor keyring's tree (twine runs without it; publish-overrides.txt).
        assert!(!publish.contains_key("cryptography") && !publish.contains_key("secretstorage"), "{publish:?}");
        for (name, block) in &publish {
            assert_eq!(release.get(name), Some(block), "{name} is pinned differently in publish.txt and release.txt");
        }
    }
}
