//! What a pull recorded: which bytes, from where, under which license acceptance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zoo_types::{ModelName, RelPath};

use crate::error::FetchError;

pub const MANIFEST_FILE: &str = "zoo-manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Validated again when a manifest is read back: it names the model's folder.
    pub name: ModelName,
    pub version: String,
    pub pulled_at: String,
    pub zoo_version: String,
    pub license: LicenseRecord,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseRecord {
    pub id: String,
    pub openness: String,
    /// The user accepted the license terms at pull time (`--accept-license` or a prompt).
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The card path; the model folder's link to the blob is made at it.
    pub path: RelPath,
    pub sha256: String,
    pub size: u64,
    /// The source that served the bytes, e.g. `hf onnxmodelzoo/resnet50-v1-7@<commit>`.
    pub source: String,
    /// Where the bytes live: a store blob or a Hugging Face cache blob.
    pub blob: PathBuf,
    pub trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// Verified against the sha256 written on the card.
    Card,
    /// The card had no digest; the server's LFS sha256 was recorded on first use.
    FirstUse,
}

impl Manifest {
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub(crate) fn read(path: &Path) -> Result<Manifest, FetchError> {
        let text =
            std::fs::read_to_string(path).map_err(FetchError::io("cannot read manifest", path))?;
        serde_json::from_str(&text).map_err(|e| FetchError::BadManifest {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}
