//! The stamp's journal: outside CI, before the version file is stamped, its
//! original bytes and the stamped bytes' SHA-256 go into a small file in the
//! repository's own folder (`xtask-stamp.json` next to the checkout's lock); the
//! restore removes it. A run that died without restoring (SIGKILL, power loss)
//! leaves it, and the next run, holding the checkout's lock, puts the file back
//! first and says so, or refuses with the exact `git checkout -- FILE` when the file
//! changed since.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{fsutil, report};

/// Where the journal of a checkout lives.
pub fn path(git_dir: &Path) -> PathBuf {
    git_dir.join("xtask-stamp.json")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Records the file about to be stamped (written atomically before the stamp).
pub fn record(journal: &Path, (file, label): (&Path, &str), original: &[u8], stamped: &[u8]) -> Result<()> {
    let entry = json!({
        "file": file.to_string_lossy(),
        "label": label,
        "original": base64_simd::STANDARD.encode_to_string(original),
        "stamped-sha256": sha256(stamped),
        "pid": std::process::id(),
    });
    fsutil::write_atomic(journal, entry.to_string().as_bytes())
        .with_context(|| format!("write the stamp's journal {}", journal.display()))
}

/// Forgets the stamp (after the file was put back).
pub fn clear(journal: &Path) {
    let _ = fs::remove_file(journal);
}

/// Puts back a version file an earlier run stamped and never restored. Called with
/// the checkout's lock held, so no run that could still restore it is alive.
pub fn recover(journal: &Path) -> Result<()> {
    let Ok(text) = fs::read_to_string(journal) else { return Ok(()) };
    let broken = || format!("the stamp's journal {} cannot be read: remove it", journal.display());
    let entry: Value = serde_json::from_str(&text).with_context(broken)?;
    let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(file), Some(label), Some(original), Some(stamped_sha)) =
        (field("file"), field("label"), field("original"), field("stamped-sha256"))
    else {
        bail!("{}", broken());
    };
    let original =
        base64_simd::STANDARD.decode_to_vec(original.as_bytes()).map_err(|_| anyhow::format_err!("{}", broken()))?;
    let pid = entry.get("pid").and_then(Value::as_u64).unwrap_or(0);
    let file = PathBuf::from(file);
    let now = fs::read(&file).unwrap_or_default();
    if now == original {
        clear(journal);
        return Ok(());
    }
    if sha256(&now) != stamped_sha {
        bail!(
            "{label} was stamped by a release that did not finish (pid {pid}) and has changed since: put it back \
             with `git checkout -- {label}` (or keep your change), then remove {}",
            journal.display()
        );
    }
    fsutil::write_atomic(&file, &original).with_context(|| format!("put back {label}"))?;
    clear(journal);
    report::warn(&format!(
        "{label} was left stamped by a release that did not finish (pid {pid}); it is put back as it was before"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_back_only_what_it_stamped() {
        let dir = std::env::temp_dir().join(format!("xtask-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (file, journal) = (dir.join("__about__.py"), path(&dir));
        let (original, stamped) = (b"__version__ = \"0.1.0\"\n".as_slice(), b"__version__ = \"9.9.9\"\n".as_slice());

        // Killed after the stamp: the next run restores the original.
        fs::write(&file, stamped).unwrap();
        record(&journal, (&file, "x/__about__.py"), original, stamped).unwrap();
        recover(&journal).unwrap();
        assert_eq!(fs::read(&file).unwrap(), original);
        assert!(!journal.exists());

        // Killed before the stamp was written: nothing to do.
        record(&journal, (&file, "x/__about__.py"), original, stamped).unwrap();
        recover(&journal).unwrap();
        assert_eq!(fs::read(&file).unwrap(), original);
        assert!(!journal.exists());

        // Changed by hand since: refused with the command, the file untouched.
        fs::write(&file, b"__version__ = \"1.2.3\"\n").unwrap();
        record(&journal, (&file, "x/__about__.py"), original, stamped).unwrap();
        let err = recover(&journal).unwrap_err().to_string();
        assert!(err.contains("git checkout -- x/__about__.py"), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"__version__ = \"1.2.3\"\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
