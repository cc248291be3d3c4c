//! The repository: where its root is, and what `pyproject.toml` says about the
//! package (its name and where its version lives, `version_location`; the version's
//! text in that file, `version_text`).
//! `pyproject.toml` is the single source of truth for both; nothing here repeats
//! them as constants.

mod version_location;
pub mod version_text;

use std::{
    env,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

pub use version_location::VersionLocation;

/// The Python project at the root of the repository.
pub struct Project {
    pub root: PathBuf,
    /// `[project].name` as written.
    pub name: String,
    /// The file (relative to the root, `/`-separated) and place of the version.
    pub version: VersionLocation,
    /// The whole `pyproject.toml`, for the settings tables read elsewhere.
    pub pyproject: toml::Table,
}

/// Finds the repository root: the nearest directory, from the current one upwards,
/// that holds both `pyproject.toml` and `xtask/Cargo.toml`. `cargo run` does not
/// change the working directory, so this is what lets `cargo xtask` run from anywhere
/// inside the repository.
pub fn find_root() -> Result<PathBuf> {
    let cwd = env::current_dir().context("read the current directory")?;
    let is_root = |dir: &Path| dir.join("pyproject.toml").is_file() && dir.join("xtask/Cargo.toml").is_file();
    if let Some(root) = cwd.ancestors().find(|dir| is_root(dir)) {
        return Ok(root.to_path_buf());
    }
    // Run from outside the repository (`cargo run --manifest-path …`): cargo tells us
    // where the xtask crate is.
    if let Some(manifest_dir) = env::var_os("CARGO_MANIFEST_DIR")
        && let Some(root) = Path::new(&manifest_dir).parent().filter(|dir| is_root(dir))
    {
        return Ok(root.to_path_buf());
    }
    bail!(
        "{} is not inside the yamause repository (no pyproject.toml next to xtask/): \
         run `cargo xtask` from the repository checkout",
        cwd.display()
    )
}

/// Where build output and the tool environments go: cargo's target directory.
pub fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|it| !it.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

impl Project {
    /// Reads `pyproject.toml` at `root`.
    pub fn load(root: &Path) -> Result<Project> {
        let path = root.join("pyproject.toml");
        let text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let mut project = Project::parse(&text, &|file| root.join(file).is_file())?;
        project.root = root.to_path_buf();
        if !root.join(project.version_file()).is_file() {
            bail!(
                "pyproject.toml names {} as where the version is ({}), but there is no such file: create it \
                 with the line `__version__ = \"0.0.0\"`",
                project.version_file(),
                project.version.declared_by
            );
        }
        Ok(project)
    }

    /// Parses and validates the text of `pyproject.toml`; `exists` says whether a
    /// file relative to the root exists.
    pub fn parse(text: &str, exists: &dyn Fn(&str) -> bool) -> Result<Project> {
        let pyproject: toml::Table = text.parse().context("parse pyproject.toml: fix its TOML syntax")?;
        let name = pyproject
            .get("project")
            .and_then(|it| it.get("name"))
            .and_then(|it| it.as_str())
            .context("pyproject.toml has no [project] name: add `name = \"…\"` under [project]")?
            .to_owned();
        if !is_valid_name(&name) {
            bail!(
                "pyproject.toml: [project] name {name:?} is not a valid distribution name \
                 (letters, digits, . _ -; starting and ending with a letter or digit)"
            );
        }
        let version = version_location::locate(&pyproject, &name, exists)?;
        Ok(Project { root: PathBuf::new(), name, version, pyproject })
    }

    /// The name normalized as package indexes (and CodeArtifact) see it (PEP 503).
    pub fn normalized_name(&self) -> String {
        normalize_name(&self.name)
    }

    /// The file that holds the version, relative to the root.
    pub fn version_file(&self) -> &str {
        &self.version.file
    }

    pub fn version_path(&self) -> PathBuf {
        self.root.join(&self.version.file)
    }

    /// The version as the file says it now.
    pub fn current_version(&self) -> Result<String> {
        let text = std::fs::read(self.version_path()).with_context(|| format!("read {}", self.version_file()))?;
        Ok(self.version.place.find(&text, self.version_file())?.current)
    }

    /// The top-level module of the package, for importing it after an install: the
    /// folder of a version file inside a package, else the name with `_`.
    pub fn import_name(&self) -> String {
        let file = self.version_file().strip_prefix("src/").unwrap_or(self.version_file());
        match file.split_once('/') {
            Some((package, _)) => package.to_owned(),
            None if file.ends_with(".py") && file != "setup.py" => file.trim_end_matches(".py").to_owned(),
            None => normalize_name(&self.name).replace('-', "_"),
        }
    }
}

/// PEP 508 distribution name: ASCII letters and digits, with `.`, `_`, `-` inside.
fn is_valid_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// PEP 503 normalization: lowercase, and every run of `.`, `_`, `-` becomes one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '.' | '_' | '-') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[build-system]
build-backend = "hatchling.build"
[project]
name = "Yam_ause.pkg"
dynamic = ["version"]
[tool.hatch.version]
path = "yamause/__about__.py"
"#;

    fn parse(text: &str) -> Result<Project> {
        Project::parse(text, &|_| false)
    }

    #[test]
    fn reads_name_and_version_file() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.name, "Yam_ause.pkg");
        assert_eq!(p.normalized_name(), "yam-ause-pkg");
        assert_eq!(p.version_file(), "yamause/__about__.py");
        assert_eq!(p.import_name(), "yamause");
    }

    #[test]
    fn normalizes_names() {
        for (name, want) in [("yamause", "yamause"), ("Foo__Bar", "foo-bar"), ("a-_.b", "a-b"), ("A.B", "a-b")] {
            assert_eq!(normalize_name(name), want);
        }
    }

    #[test]
    fn refuses_bad_pyproject() {
        const H: &str = "[build-system]\nbuild-backend = \"hatchling.build\"\n";
        let cases: Vec<(String, &str)> = vec![
            ("[project\n".to_owned(), "fix its TOML syntax"),
            ("[project]\ndynamic=[\"version\"]\n".to_owned(), "no [project] name"),
            ("[project]\nname=\"-x\"\ndynamic=[\"version\"]\n".to_owned(), "not a valid distribution name"),
            ("[project]\nname=\"x\"\n".to_owned(), "has no version"),
            (format!("{H}[project]\nname=\"x\"\ndynamic=[\"version\"]\n"), "no [tool.hatch.version] path"),
            (
                format!("{H}[project]\nname=\"x\"\ndynamic=[\"version\"]\n[tool.hatch.version]\npath=\"../x.py\"\n"),
                "inside the repository",
            ),
            (
                format!("{H}[project]\nname=\"x\"\ndynamic=[\"version\"]\n[tool.hatch.version]\npath=\"/etc/x.py\"\n"),
                "inside the repository",
            ),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", parse(&text).err().unwrap());
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}
