//! Where the project's version lives, as its build backend reads it, so that the
//! release stamps it there:
//!
//! | backend | dynamic version read from |
//! |---|---|
//! | hatchling | `[tool.hatch.version] path` (`__version__ = "…"`) |
//! | setuptools | `[tool.setuptools.dynamic] version = {attr = "pkg.mod.VAR"}` or `{file = "VERSION"}` |
//! | pdm-backend | `[tool.pdm.version] source = "file"`, `path` |
//! | flit-core | `__version__` of the module named like the project (`[tool.flit.module] name`) |
//! | any | a static `[project] version` (PEP 621), stamped in pyproject.toml |
//!
//! Sources: hatch "Versioning" (<https://hatch.pypa.io/latest/version/>), setuptools
//! "Configuring setuptools using pyproject.toml files" (dynamic metadata), pdm-backend
//! "Dynamic project version", flit "The pyproject.toml config file", PEP 621.
//! A version a plugin derives from git tags (hatch-vcs, setuptools-scm, pdm's `scm`)
//! cannot be stamped and is refused with the choices.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::version_text::Place;

/// The file that holds the version and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLocation {
    /// Relative to the project root, `/`-separated.
    pub file: String,
    pub place: Place,
    /// What in pyproject.toml points there, for messages.
    pub declared_by: String,
}

type Table = toml::Table;

fn get<'a>(table: &'a Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut table = table;
    for key in parents {
        table = table.get(*key)?.as_table()?;
    }
    table.get(*last)
}

fn string(table: &Table, path: &[&str]) -> Option<String> {
    get(table, path).and_then(|it| it.as_str()).map(str::to_owned)
}

/// The advice for a version that cannot be stamped.
fn cannot_stamp(what: &str) -> anyhow::Error {
    anyhow::format_err!(
        "pyproject.toml: {what}, which `cargo xtask release` cannot stamp: it writes the release's version where \
         the build backend reads it before it builds. Either write the version in a file the backend reads (for \
         hatchling `[tool.hatch.version] path = \"PACKAGE/__about__.py\"`, for setuptools `[tool.setuptools.dynamic] \
         version = {{attr = \"PACKAGE.__version__\"}}`, for pdm-backend `[tool.pdm.version] source = \"file\"`), or \
         make it static: `version = \"0.1.0\"` under [project] without `dynamic = [\"version\"]`"
    )
}

/// Works out where the version lives from `pyproject.toml`; `exists` tells whether
/// a relative file exists (the root is not known while parsing).
pub fn locate(pyproject: &Table, name: &str, exists: &dyn Fn(&str) -> bool) -> Result<VersionLocation> {
    let dynamic = get(pyproject, &["project", "dynamic"]).and_then(|it| it.as_array());
    let is_dynamic = dynamic.is_some_and(|it| it.iter().any(|v| v.as_str() == Some("version")));
    let static_version = get(pyproject, &["project", "version"]);
    match (static_version, is_dynamic) {
        (Some(_), true) => {
            bail!("pyproject.toml: [project] has a version and lists it in `dynamic` (PEP 621 forbids both): keep one")
        }
        (Some(version), false) => {
            version.as_str().context("pyproject.toml: [project] version is not a string")?;
            return Ok(VersionLocation {
                file: "pyproject.toml".to_owned(),
                place: Place::PyprojectVersion,
                declared_by: "[project] version".to_owned(),
            });
        }
        (None, false) => bail!(
            "pyproject.toml has no version: add `version = \"0.1.0\"` under [project], or `dynamic = [\"version\"]` \
             with the file the build backend reads it from"
        ),
        (None, true) => {}
    }
    // PEP 517: without `build-backend`, frontends use setuptools' legacy backend.
    let backend = string(pyproject, &["build-system", "build-backend"])
        .unwrap_or_else(|| "setuptools.build_meta:__legacy__".to_owned());
    let module = backend.split(':').next().unwrap_or_default();
    let location = match module {
        "hatchling.build" => hatch(pyproject)?,
        "setuptools.build_meta" => setuptools(pyproject, exists)?,
        "pdm.backend" => pdm(pyproject)?,
        "flit_core.buildapi" => flit(pyproject, name, exists)?,
        "poetry.core.masonry.api" => {
            return Err(cannot_stamp("poetry-core reads a dynamic version from no file (only plugins derive one)"));
        }
        _ => bail!(
            "pyproject.toml: the version is dynamic and the build backend {backend:?} is not one whose version \
             source the release knows (hatchling, setuptools, pdm-backend, flit-core): make the version static \
             with `version = \"0.1.0\"` under [project]"
        ),
    };
    check_relative(&location)?;
    Ok(location)
}

fn check_relative(location: &VersionLocation) -> Result<()> {
    let inside = Path::new(&location.file).components().all(|it| matches!(it, std::path::Component::Normal(_)));
    if !inside || location.file.contains('\\') || location.file.is_empty() {
        bail!(
            "pyproject.toml: {} {:?} must be a relative path inside the repository, with / separators",
            location.declared_by,
            location.file
        );
    }
    Ok(())
}

fn hatch(pyproject: &Table) -> Result<VersionLocation> {
    let declared_by = "[tool.hatch.version] path".to_owned();
    if let Some(source) = string(pyproject, &["tool", "hatch", "version", "source"]).filter(|it| it != "regex") {
        return Err(cannot_stamp(&format!("[tool.hatch.version] source = {source:?} derives the version")));
    }
    if get(pyproject, &["tool", "hatch", "version", "pattern"]).is_some() {
        bail!(
            "pyproject.toml: [tool.hatch.version] has a custom `pattern`; the release rewrites the default \
             `__version__ = \"…\"` only: remove `pattern` and keep that line in the version file"
        );
    }
    let file = string(pyproject, &["tool", "hatch", "version", "path"]).context(
        "pyproject.toml has no [tool.hatch.version] path: add `path = \"PACKAGE/__about__.py\"` so the build and \
         the release read the version from one file",
    )?;
    Ok(VersionLocation { file, place: Place::Assignment("__version__".to_owned()), declared_by })
}

fn setuptools(pyproject: &Table, exists: &dyn Fn(&str) -> bool) -> Result<VersionLocation> {
    let scm = get(pyproject, &["tool", "setuptools_scm"]).is_some();
    let Some(version) = get(pyproject, &["tool", "setuptools", "dynamic", "version"]) else {
        let what = if scm { "setuptools-scm derives the version from git tags" } else { "the version is dynamic" };
        return Err(cannot_stamp(&format!("{what} and [tool.setuptools.dynamic] does not say where it is")));
    };
    if let Some(attr) = version.get("attr").and_then(|it| it.as_str()) {
        let (module, variable) =
            attr.rsplit_once('.').with_context(|| format!("pyproject.toml: attr = {attr:?} names no module"))?;
        let file = module_file(pyproject, module, exists).with_context(|| {
            format!("pyproject.toml: [tool.setuptools.dynamic] version attr = {attr:?}: no file of module {module}")
        })?;
        let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid(variable) {
            bail!("pyproject.toml: attr = {attr:?} does not end in a variable name");
        }
        let declared_by = "[tool.setuptools.dynamic] version attr".to_owned();
        return Ok(VersionLocation { file, place: Place::Assignment(variable.to_owned()), declared_by });
    }
    let file = match version.get("file") {
        Some(toml::Value::String(one)) => one.clone(),
        Some(toml::Value::Array(list)) if list.len() == 1 && list[0].is_str() => {
            list[0].as_str().unwrap_or_default().to_owned()
        }
        Some(_) => bail!(
            "pyproject.toml: [tool.setuptools.dynamic] version file must name one file (setuptools joins several, \
             which cannot be stamped)"
        ),
        None => bail!("pyproject.toml: [tool.setuptools.dynamic] version has neither `attr` nor `file`"),
    };
    Ok(VersionLocation {
        file,
        place: Place::WholeFile,
        declared_by: "[tool.setuptools.dynamic] version file".to_owned(),
    })
}

/// The file of a dotted module name, through `[tool.setuptools] package-dir`.
fn module_file(pyproject: &Table, module: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    let package_dir = get(pyproject, &["tool", "setuptools", "package-dir"]).and_then(|it| it.as_table());
    let dir_of = |key: &str| package_dir.and_then(|it| it.get(key)).and_then(|it| it.as_str());
    let parts: Vec<&str> = module.split('.').collect();
    // The longest package prefix with its own entry wins, then the root entry "".
    let (base, rest) = (1..=parts.len())
        .rev()
        .find_map(|n| dir_of(&parts[..n].join(".")).map(|dir| (dir.to_owned(), &parts[n..])))
        .unwrap_or_else(|| (dir_of("").unwrap_or("").to_owned(), &parts[..]));
    let mut stem = base.trim_end_matches('/').to_owned();
    for part in rest {
        if !stem.is_empty() {
            stem.push('/');
        }
        stem.push_str(part);
    }
    [format!("{stem}.py"), format!("{stem}/__init__.py")].into_iter().find(|it| exists(it))
}

fn pdm(pyproject: &Table) -> Result<VersionLocation> {
    let source = string(pyproject, &["tool", "pdm", "version", "source"]);
    match source.as_deref() {
        Some("file") => {}
        Some(other) => return Err(cannot_stamp(&format!("[tool.pdm.version] source = {other:?} derives the version"))),
        None => bail!("pyproject.toml: the version is dynamic but [tool.pdm.version] has no `source = \"file\"`"),
    }
    let file = string(pyproject, &["tool", "pdm", "version", "path"])
        .context("pyproject.toml: [tool.pdm.version] source = \"file\" has no `path`")?;
    let declared_by = "[tool.pdm.version] path".to_owned();
    Ok(VersionLocation { file, place: Place::Assignment("__version__".to_owned()), declared_by })
}

fn flit(pyproject: &Table, name: &str, exists: &dyn Fn(&str) -> bool) -> Result<VersionLocation> {
    let module = string(pyproject, &["tool", "flit", "module", "name"]).unwrap_or_else(|| name.replace('-', "_"));
    let path = module.replace('.', "/");
    let candidates = [
        format!("{path}/__init__.py"),
        format!("{path}.py"),
        format!("src/{path}/__init__.py"),
        format!("src/{path}.py"),
    ];
    let file = candidates.into_iter().find(|it| exists(it)).with_context(|| {
        format!("pyproject.toml: flit reads the version from module {module}, but there is no {path}/__init__.py or {path}.py")
    })?;
    let declared_by = format!("the module {module} (flit)");
    Ok(VersionLocation { file, place: Place::Assignment("__version__".to_owned()), declared_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate_in(text: &str, files: &[&str]) -> Result<VersionLocation> {
        let table: Table = text.parse().unwrap();
        locate(&table, "my-pkg", &|it| files.contains(&it))
    }

    const DYNAMIC: &str = "[project]\nname = \"my-pkg\"\ndynamic = [\"version\"]\n";

    #[test]
    fn finds_each_backends_version() {
        let cases = [
            (
                "[build-system]\nbuild-backend = \"hatchling.build\"\n[tool.hatch.version]\npath = \"my_pkg/__about__.py\"\n",
                &[][..],
                ("my_pkg/__about__.py", Place::Assignment("__version__".into())),
            ),
            (
                "[build-system]\nbuild-backend = \"setuptools.build_meta\"\n[tool.setuptools]\npackage-dir = {\"\" = \"src\"}\n[tool.setuptools.dynamic]\nversion = {attr = \"my_pkg.__about__.VERSION\"}\n",
                &["src/my_pkg/__about__.py"][..],
                ("src/my_pkg/__about__.py", Place::Assignment("VERSION".into())),
            ),
            (
                "[tool.setuptools.dynamic]\nversion = {attr = \"my_pkg.__version__\"}\n",
                &["my_pkg/__init__.py"][..],
                ("my_pkg/__init__.py", Place::Assignment("__version__".into())),
            ),
            (
                "[build-system]\nbuild-backend = \"setuptools.build_meta\"\n[tool.setuptools.dynamic]\nversion = {file = [\"VERSION\"]}\n",
                &[][..],
                ("VERSION", Place::WholeFile),
            ),
            (
                "[build-system]\nbuild-backend = \"pdm.backend\"\n[tool.pdm.version]\nsource = \"file\"\npath = \"src/my_pkg/v.py\"\n",
                &[][..],
                ("src/my_pkg/v.py", Place::Assignment("__version__".into())),
            ),
            (
                "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
                &["src/my_pkg/__init__.py"][..],
                ("src/my_pkg/__init__.py", Place::Assignment("__version__".into())),
            ),
        ];
        for (tail, files, (file, place)) in cases {
            let found = locate_in(&format!("{DYNAMIC}{tail}"), files).unwrap();
            assert_eq!((found.file.as_str(), found.place), (file, place), "{tail}");
        }
        let found = locate_in("[project]\nname = \"x\"\nversion = \"1.0\"\n", &[]).unwrap();
        assert_eq!((found.file.as_str(), found.place), ("pyproject.toml", Place::PyprojectVersion));
    }

    #[test]
    fn refuses_versions_it_cannot_stamp_with_the_choices() {
        let cases = [
            (
                "[build-system]\nbuild-backend = \"hatchling.build\"\n[tool.hatch.version]\nsource = \"vcs\"\n",
                "cannot stamp",
            ),
            ("[build-system]\nbuild-backend = \"setuptools.build_meta\"\n[tool.setuptools_scm]\n", "setuptools-scm"),
            ("[build-system]\nbuild-backend = \"pdm.backend\"\n[tool.pdm.version]\nsource = \"scm\"\n", "cannot stamp"),
            ("[build-system]\nbuild-backend = \"poetry.core.masonry.api\"\n", "poetry-core"),
            ("[build-system]\nbuild-backend = \"maturin\"\n", "\"maturin\" is not one"),
            ("[build-system]\nbuild-backend = \"flit_core.buildapi\"\n", "no my_pkg/__init__.py"),
            (
                "[build-system]\nbuild-backend = \"hatchling.build\"\n[tool.hatch.version]\npath = \"../x.py\"\n",
                "inside the repository",
            ),
        ];
        for (tail, says) in cases {
            let err = format!("{:#}", locate_in(&format!("{DYNAMIC}{tail}"), &[]).unwrap_err());
            assert!(err.contains(says), "{tail}: {err}");
        }
        let err = locate_in("[project]\nname = \"x\"\nversion = \"1\"\ndynamic = [\"version\"]\n", &[]).unwrap_err();
        assert!(err.to_string().contains("forbids both"), "{err}");
        let err = locate_in("[project]\nname = \"x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("has no version"), "{err}");
    }
}
