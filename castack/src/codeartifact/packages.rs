//! The package operations (DescribePackage, ListPackageVersions,
//! DescribePackageVersion, ListPackageVersionAssets), answered from pypiserver's
//! package folder as the store files it (`store.rs`): each upload under the name
//! and version of its upload form, and only once the publishing latency has
//! passed. What is on disk is what CodeArtifact would have stored, so the answers
//! never disagree with what the PyPI endpoint serves. A package exists once it has a
//! version or a record of its origin configuration (PutPackageOriginConfiguration
//! creates one); each version's `origin` says whether it was published to this
//! repository (INTERNAL) or ingested from the external connection (EXTERNAL).

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use crate::{http::lock, operation::CodeArtifactOp as Op, pypi, state::State, util, util::Query};

use super::{
    error::ApiError,
    validate::{Target, paginate},
};

/// Versions of one package: version → files, ordered by first publication.
struct PackageView {
    display_name: String,
    versions: Vec<VersionView>,
}

struct VersionView {
    version: String,
    published: SystemTime,
    files: Vec<pypi::DistFile>,
}

/// How a version reached the repository: its first file's way.
enum Origin<'a> {
    Internal,
    External(&'a str),
}

impl VersionView {
    /// Changes whenever an asset is added or replaced.
    fn revision(&self) -> String {
        let mut text = String::new();
        for file in &self.files {
            let nanos = file.modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            text.push_str(&format!("{}:{}:{nanos};", file.file_name, file.size));
        }
        pypi::sha256_hex(text.as_bytes())[..32].to_owned()
    }

    fn origin(&self) -> Origin<'_> {
        let first = self.files.iter().min_by_key(|it| it.modified);
        match first.and_then(|it| it.external.as_deref()) {
            Some(connection) => Origin::External(connection),
            None => Origin::Internal,
        }
    }
}

impl PackageView {
    fn version(&self, target: &Target) -> Result<&VersionView, ApiError> {
        self.versions.iter().find(|it| it.version == target.version).ok_or_else(|| {
            ApiError::not_found(
                "package-version",
                &target.version,
                format!("Version '{}' of package '{}' was not found.", target.version, target.package),
            )
        })
    }
}

/// The package's versions; `None` when it has neither a version nor a record.
fn load_package(state: &State, package: &str) -> Option<PackageView> {
    let files: Vec<pypi::DistFile> = state.visible_files().into_iter().filter(|it| it.package == package).collect();
    let Some(first) = files.iter().min_by_key(|it| it.modified) else {
        let record = lock(&state.store).record(package);
        return record.map(|_| PackageView { display_name: package.to_owned(), versions: Vec::new() });
    };
    let display_name = first.project.clone();
    let mut by_version: BTreeMap<String, Vec<pypi::DistFile>> = BTreeMap::new();
    for file in files {
        by_version.entry(file.version.clone()).or_default().push(file);
    }
    let mut versions: Vec<VersionView> = by_version
        .into_iter()
        .map(|(version, files)| VersionView {
            published: files.iter().map(|it| it.modified).min().unwrap_or(UNIX_EPOCH),
            version,
            files,
        })
        .collect();
    versions.sort_by(|a, b| a.published.cmp(&b.published).then_with(|| a.version.cmp(&b.version)));
    Some(PackageView { display_name, versions })
}

/// Answers a package operation for `target`, whose domain and repository exist.
pub(crate) fn answer(state: &State, op: Op, target: &Target, query: &Query) -> Result<Value, ApiError> {
    if target.format != "pypi" {
        return Err(package_not_found(target));
    }
    let package = load_package(state, &target.package).ok_or_else(|| package_not_found(target))?;
    match op {
        Op::DescribePackage => Ok(describe_package(state, target, !package.versions.is_empty())),
        Op::ListPackageVersions => list_versions(&package, target, query),
        Op::DescribePackageVersion => Ok(describe_version(&package, package.version(target)?, target)),
        Op::ListPackageVersionAssets => list_assets(package.version(target)?, target, query),
        _ => unreachable!("not a package operation: {op:?}"),
    }
}

/// CodeArtifact stores PyPI names normalized; the hint saves a person the guess.
fn package_not_found(target: &Target) -> ApiError {
    let normalized = pypi::normalize_name(&target.package);
    let hint = if target.format == "pypi" && normalized != target.package {
        format!(" CodeArtifact stores PyPI names normalized: try '{normalized}'.")
    } else {
        String::new()
    };
    ApiError::not_found(
        "package",
        &target.package,
        format!(
            "Package '{}' of format {} was not found in repository '{}'.{hint}",
            target.package, target.format, target.repository
        ),
    )
}

/// A version's `origin`: the repository it was published to, or the external
/// connection it was ingested from.
fn origin(version: &VersionView, target: &Target) -> Value {
    match version.origin() {
        Origin::Internal => json!({
            "domainEntryPoint": { "repositoryName": target.repository },
            "originType": "INTERNAL",
        }),
        Origin::External(connection) => json!({
            "domainEntryPoint": { "externalConnectionName": connection },
            "originType": "EXTERNAL",
        }),
    }
}

fn origin_type(version: &VersionView) -> &'static str {
    match version.origin() {
        Origin::Internal => "INTERNAL",
        Origin::External(_) => "EXTERNAL",
    }
}

fn describe_package(state: &State, target: &Target, has_files: bool) -> Value {
    let origin = state.origin_of(&target.package, has_files).unwrap_or_default();
    json!({ "package": {
        "format": "pypi",
        "name": target.package,
        "originConfiguration": { "restrictions": {
            "publish": origin.publish.as_str(),
            "upstream": origin.upstream.as_str(),
        }},
    }})
}

fn list_versions(package: &PackageView, target: &Target, query: &Query) -> Result<Value, ApiError> {
    // Every version is published, so a status filter for anything else leaves none.
    let published = query.get("status").is_none_or(|it| it == "Published");
    let latest = package.versions.iter().max_by_key(|it| it.published).map(|it| it.version.clone());
    let versions: Vec<Value> = package
        .versions
        .iter()
        .filter(|it| published && query.get("originType").is_none_or(|wanted| wanted == origin_type(it)))
        .map(|it| {
            json!({
                "version": it.version,
                "revision": it.revision(),
                "status": "Published",
                "origin": origin(it, target),
            })
        })
        .collect();
    let (page, next) = paginate(versions, query)?;
    let mut body = json!({
        "format": "pypi",
        "package": target.package,
        "versions": page,
    });
    // A package with a record and no version yet has no version to display.
    if let Some(latest) = latest {
        body["defaultDisplayVersion"] = json!(latest);
    }
    Ok(with_next_token(body, next))
}

fn describe_version(package: &PackageView, version: &VersionView, target: &Target) -> Value {
    json!({ "packageVersion": {
        "format": "pypi",
        "packageName": target.package,
        "displayName": package.display_name,
        "version": version.version,
        "publishedTime": util::epoch_secs(version.published),
        "revision": version.revision(),
        "status": "Published",
        "licenses": [],
        "origin": origin(version, target),
    }})
}

fn list_assets(version: &VersionView, target: &Target, query: &Query) -> Result<Value, ApiError> {
    let mut assets = Vec::new();
    for file in &version.files {
        let hashes = pypi::hash_file(&file.path)
            .map_err(|err| ApiError::internal(format!("cannot read {}: {err}", file.file_name)))?;
        assets.push(json!({
            "name": file.file_name,
            "size": file.size,
            "hashes": {
                "MD5": hashes.md5,
                "SHA-1": hashes.sha1,
                "SHA-256": hashes.sha256,
                "SHA-512": hashes.sha512,
            },
        }));
    }
    let (page, next) = paginate(assets, query)?;
    let body = json!({
        "format": "pypi",
        "package": target.package,
        "version": version.version,
        "versionRevision": version.revision(),
        "assets": page,
    });
    Ok(with_next_token(body, next))
}

/// Paginated answers carry `nextToken` only when another page follows.
fn with_next_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["nextToken"] = json!(next);
    }
    body
}
