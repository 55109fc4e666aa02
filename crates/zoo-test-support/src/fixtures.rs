//! Fixture repositories: what the fake Hub serves.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

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
    /// A git blob id the server claims for this file instead of the real one:
    /// see [`FixtureFile::with_claimed_oid`].
    pub claimed_oid: Option<String>,
}

impl FixtureFile {
    /// An in-memory LFS file.
    pub fn lfs(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(bytes.into()),
            lfs: true,
            claimed_oid: None,
        }
    }

    /// A small in-memory file stored in plain git (served without redirect).
    pub fn text(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(text.into().into_bytes()),
            lfs: false,
            claimed_oid: None,
        }
    }

    /// A file streamed from `disk` on each request.
    pub fn disk(path: impl Into<String>, disk: impl Into<PathBuf>, lfs: bool) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Disk(disk.into()),
            lfs,
            claimed_oid: None,
        }
    }

    /// Makes the server lie about this file's git blob id: the model info's
    /// `blobId`, the tree listing's `oid` and (for a plain file) the `ETag` of
    /// `/resolve` say `oid`, while the bytes served stay the real ones. For an
    /// LFS file only `blobId` and `oid` change (its `ETag` is the sha256). The
    /// repo's commit is computed from the claimed id, so it is still stable.
    pub fn with_claimed_oid(mut self, oid: impl Into<String>) -> Self {
        self.claimed_oid = Some(oid.into());
        self
    }
}

/// How a gated repo grants access: the Hub's `gated` value (`"manual"` or `"auto"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GateApproval {
    /// Requests are reviewed by the owner.
    #[default]
    Manual,
    /// Requests are granted at once.
    Auto,
}

impl GateApproval {
    /// The value of the Hub's `gated` field.
    pub fn as_str(self) -> &'static str {
        match self {
            GateApproval::Manual => "manual",
            GateApproval::Auto => "auto",
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
    /// request carries `Authorization: Bearer <server token>`. Metadata stays public.
    pub gated: bool,
    /// What the metadata's `gated` says when `gated` is set.
    pub gate_approval: GateApproval,
    /// The README front matter (a JSON object), served as `cardData` and, unless
    /// the repo has its own README.md, as the front matter of a generated one.
    pub card_data: Option<Value>,
    /// The Hub's `pipeline_tag`; unset: the card's `pipeline_tag`, if any.
    pub pipeline_tag: Option<String>,
    /// The Hub's `library_name`; unset: the card's `library_name`, if any.
    pub library_name: Option<String>,
    /// Tags added to the ones the server derives (see [`FixtureRepo::tag`]).
    pub tags: Vec<String>,
    pub downloads: u64,
    pub likes: u64,
}

impl FixtureRepo {
    /// An empty, public repo on `main`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            revision: "main".to_string(),
            files: Vec::new(),
            gated: false,
            gate_approval: GateApproval::Manual,
            card_data: None,
            pipeline_tag: None,
            library_name: None,
            tags: Vec::new(),
            downloads: 0,
            likes: 0,
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

    /// Marks the repo as gated with manual approval (`"gated": "manual"`): its
    /// files need the server token, its metadata stays public.
    pub fn gated(mut self) -> Self {
        self.gated = true;
        self.gate_approval = GateApproval::Manual;
        self
    }

    /// Like [`FixtureRepo::gated`], with automatic approval (`"gated": "auto"`).
    pub fn gated_auto(mut self) -> Self {
        self.gated = true;
        self.gate_approval = GateApproval::Auto;
        self
    }

    /// The README front matter: `license`, `license_name`, `license_link`,
    /// `base_model` (a string or a list), `base_model_relation`, `datasets`,
    /// `pipeline_tag`, `library_name`, `tags`, `language`, ... It is served as
    /// `cardData`, feeds the derived `tags`, and becomes the front matter of a
    /// generated `README.md` unless the repo has one.
    ///
    /// # Panics
    /// If `data` is not a JSON object (front matter is a mapping).
    pub fn card_data(mut self, data: Value) -> Self {
        assert!(
            data.is_object(),
            "card data must be a JSON object, got {data}"
        );
        self.card_data = Some(data);
        self
    }

    /// The Hub's `pipeline_tag` (overrides the card's).
    pub fn pipeline_tag(mut self, tag: &str) -> Self {
        self.pipeline_tag = Some(tag.to_string());
        self
    }

    /// The Hub's `library_name` (overrides the card's).
    pub fn library_name(mut self, name: &str) -> Self {
        self.library_name = Some(name.to_string());
        self
    }

    /// One more tag, served after the card's own tags.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// The `downloads` count (the default sort order of searches).
    pub fn downloads(mut self, n: u64) -> Self {
        self.downloads = n;
        self
    }

    pub fn likes(mut self, n: u64) -> Self {
        self.likes = n;
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

/// A dataset repository as the fake Hub serves it (`/api/datasets/{id}`,
/// `/api/datasets/{id}/tree/...`, `/datasets/{id}/resolve/...`).
///
/// ```
/// use serde_json::json;
/// use zoo_test_support::FixtureDataset;
/// let d = FixtureDataset::new("org/reviews").card_data(json!({"license": "cc-by-nc-4.0"}));
/// assert_eq!(d.repo.id, "org/reviews");
/// ```
#[derive(Debug, Clone)]
pub struct FixtureDataset {
    /// Id, revision, files, gating, card data, extra tags, downloads and likes,
    /// with the same meaning as for a model repo (`pipeline_tag` and
    /// `library_name` are not served for datasets).
    pub repo: FixtureRepo,
    /// The Hub's `description`; unset: the start of the README's text.
    pub description: Option<String>,
}

impl FixtureDataset {
    /// An empty, public dataset on `main`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            repo: FixtureRepo::new(id),
            description: None,
        }
    }

    /// The README front matter (`license`, `pretty_name`, `task_categories`,
    /// `language`, `size_categories`, `tags` ...): served as `cardData`, turned
    /// into `key:value` tags, and the front matter of a generated README.md.
    ///
    /// # Panics
    /// If `data` is not a JSON object.
    pub fn card_data(mut self, data: Value) -> Self {
        self.repo = self.repo.card_data(data);
        self
    }

    /// Gated with manual approval: metadata public, files need the token.
    pub fn gated(mut self) -> Self {
        self.repo = self.repo.gated();
        self
    }

    /// Gated with automatic approval (`"gated": "auto"`).
    pub fn gated_auto(mut self) -> Self {
        self.repo = self.repo.gated_auto();
        self
    }

    /// Adds any file (see [`FixtureRepo::file`]).
    pub fn file(mut self, file: FixtureFile) -> Self {
        self.repo = self.repo.file(file);
        self
    }

    /// Adds a small non-LFS file.
    pub fn text_file(self, path: impl Into<String>, text: impl Into<String>) -> Self {
        self.file(FixtureFile::text(path, text))
    }

    /// Adds an in-memory LFS file.
    pub fn lfs_file(self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.file(FixtureFile::lfs(path, bytes))
    }

    /// One more tag, served after the derived ones.
    pub fn tag(mut self, tag: &str) -> Self {
        self.repo = self.repo.tag(tag);
        self
    }

    pub fn downloads(mut self, n: u64) -> Self {
        self.repo = self.repo.downloads(n);
        self
    }

    pub fn likes(mut self, n: u64) -> Self {
        self.repo = self.repo.likes(n);
        self
    }

    /// The Hub's `description` field.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Names the branch that resolves to the dataset's commit (instead of `main`).
    pub fn with_revision(mut self, revision: impl Into<String>) -> Self {
        self.repo = self.repo.with_revision(revision);
        self
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
