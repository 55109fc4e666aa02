//! `zoo push`: a model's files, its card and its AI-BOM as one ModelPack
//! artifact. Blobs go up in parallel (each resumable, none sent twice), then
//! the config, then the manifest under the tag.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;
use zoo_fetch::Progress;
use zoo_registry::Card;
use zoo_types::{OciReference, OciRepository, RelPath, Sha256Hex};

use crate::client::{Client, OCI_MANIFEST};
use crate::error::OciError;
use crate::modelpack::{
    self, AI_BOM_FILE, ARTIFACT_TYPE, CARD_FILE, CONFIG_MEDIA_TYPE, DOC, Descriptor, Manifest,
    ZOO_KIND,
};
use crate::upload::{Destination, Pushed, push_blob};

/// One model file to push: where its bytes are and what they hash to.
#[derive(Debug, Clone)]
pub struct PushFile {
    pub path: RelPath,
    pub blob: PathBuf,
    pub sha256: Sha256Hex,
    pub size: u64,
    pub media_type: &'static str,
}

/// What `zoo push` sends.
#[derive(Debug)]
pub struct PushRequest<'a> {
    pub card: &'a Card,
    pub files: Vec<PushFile>,
    /// The CycloneDX AI-BOM of the model, when the caller made one.
    pub ai_bom: Option<Vec<u8>>,
    pub target: &'a OciReference,
    /// Another repository of the same registry that may hold the blobs.
    pub mount_from: Option<OciRepository>,
    pub jobs: usize,
    /// Where upload sessions are kept for resuming, and small blobs staged.
    pub work_dir: PathBuf,
    /// RFC 3339 time recorded as the artifact's creation time.
    pub created: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub path: String,
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub outcome: Pushed,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// `registry/repo:tag@sha256:...`.
    pub reference: String,
    pub digest: String,
    pub layers: Vec<LayerReport>,
    /// Bytes sent in this run (blobs the registry had or mounted count 0).
    pub sent: u64,
    /// Bytes of every blob of the artifact.
    pub total: u64,
    /// The model manifest's size, for a referrer's `subject` descriptor.
    #[serde(skip)]
    pub manifest_size: u64,
    /// The signature attached as a referrer of the manifest, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::referrers::Attached>,
}

/// A blob to upload: a file on disk (model files, or small staged ones).
pub(crate) struct Blob {
    pub label: String,
    pub path: PathBuf,
    pub digest: Sha256Hex,
    pub size: u64,
}

/// An artifact ready to be sent or written: its blobs (files on disk), the
/// layer descriptors and the manifest bytes.
pub(crate) struct Built {
    pub blobs: Vec<Blob>,
    pub layers: Vec<Descriptor>,
    pub manifest: Vec<u8>,
}

/// Lay out the artifact of `req`: model files as layers, the card and the
/// AI-BOM as doc layers (staged in the work dir), the ModelPack config.
pub(crate) fn build(req: &PushRequest<'_>) -> Result<Built, OciError> {
    let mut blobs: Vec<Blob> = Vec::new();
    let mut layers: Vec<Descriptor> = Vec::new();
    for f in &req.files {
        layers.push(modelpack::layer(
            f.media_type,
            &format!("sha256:{}", f.sha256),
            f.size,
            f.path.as_str(),
        ));
        blobs.push(Blob {
            label: f.path.to_string(),
            path: f.blob.clone(),
            digest: f.sha256.clone(),
            size: f.size,
        });
    }
    // The card travels with the model: the license, openness and lineage a
    // pull on another machine gates and audits with.
    let card_yaml = serde_yaml::to_string(req.card)
        .map_err(|e| OciError::Invalid(format!("cannot write the card: {e}")))?;
    let mut extras = vec![(CARD_FILE, "card", card_yaml.into_bytes())];
    if let Some(bom) = &req.ai_bom {
        extras.push((AI_BOM_FILE, "ai-bom", bom.clone()));
    }
    for (name, kind, bytes) in extras {
        let (path, digest) = stage(&req.work_dir, &bytes)?;
        let mut d = modelpack::layer(DOC, &format!("sha256:{digest}"), bytes.len() as u64, name);
        d.annotations.insert(ZOO_KIND.to_owned(), kind.to_owned());
        layers.push(d);
        blobs.push(Blob {
            label: name.to_owned(),
            path,
            digest,
            size: bytes.len() as u64,
        });
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let config = modelpack::model_config(req.card, &diff_ids, &req.created);
    let config_bytes = serde_json::to_vec(&config).expect("the config serialises");
    let (config_path, config_digest) = stage(&req.work_dir, &config_bytes)?;
    blobs.push(Blob {
        label: "model config".to_owned(),
        path: config_path,
        digest: config_digest.clone(),
        size: config_bytes.len() as u64,
    });
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.created".to_owned(),
        req.created.clone(),
    );
    annotations.insert(
        "org.opencontainers.image.title".to_owned(),
        req.card.name.to_string(),
    );
    annotations.insert(
        "org.opencontainers.image.version".to_owned(),
        req.card.version.clone(),
    );
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.to_owned(),
            digest: format!("sha256:{config_digest}"),
            size: config_bytes.len() as u64,
            annotations: Default::default(),
            artifact_type: None,
        },
        layers: layers.clone(),
        subject: None,
        annotations,
    };
    Ok(Built {
        blobs,
        layers,
        manifest: serde_json::to_vec(&manifest).expect("the manifest serialises"),
    })
}

pub fn push(
    client: &Client,
    req: &PushRequest<'_>,
    progress: &dyn Progress,
) -> Result<PushReport, OciError> {
    let repo = &req.target.repository;
    let built = build(req)?;
    let to = Destination {
        client,
        repo,
        mount_from: req.mount_from.as_ref(),
        sessions: req.work_dir.join("uploads"),
        model: req.card.name.as_str(),
        progress,
        failed: AtomicBool::new(false),
    };
    let outcomes = upload_all(&to, &built.blobs, req.jobs)?;
    let tag = req
        .target
        .tag
        .as_ref()
        .map_or_else(|| "latest".to_owned(), ToString::to_string);
    let digest = client.put_manifest(repo, &tag, &built.manifest, OCI_MANIFEST)?;
    let layers = built
        .layers
        .iter()
        .zip(&outcomes)
        .map(|(layer, outcome)| LayerReport {
            path: layer
                .annotations
                .get(modelpack::FILEPATH)
                .cloned()
                .unwrap_or_default(),
            digest: layer.digest.clone(),
            size: layer.size,
            media_type: layer.media_type.clone(),
            outcome: *outcome,
        })
        .collect();
    Ok(PushReport {
        reference: req.target.with_digest(digest.clone()).to_string(),
        digest: format!("sha256:{digest}"),
        sent: outcomes.iter().map(Pushed::sent).sum(),
        total: built.blobs.iter().map(|b| b.size).sum::<u64>(),
        layers,
        manifest_size: built.manifest.len() as u64,
        signature: None,
    })
}

/// Upload every blob on at most `jobs` threads, keeping their order. After a
/// failure no further blob is started and those in flight stop after their
/// current chunk: the push has failed, and what was sent is found (finished
/// blobs) or resumed (sessions) by the next push.
fn upload_all(to: &Destination<'_>, blobs: &[Blob], jobs: usize) -> Result<Vec<Pushed>, OciError> {
    let next = AtomicUsize::new(0);
    let failed = &to.failed;
    let results: Vec<Mutex<Option<Result<Pushed, OciError>>>> =
        blobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(blobs.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(b) = blobs.get(i) else { return };
                    let r = push_blob(to, b);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *results[i].lock().expect("lock") = Some(r);
                }
            });
        }
    });
    let mut outcomes = Vec::with_capacity(blobs.len());
    let mut first_error = None;
    for r in results {
        match r.into_inner().expect("lock") {
            Some(Ok(pushed)) => outcomes.push(pushed),
            // A blob stopped by another's failure reports that failure.
            Some(Err(OciError::Stopped)) => {}
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            // Not started: an earlier failure stopped the uploads.
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(outcomes),
    }
}

/// Write small bytes (a card, a config) where the uploader can read them,
/// named by their digest.
pub(crate) fn stage(dir: &Path, bytes: &[u8]) -> Result<(PathBuf, Sha256Hex), OciError> {
    let digest = crate::sha256_bytes(bytes);
    let staged = dir.join("staged");
    std::fs::create_dir_all(&staged).map_err(OciError::io("cannot create", &staged))?;
    let path = staged.join(digest.as_str());
    // Written aside and renamed: a push running at the same time reads the
    // whole file or none, never one half-written.
    let tmp = staged.join(format!("{digest}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(OciError::io("cannot write", &path))?;
    Ok((path, digest))
}
