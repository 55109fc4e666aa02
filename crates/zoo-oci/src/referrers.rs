//! A model's signature as an OCI 1.1 referrer: a small manifest whose
//! `subject` is the model's manifest and whose one layer is the Sigstore
//! bundle, so tools that look for signatures through the referrers API
//! (oras, cosign, registries' UIs) find it. Registries without that API
//! (distribution 2.8) get the referrers tag schema instead: an image index
//! under the tag `sha256-<hex of the subject>` listing the referrers.
//!
//! A tag is mutable and the index another tool's (or an attacker's) writing:
//! what is read back is checked (its subject must be our manifest, sizes are
//! bounded, digests verified); the bundle is then verified like any signature.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use zoo_fetch::Progress;
use zoo_types::{OciReference, OciRepository, OciTag, Sha256Hex, TerminalSafe};

use crate::client::{Client, OCI_INDEX, OCI_MANIFEST};
use crate::error::OciError;
use crate::modelpack::{Descriptor, Index, Manifest, TITLE};
use crate::push::{Blob, stage};
use crate::upload::{Destination, push_blob};

/// The artifact type (and layer media type) of a Sigstore bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The OCI empty descriptor's media type and content, the config of an
/// artifact that has none.
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
/// The largest bundle looked at: zoo-sign's own bound on a signature file
/// (a statement listing over 100,000 files).
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// Bundle referrers fetched while looking for one about our manifest: a
/// hostile index listing thousands would otherwise cost a request each.
const MAX_REFERRERS: usize = 16;

/// How the signature was attached.
#[derive(Debug, Clone, Serialize)]
pub struct Attached {
    /// The referrer manifest's digest (`sha256:...`).
    pub digest: String,
    /// `referrers-api` when the registry indexed the subject itself,
    /// `tag-schema` when zoo wrote the `sha256-<hex>` index tag.
    pub via: &'static str,
}

/// The tag the referrers tag schema uses for `subject`.
fn fallback_tag(subject: &Sha256Hex) -> OciTag {
    OciTag::for_referrers(subject)
}

fn reference(
    client: &Client,
    repo: &OciRepository,
    tag: Option<OciTag>,
    digest: Option<Sha256Hex>,
) -> OciReference {
    OciReference {
        registry: client.registry().clone(),
        repository: repo.clone(),
        tag,
        digest,
    }
}

/// A signature to attach to a pushed model.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    /// The model signed, named in errors.
    pub model: &'a str,
    /// The model's manifest: its digest and size.
    pub subject: &'a Sha256Hex,
    pub subject_size: u64,
    /// The Sigstore bundle, already verified to hash to `digest`.
    pub bundle: &'a Path,
    pub digest: &'a Sha256Hex,
    pub size: u64,
    /// zoo's OCI work folder (upload sessions, staged blobs).
    pub work_dir: &'a Path,
    /// RFC 3339 time recorded as the referrer's creation time.
    pub created: &'a str,
}

/// Attach `signature` to its subject manifest in `repo`.
pub fn attach(
    client: &Client,
    repo: &OciRepository,
    signature: &Attachment<'_>,
    progress: &dyn Progress,
) -> Result<Attached, OciError> {
    let Attachment {
        model,
        subject,
        subject_size,
        bundle,
        digest,
        size,
        work_dir,
        created,
    } = *signature;
    let to = Destination {
        client,
        repo,
        mount_from: None,
        sessions: work_dir.join("uploads"),
        model,
        progress,
        failed: AtomicBool::new(false),
    };
    push_blob(
        &to,
        &Blob {
            label: "signature".to_owned(),
            path: bundle.to_owned(),
            digest: digest.clone(),
            size,
        },
    )?;
    let (empty_path, empty) = stage(work_dir, EMPTY_CONFIG)?;
    push_blob(
        &to,
        &Blob {
            label: "empty config".to_owned(),
            path: empty_path,
            digest: empty.clone(),
            size: EMPTY_CONFIG.len() as u64,
        },
    )?;

    let mut layer_notes = BTreeMap::new();
    layer_notes.insert(TITLE.to_owned(), zoo_fetch::SIGNATURE_FILE.to_owned());
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.created".to_owned(),
        created.to_owned(),
    );
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.to_owned()),
        config: Descriptor {
            media_type: EMPTY_MEDIA_TYPE.to_owned(),
            digest: format!("sha256:{empty}"),
            size: EMPTY_CONFIG.len() as u64,
            annotations: BTreeMap::new(),
            artifact_type: None,
        },
        layers: vec![Descriptor {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            digest: format!("sha256:{digest}"),
            size,
            annotations: layer_notes,
            artifact_type: None,
        }],
        subject: Some(Descriptor {
            media_type: OCI_MANIFEST.to_owned(),
            digest: format!("sha256:{subject}"),
            size: subject_size,
            annotations: BTreeMap::new(),
            artifact_type: None,
        }),
        annotations: annotations.clone(),
    };
    let bytes = serde_json::to_vec(&manifest).expect("the manifest serialises");
    let own = crate::sha256_bytes(&bytes);
    let (_, indexed) =
        client.put_manifest_answer(repo, &format!("sha256:{own}"), &bytes, OCI_MANIFEST)?;
    if indexed {
        return Ok(Attached {
            digest: format!("sha256:{own}"),
            via: "referrers-api",
        });
    }
    // No referrers API: add ourselves to the subject's referrers index tag,
    // keeping what other tools listed there.
    let tag = fallback_tag(subject);
    let mut index = match client.get_manifest(&reference(client, repo, Some(tag.clone()), None)) {
        Ok(raw) => {
            let index = serde_json::from_slice::<Index>(&raw.bytes)
                .ok()
                .filter(|i| {
                    raw.media_type == OCI_INDEX && i.media_type.as_deref() == Some(OCI_INDEX)
                });
            // Something else under that tag is another tool's: not overwritten.
            index.ok_or_else(|| {
                OciError::BadArtifact(format!(
                    "the referrers tag {tag} holds something other than an image index; \
                     the signature was not attached there"
                ))
            })?
        }
        Err(OciError::NotFound { .. }) => Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_owned()),
            manifests: Vec::new(),
            extra: Default::default(),
        },
        Err(e) => return Err(e),
    };
    let listed = format!("sha256:{own}");
    if !index.manifests.iter().any(|d| d.digest == listed) {
        index.manifests.push(Descriptor {
            media_type: OCI_MANIFEST.to_owned(),
            digest: listed.clone(),
            size: bytes.len() as u64,
            annotations,
            artifact_type: Some(BUNDLE_MEDIA_TYPE.to_owned()),
        });
    }
    index.media_type = Some(OCI_INDEX.to_owned());
    let index_bytes = serde_json::to_vec(&index).expect("the index serialises");
    client.put_manifest(repo, tag.as_str(), &index_bytes, OCI_INDEX)?;
    Ok(Attached {
        digest: listed,
        via: "tag-schema",
    })
}

/// A signature bundle attached to `subject` in `repo`: its digest and size,
/// from the referrers API or, where the registry has none, the tag schema.
/// `None` when the model has no signature referrer.
pub fn find_bundle(
    client: &Client,
    repo: &OciRepository,
    subject: &Sha256Hex,
) -> Result<Option<(Sha256Hex, u64)>, OciError> {
    let listed = match client.get_referrers(repo, subject, BUNDLE_MEDIA_TYPE)? {
        Some(bytes) => bytes,
        None => {
            let tag = fallback_tag(subject);
            match client.get_manifest(&reference(client, repo, Some(tag.clone()), None)) {
                Ok(raw) => raw.bytes,
                Err(OciError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    let index: Index = serde_json::from_slice(&listed).map_err(|e| {
        OciError::BadArtifact(format!(
            "the referrers of sha256:{subject} are not an image index ({})",
            TerminalSafe::shortened(&e.to_string(), 200)
        ))
    })?;
    let candidates = index
        .manifests
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(BUNDLE_MEDIA_TYPE))
        .take(MAX_REFERRERS);
    for d in candidates {
        let Ok(digest) = Sha256Hex::parse_prefixed(&d.digest) else {
            continue;
        };
        // One broken entry (missing, too large, not its digest) must not hide
        // the others.
        let Ok(raw) = client.get_manifest(&reference(client, repo, None, Some(digest))) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Manifest>(&raw.bytes) else {
            continue;
        };
        // Only a referrer of this very manifest counts: the tag could list
        // anything.
        let about_us = m.subject.as_ref().map(|s| s.digest.as_str())
            == Some(format!("sha256:{subject}").as_str());
        let layer = m.layers.iter().find(|l| l.media_type == BUNDLE_MEDIA_TYPE);
        if let (true, Some(layer)) = (about_us, layer)
            && layer.size <= MAX_BUNDLE_BYTES
            && let Ok(bundle) = Sha256Hex::parse_prefixed(&layer.digest)
        {
            return Ok(Some((bundle, layer.size)));
        }
    }
    Ok(None)
}

/// When the artifact carries no signature file of its own, a signature
/// attached to its manifest as a referrer becomes its `model.sig`: fetched
/// and verified by digest with the other files, checked by `require_signature`
/// and `zoo verify --signature` like one pushed as a file. A registry that
/// fails to answer leaves a note, not a failed pull: the policy, not the
/// lookup, decides whether a signature is required.
///
/// Only with `adopt` (the config's `require_signature`, which verifies the
/// signature against trusted signers before the model is registered): a
/// bundle from a mutable tag that nobody checks would otherwise become the
/// model's signature, travel with it on a later push and keep its owner from
/// signing it. Without, a found signature is named in a note.
pub fn add_referred_signature(
    client: &Client,
    repo: &OciRepository,
    artifact: &mut crate::Artifact,
    adopt: bool,
) {
    let card = &mut artifact.card;
    if card.file(zoo_fetch::SIGNATURE_FILE).is_some() {
        return;
    }
    match find_bundle(client, repo, &artifact.manifest_digest) {
        Ok(Some((digest, _))) if !adopt => artifact.notes.push(format!(
            "a signature (sha256:{digest}, not verified) is attached to it as an OCI referrer; \
             zoo pulls and checks it when the config sets require_signature"
        )),
        Ok(Some((digest, size))) => {
            let path =
                zoo_types::RelPath::parse(zoo_fetch::SIGNATURE_FILE).expect("a plain file name");
            card.files.push(zoo_registry::card::FileEntry {
                path,
                sha256: Some(digest.clone()),
                git_blob: None,
                size: Some(size),
                format: zoo_registry::card::FileFormat::Json,
                role: zoo_registry::card::FileRole::Documentation,
            });
            artifact.notes.push(format!(
                "a signature (sha256:{digest}) is attached to it as an OCI referrer; pulled as {} \
                 and checked against the trusted signers",
                zoo_fetch::SIGNATURE_FILE
            ));
        }
        Ok(None) => {}
        Err(e) => artifact.notes.push(format!(
            "could not look for a signature referrer: {}",
            TerminalSafe::shortened(&e.to_string(), 300)
        )),
    }
}
