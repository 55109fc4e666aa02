//! Advisory file locks (`flock`) and the temporary folders they protect.
//!
//! The kernel drops a `flock` when its holder dies, even by `kill -9`, so a lock
//! can never outlive a crashed zoo. That is what makes the rules below safe:
//!
//! - `store.lock`: every process that adds to or removes from the store (pull,
//!   rm, finetune's registration) holds it shared; `zoo gc` holds it exclusive,
//!   so gc never sees a blob that a running pull has stored but not yet
//!   published in a manifest.
//! - `model-<name>.lock`: one writer per model at a time (pull, rm).
//! - a temporary folder `.<name>.<kind>-<pid>` (staging, tmp, old) exists only
//!   while its writer holds the model's lock; whoever holds that lock and finds
//!   one whose process is gone may delete it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::FetchError;

/// A held lock, released on drop or when the process dies.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

fn open(path: &Path) -> Result<File, FetchError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(FetchError::io("cannot create", dir))?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(FetchError::io("cannot open lock", path))
}

/// Wait for the lock at `path` (created if missing).
pub fn acquire(path: &Path, mode: Mode) -> Result<FileLock, FetchError> {
    let file = open(path)?;
    match mode {
        Mode::Shared => file.lock_shared(),
        Mode::Exclusive => file.lock(),
    }
    .map_err(FetchError::io("cannot lock", path))?;
    Ok(FileLock {
        _file: file,
        path: path.to_owned(),
    })
}

/// The lock at `path` if nobody holds it in a conflicting mode; `None` if busy.
pub fn try_acquire(path: &Path, mode: Mode) -> Result<Option<FileLock>, FetchError> {
    let file = open(path)?;
    let got = match mode {
        Mode::Shared => file.try_lock_shared(),
        Mode::Exclusive => file.try_lock(),
    };
    match got {
        Ok(()) => Ok(Some(FileLock {
            _file: file,
            path: path.to_owned(),
        })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(FetchError::io("cannot lock", path)(e)),
    }
}

/// The lock at `path`; when someone else holds it, `waiting` is called once
/// (to tell the user why nothing happens) before blocking.
pub fn acquire_or_wait(
    path: &Path,
    mode: Mode,
    waiting: impl FnOnce(),
) -> Result<FileLock, FetchError> {
    if let Some(lock) = try_acquire(path, mode)? {
        return Ok(lock);
    }
    waiting();
    acquire(path, mode)
}

/// Whether process `pid` still runs. Only Linux's `/proc` answers this without
/// unsafe code; elsewhere every process counts as alive, and the lock rule
/// alone decides (a temporary folder seen under its model's lock is stale).
pub fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// A temporary folder name `.<name>.<kind>-<pid>` split into its model name and
/// owner, when `kind` is one of `kinds`.
pub fn temp_dir_owner<'a>(file_name: &'a str, kinds: &[&str]) -> Option<(&'a str, u32)> {
    let rest = file_name.strip_prefix('.')?;
    let (name, tag) = rest.rsplit_once('.')?;
    let (kind, pid) = tag.split_once('-')?;
    if name.is_empty() || !kinds.contains(&kind) || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, pid.parse().ok()?))
}

/// Clean up the temporary folders of `name` under `dir` (kinds `kinds`) whose
/// process is gone. The caller holds the model's lock, so none of them can be in
/// the middle of its rename. A kill between the two renames of a replacement
/// leaves the previous version as `.NAME.old-PID` and no `NAME`: that folder is
/// renamed back, so the kill costs the update, never the model. Everything else
/// is deleted. Returns what was deleted.
pub fn remove_stale_temp_dirs(dir: &Path, name: Option<&str>, kinds: &[&str]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return removed;
    };
    let own = std::process::id();
    let mut stale: Vec<(String, u32, PathBuf)> = rd
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let (owner_name, pid) = temp_dir_owner(&file_name, kinds)?;
            let skip = name.is_some_and(|n| n != owner_name) || pid == own || process_alive(pid);
            (!skip).then(|| (owner_name.to_owned(), pid, entry.path()))
        })
        .collect();
    // Previous versions first, so a restored one is in place before the rest go.
    stale.sort_by_key(|(_, _, path)| !is_old_version(path));
    for (owner_name, _, path) in stale {
        let published = dir.join(&owner_name);
        if is_old_version(&path)
            && !published.exists()
            && std::fs::rename(&path, &published).is_ok()
        {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

/// Whether a temporary folder holds the version a replacement moved aside.
fn is_old_version(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('.'))
        .is_some_and(|(_, tag)| tag.starts_with("old-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dir_names() {
        let kinds = ["staging", "old"];
        assert_eq!(
            temp_dir_owner(".pets.staging-42", &kinds),
            Some(("pets", 42))
        );
        assert_eq!(
            temp_dir_owner(".my.model-2.old-7", &kinds),
            Some(("my.model-2", 7))
        );
        assert_eq!(temp_dir_owner("pets.staging-42", &kinds), None);
        assert_eq!(temp_dir_owner(".pets.tmp-42", &kinds), None);
        assert_eq!(temp_dir_owner(".pets.staging-4x", &kinds), None);
        assert_eq!(temp_dir_owner(".pets.staging-", &kinds), None);
        assert_eq!(temp_dir_owner("..staging-1", &kinds), None);
    }

    #[test]
    fn shared_locks_exclude_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/store.lock");
        let a = try_acquire(&path, Mode::Shared).unwrap().expect("free");
        let b = try_acquire(&path, Mode::Shared).unwrap().expect("shared");
        assert!(try_acquire(&path, Mode::Exclusive).unwrap().is_none());
        drop((a, b));
        let x = try_acquire(&path, Mode::Exclusive).unwrap().expect("free");
        assert!(try_acquire(&path, Mode::Shared).unwrap().is_none());
        drop(x);
    }

    #[test]
    fn only_dead_owners_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let live = format!(".pets.staging-{}", std::process::id());
        // PIDs are below 2^22 on Linux, so this one never runs.
        let dead = ".pets.staging-4194305";
        let other = ".cats.staging-4194305";
        for d in [live.as_str(), dead, other] {
            std::fs::create_dir_all(dir.path().join(d).join("sub")).unwrap();
        }
        let removed = remove_stale_temp_dirs(dir.path(), Some("pets"), &["staging"]);
        assert_eq!(removed, vec![dir.path().join(dead)]);
        assert!(dir.path().join(&live).is_dir());
        assert!(dir.path().join(other).is_dir());
    }
}
