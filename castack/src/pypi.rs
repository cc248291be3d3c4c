//! What the emulator knows about Python packages: PEP 503 names, distribution file
//! names, the pypiserver package folder, asset hashes, and twine's multipart upload
//! form.

use std::{
    fs, io,
    io::Read,
    path::{Path, PathBuf},
    time::SystemTime,
};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// PEP 503 normalization, which CodeArtifact applies to PyPI package names:
/// lowercase, every run of `-`, `_` and `.` becomes one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// The project name (as written in the file name) and version of a distribution
/// file, or `None` for anything that is not a wheel or an sdist.
///
/// Wheels: `{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`, where name and version
/// never contain `-`. Sdists: `{name}-{ver}.tar.gz` (also `.zip` and other archive
/// suffixes); older sdists may have `-` in the name, so the version is what follows
/// the last `-`.
pub fn parse_dist_name(file_name: &str) -> Option<(String, String)> {
    if let Some(stem) = file_name.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|it| it.is_empty()) {
            return None;
        }
        return Some((parts[0].to_owned(), parts[1].to_owned()));
    }
    const SDIST: [&str; 6] = [".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"];
    let stem = SDIST.iter().find_map(|suffix| file_name.strip_suffix(suffix))?;
    let (name, version) = stem.rsplit_once('-')?;
    if name.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((name.to_owned(), version.to_owned()))
}

/// One distribution file in the package folder.
#[derive(Clone, Debug)]
pub struct DistFile {
    pub file_name: String,
    /// The name as written in the file name (`my_pkg`).
    pub project: String,
    /// PEP 503-normalized name (`my-pkg`).
    pub package: String,
    pub version: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
    /// The external connection the file was ingested from (`public:pypi`); `None`
    /// for a file published to the repository (or put into its folder by hand).
    pub external: Option<String>,
}

/// Every distribution file under `dir` (pypiserver also looks into subfolders),
/// sorted by file name. A missing folder is an empty repository.
pub fn scan(dir: &Path) -> Vec<DistFile> {
    let mut out = Vec::new();
    scan_into(dir, 0, &mut out);
    out.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    out
}

fn scan_into(dir: &Path, depth: usize, out: &mut Vec<DistFile>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if depth < 4 {
                scan_into(&entry.path(), depth + 1, out);
            }
            continue;
        }
        let Some((project, version)) = parse_dist_name(&name) else { continue };
        out.push(DistFile {
            package: normalize_name(&project),
            project,
            version,
            path: entry.path(),
            size: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            external: None,
            file_name: name,
        });
    }
}

/// The four digests CodeArtifact reports for an asset, lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

pub fn hash_file(path: &Path) -> io::Result<Hashes> {
    let mut file = fs::File::open(path)?;
    let (mut md5, mut sha1, mut sha256, mut sha512) = (Md5::new(), Sha1::new(), Sha256::new(), Sha512::new());
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
        sha512.update(&buf[..n]);
    }
    Ok(Hashes {
        md5: crate::util::hex(&md5.finalize()),
        sha1: crate::util::hex(&sha1.finalize()),
        sha256: crate::util::hex(&sha256.finalize()),
        sha512: crate::util::hex(&sha512.finalize()),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::util::hex(&Sha256::digest(bytes))
}

/// One part of a `multipart/form-data` body.
pub(crate) struct Part<'a> {
    pub name: String,
    pub file_name: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Splits a multipart body into its parts; `None` if it is malformed.
pub(crate) fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        let rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, &next_delimiter)?;
        let (mut name, mut file_name) = (None, None);
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                let Some((key, value)) = param.split_once('=') else { continue };
                let value = value.trim().trim_matches('"').to_owned();
                match key.trim() {
                    "name" => name = Some(value),
                    "filename" => file_name = Some(value),
                    _ => {}
                }
            }
        }
        parts.push(Part { name: name?, file_name, data: &content[..end] });
        at = body.len() - content.len() + end + next_delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Boundaries are short (at most 200 bytes), so a plain window search is enough.
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        assert_eq!(normalize_name("My_Pkg"), "my-pkg");
        assert_eq!(normalize_name("a.-_b"), "a-b");
        assert_eq!(normalize_name("yamause"), "yamause");
    }

    #[test]
    fn dist_names() {
        let parse = |it| parse_dist_name(it);
        assert_eq!(parse("my_pkg-1.0.0-py3-none-any.whl"), Some(("my_pkg".into(), "1.0.0".into())));
        assert_eq!(parse("my_pkg-1.0.0-1-py3-none-any.whl"), Some(("my_pkg".into(), "1.0.0".into())));
        assert_eq!(parse("my_pkg-1.0.0.tar.gz"), Some(("my_pkg".into(), "1.0.0".into())));
        assert_eq!(parse("my-pkg-1.0.0.tar.gz"), Some(("my-pkg".into(), "1.0.0".into())));
        assert_eq!(parse("my_pkg-1.0.0-py3-any.whl"), None);
        assert_eq!(parse("README.txt"), None);
        assert_eq!(parse("noversion.tar.gz"), None);
    }

    #[test]
    fn multipart() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n\
            --XX\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a.whl\"\r\n\
            Content-Type: application/octet-stream\r\n\r\nBIN\r\n--DATA\r\n--XX--\r\n";
        let parts = multipart_parts(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, ":action");
        assert_eq!(parts[0].data, b"file_upload");
        assert_eq!(parts[1].file_name.as_deref(), Some("a.whl"));
        assert_eq!(parts[1].data, b"BIN\r\n--DATA");
        assert!(multipart_parts(b"garbage", "XX").is_none());
        assert!(multipart_parts(b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nX", "XX").is_none());
        assert!(multipart_parts(b"--XX", "XX").is_none());
        assert!(multipart_parts(b"--X", "XX").is_none());
        assert_eq!(multipart_boundary("multipart/form-data; boundary=\"abc\"").as_deref(), Some("abc"));
    }
}
