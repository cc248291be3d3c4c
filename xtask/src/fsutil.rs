//! Files read and written without surprises: writes that never leave a
//! half-written file behind, files of an untrusted folder opened only when they are
//! regular (never through a link, never blocking on a FIFO), and a path inside the
//! repository that has no link on its way.

use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    path::{Component, Path, PathBuf},
};

use anyhow::{Context, Result, bail};

/// Writes `contents` to `path` atomically: into a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. A crash or a full disk leaves either the
/// old file or the new one, never a mix. An existing file keeps its permissions.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|it| !it.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().context("a file path has a file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let res = (|| -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        file.write_all(contents).with_context(|| format!("write {}", tmp.display()))?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())
                .with_context(|| format!("copy the permissions of {}", path.display()))?;
        }
        file.sync_all().with_context(|| format!("flush {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("replace {}", path.display()))
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Opens `path` for reading if it is a regular file. `lstat` first, so that a link
/// is refused rather than followed and a FIFO or device is never opened; then the
/// open itself does not follow a link (`O_NOFOLLOW`) nor wait on a FIFO
/// (`O_NONBLOCK`), and what was opened must be a regular file: a swap between the
/// two changes nothing.
pub fn open_regular(path: &Path) -> Result<File> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("read the type of {}", path.display()))?;
    if meta.file_type().is_symlink() {
        bail!("{} is a symbolic link: only regular files are read here", path.display());
    }
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (a FIFO, a device or a folder): only regular files are read here",
            path.display()
        );
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(path).with_context(|| format!("open {}", path.display()))?;
    if !file.metadata().with_context(|| format!("read the type of {}", path.display()))?.is_file() {
        bail!("{} is not a regular file: only regular files are read here", path.display());
    }
    Ok(file)
}

/// The bytes of the regular file `path` (`open_regular`), at most `cap` of them:
/// a larger file is refused, not read to its end.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    open_regular(path)?.take(cap + 1).read_to_end(&mut data).with_context(|| format!("read {}", path.display()))?;
    if data.len() as u64 > cap {
        bail!("{} is larger than {cap} bytes, the limit for it", path.display());
    }
    Ok(data)
}

/// `root/relative`, when `relative` names a regular file inside `root` through
/// folders only: no component may be a symbolic link (nor anything but a folder on
/// the way), so that reading, writing or replacing the file touches that file and
/// nothing outside the repository. The refusal names the component.
pub fn regular_file_in(root: &Path, relative: &Path) -> Result<PathBuf> {
    let shown = relative.display();
    if !relative.components().all(|it| matches!(it, Component::Normal(_))) {
        bail!("{shown} is not a relative path inside the repository");
    }
    let mut path = root.to_path_buf();
    let mut walked = PathBuf::new();
    let count = relative.components().count();
    for (i, part) in relative.components().enumerate() {
        path.push(part);
        walked.push(part);
        let meta =
            fs::symlink_metadata(&path).with_context(|| format!("read {shown}: {} is missing", walked.display()))?;
        let last = i + 1 == count;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map(|it| format!(" (to {})", it.display())).unwrap_or_default();
            bail!(
                "{} is a symbolic link{target}: {shown} and every folder on its path must be a regular file or \
                 folder of the repository, so that nothing is written through a link; replace the link with what \
                 it points to",
                walked.display()
            );
        }
        if last && !meta.is_file() {
            bail!("{shown} is not a regular file");
        }
        if !last && !meta.is_dir() {
            bail!("{} (on the path of {shown}) is not a folder", walked.display());
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("xtask-fsutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        fs::write(&path, "old contents that are longer").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|it| it.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn opens_regular_files_only() {
        let dir = std::env::temp_dir().join(format!("xtask-fsutil-open-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a");
        fs::write(&file, "12345").unwrap();
        assert_eq!(read_capped(&file, 5).unwrap(), b"12345");
        assert!(read_capped(&file, 4).unwrap_err().to_string().contains("larger than 4 bytes"));
        std::os::unix::fs::symlink(&file, dir.join("link")).unwrap();
        let err = open_regular(&dir.join("link")).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let err = open_regular(&dir.join("fifo")).unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
        assert!(open_regular(&dir).unwrap_err().to_string().contains("is not a regular file"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_in_the_repository_has_no_link() {
        let root = std::env::temp_dir().join(format!("xtask-fsutil-links-{}", std::process::id()));
        let outside = root.join("outside");
        let repo = root.join("repo");
        fs::create_dir_all(repo.join("pkg")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(repo.join("pkg/v.py"), "x").unwrap();
        fs::write(outside.join("v.py"), "x").unwrap();
        assert_eq!(regular_file_in(&repo, Path::new("pkg/v.py")).unwrap(), repo.join("pkg/v.py"));
        std::os::unix::fs::symlink(&outside, repo.join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.join("v.py"), repo.join("pkg/link.py")).unwrap();
        let cases = [
            ("linked/v.py", "linked is a symbolic link"),
            ("pkg/link.py", "pkg/link.py is a symbolic link"),
            ("pkg", "pkg is not a regular file"),
            ("pkg/v.py/x", "pkg/v.py (on the path of pkg/v.py/x) is not a folder"),
            ("../outside/v.py", "not a relative path inside the repository"),
            ("/etc/passwd", "not a relative path inside the repository"),
            ("pkg/missing.py", "pkg/missing.py is missing"),
        ];
        for (relative, want) in cases {
            let err = format!("{:#}", regular_file_in(&repo, Path::new(relative)).unwrap_err());
            assert!(err.contains(want), "{relative}: {err}");
        }
        fs::remove_dir_all(&root).unwrap();
    }
}
