//! Integrity: every local file re-hashed against what the manifest recorded at
//! pull and what the card publishes; missing, modified and unexpected files, and
//! pickle files, which can run code when loaded.

use std::path::Path;

use serde::Serialize;
use zoo_fetch::{Manifest, Store, sha256_file};
use zoo_registry::Card;
use zoo_registry::card::FileFormat;

use crate::finding::{Finding, FindingKind, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    /// Re-hashed and equal to the recorded digest.
    Ok,
    /// Present with the size recorded at pull, when its digest was verified;
    /// not re-hashed by this audit ([`FileCheck::Recorded`]).
    Recorded,
    Missing,
    Modified,
    /// In the model directory but in no manifest.
    Unexpected,
    /// On the card but never pulled.
    NotPulled,
    /// Present, but nothing to compare it with (no published digest).
    Unverified,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub path: String,
    /// The digest found on disk when re-hashed, else the recorded one; none
    /// for a file found modified by its size without being hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the bytes came from, as the manifest recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub state: FileState,
    pub pickle: bool,
}

/// How an audit checks the files of a pulled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileCheck {
    /// Every file re-hashed against its manifest (`zoo audit`).
    #[default]
    Rehash,
    /// Every file present with its recorded size, its digest trusted as
    /// verified at pull: for the AI-BOM `zoo push` sends, where the upload
    /// itself hashes every byte it sends against the recorded digest.
    Recorded,
}

/// A pulled (or registered) model: `Store::verify` re-hashes against the manifest
/// (or, with [`FileCheck::Recorded`], sizes are compared), then each digest is
/// compared with the card's.
pub fn check_pulled(
    store: &Store,
    manifest: &Manifest,
    card: Option<&Card>,
    check: FileCheck,
) -> (Vec<FileRecord>, Vec<Finding>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let dir = store.model_dir(&manifest.name);
    let report = match check {
        FileCheck::Rehash => store.verify(&manifest.name).map(Found::from),
        FileCheck::Recorded => Ok(compare_sizes(&dir, manifest)),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            findings.push(Finding::new(
                FindingKind::ManifestUnreadable,
                Severity::Error,
                "manifest",
                format!("cannot verify the files: {e}"),
            ));
            return (files, findings);
        }
    };
    for f in &manifest.files {
        let modified = report.modified.iter().find(|m| m.0 == f.path.as_str());
        let state = if report.missing.iter().any(|m| *m == f.path) {
            findings.push(Finding::new(
                FindingKind::FileMissing,
                Severity::Error,
                format!("file {}", f.path),
                "the file is gone from the model directory; re-pull the model",
            ));
            FileState::Missing
        } else if let Some(m) = modified {
            findings.push(Finding::new(
                FindingKind::FileModified,
                Severity::Error,
                format!("file {}", f.path),
                match &m.1 {
                    Some(actual) => format!(
                        "sha256 is {actual} but {} was recorded at pull; re-pull the model",
                        f.sha256
                    ),
                    None => format!(
                        "its size is not the {} bytes recorded at pull; re-pull the model",
                        f.size
                    ),
                },
            ));
            FileState::Modified
        } else if check == FileCheck::Recorded {
            FileState::Recorded
        } else {
            FileState::Ok
        };
        if let Some(published) = card
            .and_then(|c| c.file(&f.path))
            .and_then(|e| e.sha256.as_ref())
            && *published != f.sha256
        {
            findings.push(Finding::new(
                FindingKind::DigestMismatch,
                Severity::Error,
                format!("file {}", f.path),
                format!(
                    "the manifest recorded sha256 {} but the card publishes {published}",
                    f.sha256
                ),
            ));
        }
        let format = card.and_then(|c| c.file(&f.path)).map(|e| e.format);
        files.push(FileRecord {
            path: f.path.to_string(),
            // A file found modified by its size alone was not hashed: no
            // digest is claimed for it.
            sha256: match modified {
                Some((_, actual)) => actual.clone(),
                None => Some(f.sha256.clone()),
            },
            size: Some(f.size),
            source: Some(f.source.clone()),
            state,
            pickle: is_pickle(&dir.join(&f.path), &f.path, format),
        });
    }
    for path in &report.extra {
        findings.push(Finding::new(
            FindingKind::FileUnexpected,
            Severity::Warning,
            format!("file {path}"),
            "in the model directory but in no manifest entry",
        ));
        files.push(FileRecord {
            path: path.clone(),
            sha256: None,
            size: None,
            source: None,
            state: FileState::Unexpected,
            pickle: is_pickle(&dir.join(path), path, None),
        });
    }
    if let Some(card) = card {
        for e in card
            .files
            .iter()
            .filter(|e| manifest.files.iter().all(|f| f.path != e.path))
        {
            findings.push(Finding::new(
                FindingKind::FileNotPulled,
                Severity::Warning,
                format!("file {}", e.path),
                "the card lists it but the pull did not record it; re-pull the model",
            ));
            files.push(FileRecord {
                path: e.path.to_string(),
                sha256: e.sha256.as_ref().map(ToString::to_string),
                size: e.size,
                source: None,
                state: FileState::NotPulled,
                pickle: e.format == FileFormat::Pickle,
            });
        }
    }
    pickle_findings(&files, &mut findings);
    (files, findings)
}

/// What a check of a pulled model's files found wrong.
struct Found {
    missing: Vec<String>,
    /// Path, and the sha256 found when the file was re-hashed.
    modified: Vec<(String, Option<String>)>,
    extra: Vec<String>,
}

impl From<zoo_fetch::VerifyReport> for Found {
    fn from(r: zoo_fetch::VerifyReport) -> Self {
        Found {
            missing: r.missing,
            modified: r
                .modified
                .into_iter()
                .map(|m| (m.path, Some(m.actual_sha256)))
                .collect(),
            extra: r.extra,
        }
    }
}

/// [`FileCheck::Recorded`]: each file present with its recorded size. Files
/// in no manifest are not looked for (nothing but the manifest's files is
/// sent or described).
fn compare_sizes(dir: &Path, manifest: &Manifest) -> Found {
    let mut found = Found {
        missing: Vec::new(),
        modified: Vec::new(),
        extra: Vec::new(),
    };
    for f in &manifest.files {
        match std::fs::metadata(f.path.join_to(dir)) {
            Ok(meta) if meta.is_file() && meta.len() == f.size => {}
            Ok(meta) if meta.is_file() => found.modified.push((f.path.to_string(), None)),
            _ => found.missing.push(f.path.to_string()),
        }
    }
    found
}

/// A model zoo made that is not registered in the store: its files beside its
/// card, hashed against the card's digests.
pub fn check_local(dir: &Path, card: &Card) -> (Vec<FileRecord>, Vec<Finding>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    for e in &card.files {
        let path = dir.join(&e.path);
        let subject = format!("file {}", e.path);
        let (state, sha) = if !path.exists() {
            findings.push(Finding::new(
                FindingKind::FileMissing,
                Severity::Error,
                subject,
                format!("the card lists it but {} does not exist", path.display()),
            ));
            (
                FileState::Missing,
                e.sha256.as_ref().map(ToString::to_string),
            )
        } else {
            match (sha256_file(&path), &e.sha256) {
                (Err(err), _) => {
                    findings.push(Finding::new(
                        FindingKind::FileMissing,
                        Severity::Error,
                        subject,
                        format!("cannot read it: {err}"),
                    ));
                    (
                        FileState::Missing,
                        e.sha256.as_ref().map(ToString::to_string),
                    )
                }
                (Ok((actual, _)), Some(published)) if actual != *published => {
                    findings.push(Finding::new(
                        FindingKind::FileModified,
                        Severity::Error,
                        subject,
                        format!("sha256 is {actual} but the card records {published}"),
                    ));
                    (FileState::Modified, Some(actual))
                }
                (Ok((actual, _)), Some(_)) => (FileState::Ok, Some(actual)),
                (Ok((actual, _)), None) => (FileState::Unverified, Some(actual)),
            }
        };
        files.push(FileRecord {
            path: e.path.to_string(),
            sha256: sha,
            size: e.size,
            source: None,
            state,
            pickle: is_pickle(&path, &e.path, Some(e.format)),
        });
    }
    pickle_findings(&files, &mut findings);
    (files, findings)
}

fn pickle_findings(files: &[FileRecord], findings: &mut Vec<Finding>) {
    for f in files.iter().filter(|f| f.pickle) {
        findings.push(Finding::new(
            FindingKind::PickleFile,
            Severity::Warning,
            format!("file {}", f.path),
            "a Python pickle: loading it can run arbitrary code; prefer safetensors or ONNX",
        ));
    }
}

/// By the card's format, the file's extension (any case; the list zoo's pull
/// gate uses) or the file's bytes: a pickle stream's protocol header and STOP, or
/// a zip holding a `.pkl` (PyTorch), which a renamed or mislabelled pickle still
/// carries. The bytes are sniffed whatever the card says the format is.
fn is_pickle(path: &Path, card_path: &str, format: Option<FileFormat>) -> bool {
    format == Some(FileFormat::Pickle)
        || zoo_registry::pickle::pickle_extension(card_path).is_some()
        || zoo_fetch::pickle::sniff_file(path).is_some()
}
