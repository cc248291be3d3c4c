//! What `bench ci` measures beside the release workflow's run, for the shapes of
//! `shapes.rs`: the compile job's cold compile without (i) and with (ii) the
//! default features, one right after the other, an estimate of a cold compile
//! without the AWS SDK (iii), and each artifact's zip as `actions/upload-artifact`
//! makes it.
//!
//! The estimate for (iii) adds two measured parts, since no such binary exists:
//! a cold build of a scratch crate that depends on everything `xtask/Cargo.toml`
//! lists except the `aws-*` crates (same versions, from the workspace's
//! Cargo.lock; same features and `[profile]`), and the xtask crate's own compile
//! (library and binary, its dependencies already built), timed by rebuilding it
//! after (i)'s cold build. The second is an upper bound: a build-only binary would
//! leave out `aws.rs` and the publish steps too.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result, bail};

use super::shapes::Artifact;
use crate::bench::{Bench, timed};

/// Zips a file or a folder's files as upload-artifact does (deflate, its default
/// `compression-level: 6`), unzips the archive, and prints the raw and zipped
/// sizes and both times. argv: the path, a scratch folder.
const ZIP_SCRIPT: &str = r#"
import os, shutil, sys, time, zipfile
src, scratch = sys.argv[1], sys.argv[2]
if os.path.isfile(src):
    files = [(src, os.path.basename(src))]
else:
    files = [(os.path.join(d, f), os.path.relpath(os.path.join(d, f), src))
             for d, _, names in sorted(os.walk(src)) for f in sorted(names)]
archive = os.path.join(scratch, "artifact.zip")
start = time.perf_counter()
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    for path, name in files:
        z.write(path, name)
zipped = time.perf_counter() - start
out = os.path.join(scratch, "unzipped")
start = time.perf_counter()
with zipfile.ZipFile(archive) as z:
    z.extractall(out)
unzipped = time.perf_counter() - start
print(sum(os.path.getsize(p) for p, _ in files), os.path.getsize(archive), zipped, unzipped)
os.remove(archive)
shutil.rmtree(out)
"#;

impl Bench {
    /// cargo with the environment of a fresh runner and the compile job's
    /// `CARGO_INCREMENTAL=0`, in `dir`.
    fn cargo_cold(&self, dir: &Path) -> Command {
        let mut cmd = self.cold(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(dir).env("CARGO_INCREMENTAL", "0");
        cmd
    }

    /// (i) or (ii): the compile job's cold `cargo build` of the xtask binary in
    /// `repo`, without or with the default features, into the empty folder
    /// `target`; its time and the binary.
    pub(super) fn release_build(
        &self,
        repo: &Path,
        target: &Path,
        default_features: bool,
    ) -> Result<(Duration, PathBuf)> {
        let _ = fs::remove_dir_all(target);
        let mut cmd = self.cargo_cold(repo);
        cmd.args(["build", "--locked", "--quiet", "--package", "xtask", "--bin", "xtask", "--target-dir"]).arg(target);
        if !default_features {
            cmd.arg("--no-default-features");
        }
        let features = if default_features { "at default features" } else { "without default features" };
        let (time, _) = timed(&mut cmd).with_context(|| format!("compile the xtask {features}"))?;
        Ok((time, target.join("debug/xtask")))
    }

    /// (iii), first part: the xtask crate's own compile, rebuilt into `target` (that
    /// of a [`Bench::release_build`] without default features) with its library's
    /// source touched. Returns the time and the crates cargo compiled: anything but
    /// `xtask` there would make the time too long.
    pub(super) fn own_crate_build(&self, repo: &Path, target: &Path) -> Result<(Duration, Vec<String>)> {
        let lib = repo.join("xtask/src/lib.rs");
        fs::File::options()
            .write(true)
            .open(&lib)
            .and_then(|it| it.set_modified(SystemTime::now()))
            .with_context(|| format!("touch {}", lib.display()))?;
        let mut cmd = self.cargo_cold(repo);
        cmd.args([
            "build",
            "--locked",
            "--package",
            "xtask",
            "--bin",
            "xtask",
            "--no-default-features",
            "--target-dir",
        ]);
        let (time, out) = timed(cmd.arg(target)).context("rebuild the xtask crate alone")?;
        let log = String::from_utf8_lossy(&out.stderr);
        Ok((time, compiled_crates(&log)))
    }

    /// (iii), second part: a cold build, in the empty folder `dir`, of a crate with
    /// the xtask's dependencies but the AWS SDK's. Returns the time and the
    /// dependencies left out.
    pub(super) fn without_aws_build(&self, repo: &Path, dir: &Path) -> Result<(Duration, Vec<String>)> {
        let xtask = read_toml(&repo.join("xtask/Cargo.toml"))?;
        let root = read_toml(&repo.join("Cargo.toml"))?;
        let (manifest, left_out) = manifest_without_aws(&xtask, &root)?;
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir.join("src"))?;
        fs::write(dir.join("Cargo.toml"), manifest)?;
        fs::write(dir.join("src/main.rs"), "fn main() {}\n")?;
        // The workspace's versions: cargo only drops the entries nothing uses now.
        fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).context("copy Cargo.lock")?;
        let mut cmd = self.cargo_cold(dir);
        cmd.args(["build", "--offline", "--quiet", "--target-dir"]).arg(dir.join("target"));
        let (time, _) = timed(&mut cmd).context("compile the xtask's dependencies without the AWS SDK")?;
        Ok((time, left_out))
    }
}

/// The crate names of cargo's `Compiling NAME vX` lines.
fn compiled_crates(log: &str) -> Vec<String> {
    let names = log.lines().filter_map(|line| line.trim_start().strip_prefix("Compiling "));
    names.filter_map(|rest| rest.split(' ').next()).map(str::to_owned).collect()
}

/// Zips `path` (a file or a folder) as upload-artifact does, in `scratch`.
pub(super) fn zip_artifact(path: &Path, scratch: &Path) -> Result<Artifact> {
    fs::create_dir_all(scratch)?;
    let mut cmd = Command::new(crate::python::PYTHON);
    cmd.args(["-c", ZIP_SCRIPT]).arg(path).arg(scratch);
    let (_, out) = timed(&mut cmd).with_context(|| format!("zip {} as upload-artifact does", path.display()))?;
    parse_zip_report(&String::from_utf8_lossy(&out.stdout))
}

fn parse_zip_report(text: &str) -> Result<Artifact> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [raw, zipped, zip, unzip] = fields[..] else { bail!("the zip script printed {text:?}") };
    let seconds = |it: &str| -> Result<Duration> {
        let value: f64 = it.parse().with_context(|| format!("read {it:?}"))?;
        Duration::try_from_secs_f64(value).with_context(|| format!("read {it:?} as seconds"))
    };
    Ok(Artifact { raw: raw.parse()?, zipped: zipped.parse()?, zip: seconds(zip)?, unzip: seconds(unzip)? })
}

fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    text.parse().with_context(|| format!("parse {}", path.display()))
}

/// The scratch crate's manifest: every dependency table of `xtask` (its
/// `[dependencies]` and `[target.*.dependencies]`) but the `aws-*` crates and the
/// optional ones (the compile job turns no feature on), the workspace's edition and
/// `[profile]`. Returns it and the names left out.
fn manifest_without_aws(xtask: &toml::Table, root: &toml::Table) -> Result<(String, Vec<String>)> {
    let edition = root
        .get("workspace")
        .and_then(|it| it.get("package"))
        .and_then(|it| it.get("edition"))
        .and_then(toml::Value::as_str)
        .context("the workspace's Cargo.toml names no [workspace.package] edition")?;
    let mut out = format!(
        "# Written by `cargo xtask bench ci`: the xtask's dependencies without the AWS SDK.\n[package]\n\
         name = \"xtask-without-aws\"\nversion = \"0.0.0\"\nedition = {}\npublish = false\n\n[workspace]\n",
        quote(edition)
    );
    let mut left_out = Vec::new();
    let mut tables = vec![("dependencies".to_owned(), xtask.get("dependencies"))];
    for (cfg, table) in xtask.get("target").and_then(toml::Value::as_table).into_iter().flatten() {
        tables.push((format!("target.{}.dependencies", quote(cfg)), table.get("dependencies")));
    }
    for (header, deps) in tables {
        let Some(deps) = deps.and_then(toml::Value::as_table) else { continue };
        out.push_str(&format!("\n[{header}]\n"));
        for (name, spec) in deps {
            let optional = spec.get("optional").and_then(toml::Value::as_bool) == Some(true);
            if name.starts_with("aws-") || optional {
                left_out.push(name.clone());
                continue;
            }
            if ["path", "git", "workspace"].iter().any(|it| spec.get(*it).is_some()) {
                bail!("xtask depends on {name} by path, git or workspace: the estimate copies registry crates only");
            }
            out.push_str(&format!("{} = {}\n", key(name), inline(spec)?));
        }
    }
    for (profile, settings) in root.get("profile").and_then(toml::Value::as_table).into_iter().flatten() {
        out.push_str(&format!("\n[profile.{}]\n", key(profile)));
        for (name, value) in settings.as_table().into_iter().flatten() {
            out.push_str(&format!("{} = {}\n", key(name), inline(value)?));
        }
    }
    Ok((out, left_out))
}

/// A TOML value written inline.
fn inline(value: &toml::Value) -> Result<String> {
    Ok(match value {
        toml::Value::String(it) => quote(it),
        toml::Value::Integer(it) => it.to_string(),
        toml::Value::Float(it) => it.to_string(),
        toml::Value::Boolean(it) => it.to_string(),
        toml::Value::Array(items) => format!("[{}]", items.iter().map(inline).collect::<Result<Vec<_>>>()?.join(", ")),
        toml::Value::Table(table) => {
            let fields = table.iter().filter(|(name, _)| name.as_str() != "optional");
            let fields: Vec<String> =
                fields.map(|(name, it)| Ok(format!("{} = {}", key(name), inline(it)?))).collect::<Result<_>>()?;
            format!("{{ {} }}", fields.join(", "))
        }
        toml::Value::Datetime(_) => bail!("a date in a Cargo.toml the estimate copies"),
    })
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { name.to_owned() } else { quote(name) }
}

/// A TOML basic string (JSON's escapes are TOML's).
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_manifest_leaves_out_the_aws_sdk_and_keeps_the_rest() {
        let xtask: toml::Table = r#"
            [features]
            iam = ["dep:aws-sdk-iam"]
            [dependencies]
            anyhow = "1"
            aws-config = { version = "1.13", default-features = false, features = ["rt-tokio"] }
            aws-sdk-iam = { version = "1.133", optional = true }
            crypto_box = { version = "0.9.1", default-features = false, optional = true }
            rustls = { version = "0.23", default-features = false }
            tokio = { version = "1", default-features = false, features = ["rt", "time"] }
            [target.'cfg(unix)'.dependencies]
            libc = { version = "0.2", default-features = false }
            [dev-dependencies]
            castack = { path = "../castack" }
        "#
        .parse()
        .unwrap();
        let root: toml::Table = r#"
            [workspace.package]
            edition = "2021"
            [profile.dev]
            debug = 0
            [profile.dev.package.sha2]
            opt-level = 1
        "#
        .parse()
        .unwrap();
        let (manifest, left_out) = manifest_without_aws(&xtask, &root).unwrap();
        assert_eq!(left_out, ["aws-config", "aws-sdk-iam", "crypto_box"]);
        let parsed: toml::Table = manifest.parse().expect(&manifest);
        let deps = parsed["dependencies"].as_table().unwrap();
        assert_eq!(deps.keys().collect::<Vec<_>>(), ["anyhow", "rustls", "tokio"]);
        assert_eq!(deps["tokio"], xtask["dependencies"]["tokio"]);
        assert_eq!(
            parsed["target"]["cfg(unix)"]["dependencies"]["libc"],
            xtask["target"]["cfg(unix)"]["dependencies"]["libc"]
        );
        assert_eq!(parsed["package"]["edition"].as_str(), Some("2021"));
        assert_eq!(parsed["profile"], root["profile"]);
        assert!(parsed.get("dev-dependencies").is_none(), "{manifest}");
        // A dependency the copy cannot reproduce is refused, not dropped.
        let by_path: toml::Table = "[dependencies]\nlocal = { path = \"../local\" }".parse().unwrap();
        assert!(manifest_without_aws(&by_path, &root).is_err());
    }

    #[test]
    fn cargo_logs_and_zip_reports_are_read() {
        let log = "   Compiling xtask v0.1.0 (/w/xtask)\n    Finished `dev` profile\n   Compiling ring v0.17.14\n";
        assert_eq!(compiled_crates(log), ["xtask", "ring"]);
        let artifact = parse_zip_report("1000 400 0.25 0.125\n").unwrap();
        assert_eq!(artifact.zipped, 400);
        assert_eq!(artifact.unzip, Duration::from_millis(125));
        assert!(parse_zip_report("1000 400 0.25").is_err());
        assert!(parse_zip_report("1000 400 -1 0.1").is_err());
    }
}
