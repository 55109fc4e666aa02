//! Fixture repositories: what the fake Hub serves.

use std::io;
use std::path::{Path, PathBuf};

/// Files larger than this are stored as LFS by [`FixtureRepo::from_dir`],
/// matching the Hub's default threshold for plain git.
pub const LFS_THRESHOLD: u64 = 10 * 1024 * 1024;

/// Extensions the Hub's default `.gitattributes` routes to LFS (weights, archives).
const LFS_EXTENSIONS: &[&str] = &[
    "7z",
    "arrow",
    "bin",
    "bz2",
    "ckpt",
    "ftz",
    "gguf",
    "gz",
    "h5",
    "joblib",
    "mlmodel",
    "model",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "rar",
    "safetensors",
    "tar",
    "tflite",
    "tgz",
    "wasm",
    "xz",
    "zip",
    "zst",
];

/// Where a fixture file's bytes live.
#[derive(Debug, Clone)]
pub enum FileContent {
    /// Held in memory.
    Bytes(Vec<u8>),
    /// Read from disk on every request, in chunks, so a multi-GiB benchmark
    /// file never has to fit in memory.
    Disk(PathBuf),
}

/// One file of a [`FixtureRepo`].
#[derive(Debug, Clone)]
pub struct FixtureFile {
    /// Path inside the repo, `/`-separated, e.g. `onnx/model.onnx`.
    pub path: String,
    pub content: FileContent,
    /// LFS files are served as the Hub does: a 302 from `/resolve` to the CDN,
    /// with the sha256 as ETag. Others are served directly with a git-blob ETag.
    pub lfs: bool,
}

impl FixtureFile {
    /// An in-memory LFS file.
    pub fn lfs(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(bytes.into()),
            lfs: true,
        }
    }

    /// A small in-memory file stored in plain git (served without redirect).
    pub fn text(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(text.into().into_bytes()),
            lfs: false,
        }
    }

    /// A file streamed from `disk` on each request.
    pub fn disk(path: impl Into<String>, disk: impl Into<PathBuf>, lfs: bool) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Disk(disk.into()),
            lfs,
        }
    }
}

/// A model repository as the fake Hub serves it.
#[derive(Debug, Clone)]
pub struct FixtureRepo {
    /// `org/name`.
    pub id: String,
    /// The branch name that resolves to this repo's single commit (default `main`).
    pub revision: String,
    pub files: Vec<FixtureFile>,
    /// When set, `/resolve` answers 401 `X-Error-Code: GatedRepo` unless the
    /// request carries `Authorization: Bearer <server token>`.
    pub gated: bool,
}

impl FixtureRepo {
    /// An empty, public repo on `main`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            revision: "main".to_string(),
            files: Vec::new(),
            gated: false,
        }
    }

    /// Adds an in-memory LFS file.
    pub fn lfs_file(self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.file(FixtureFile::lfs(path, bytes))
    }

    /// Adds a small non-LFS file.
    pub fn text_file(self, path: impl Into<String>, text: impl Into<String>) -> Self {
        self.file(FixtureFile::text(path, text))
    }

    /// Adds any file; a later file with the same path replaces the earlier one.
    pub fn file(mut self, file: FixtureFile) -> Self {
        self.files.retain(|f| f.path != file.path);
        self.files.push(file);
        self
    }

    /// Marks the repo as gated: its files need the server token.
    pub fn gated(mut self) -> Self {
        self.gated = true;
        self
    }

    /// Names the branch that resolves to the repo's commit (instead of `main`).
    pub fn with_revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = revision.into();
        self
    }

    /// Every file under `dir` (recursively, `.git` skipped), served from disk.
    /// Files over [`LFS_THRESHOLD`] or with a model/archive extension are LFS.
    pub fn from_dir(id: impl Into<String>, dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref();
        let mut found = Vec::new();
        walk(dir, &mut found)?;
        found.sort();
        let mut repo = Self::new(id);
        for disk in found {
            let rel = disk.strip_prefix(dir).map_err(io::Error::other)?;
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let lfs = std::fs::metadata(&disk)?.len() > LFS_THRESHOLD || has_lfs_extension(&path);
            repo.files.push(FixtureFile::disk(path, disk, lfs));
        }
        Ok(repo)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(&path, out)?;
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn has_lfs_extension(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| LFS_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Deterministic pseudo-random bytes (splitmix64): the same `seed` and `len`
/// always give the same bytes, and different seeds give unrelated ones.
pub fn fixture_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ 0x5EED_F1C7_0000_0000;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_deterministic() {
        assert_eq!(fixture_bytes(7, 1000), fixture_bytes(7, 1000));
        assert_ne!(fixture_bytes(7, 64), fixture_bytes(8, 64));
        assert_eq!(fixture_bytes(7, 13), fixture_bytes(7, 100)[..13]);
        assert!(fixture_bytes(1, 0).is_empty());
    }

    #[test]
    fn lfs_extensions() {
        assert!(has_lfs_extension("onnx/model.ONNX"));
        assert!(has_lfs_extension("weights.safetensors"));
        assert!(!has_lfs_extension("config.json"));
        assert!(!has_lfs_extension("README"));
    }
}
