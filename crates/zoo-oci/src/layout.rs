//! OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): a
//! model crosses an air gap on a disk. `zoo export --oci-layout DIR` writes
//! the same artifact `zoo push` would send; `zoo import DIR` reads one back
//! (zoo's or another tool's, e.g. `skopeo copy docker://... oci:DIR`), and
//! `skopeo copy oci:DIR docker://...` pushes it into an internal registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zoo_registry::Source;
use zoo_registry::card::FileSource;
use zoo_types::{ModelName, OciReference, OciTag, RelPath, Sha256Hex};

use crate::artifact::{Artifact, from_manifest};
use crate::client::{MAX_MANIFEST_BYTES, OCI_MANIFEST};
use crate::error::OciError;
use crate::modelpack::ARTIFACT_TYPE;
use crate::push::{PushRequest, build};

use crate::modelpack::Index;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `index.json` of a layout holding a few models.
const MAX_INDEX_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub dir: PathBuf,
    pub digest: String,
    pub tag: String,
    pub bytes: u64,
}

/// Write the artifact of `req` into the layout `dir` (created, or added to:
/// a layout may hold several models), tagged `req.target`'s tag.
pub fn export(req: &PushRequest<'_>, dir: &Path) -> Result<Exported, OciError> {
    let built = build(req)?;
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(OciError::io("cannot create", &blobs))?;
    let mut bytes = 0;
    for b in &built.blobs {
        let to = blobs.join(b.digest.as_str());
        if !to.is_file() {
            copy_verified(&b.path, &to, &b.digest)?;
        }
        bytes += b.size;
    }
    let digest = crate::sha256_bytes(&built.manifest);
    write_new(&blobs.join(digest.as_str()), &built.manifest)?;
    write_new(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let tag = req
        .target
        .tag
        .as_ref()
        .map_or_else(|| req.card.version.clone(), ToString::to_string);
    let mut index = read_index(dir).unwrap_or(Index {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.index.v1+json".to_owned()),
        manifests: Vec::new(),
        extra: Default::default(),
    });
    index
        .manifests
        .retain(|m| m.annotations.get(REF_NAME) != Some(&tag));
    let mut annotations = BTreeMap::new();
    annotations.insert(REF_NAME.to_owned(), tag.clone());
    index.manifests.push(crate::modelpack::Descriptor {
        media_type: OCI_MANIFEST.to_owned(),
        digest: format!("sha256:{digest}"),
        size: built.manifest.len() as u64,
        annotations,
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
    });
    let text = serde_json::to_vec_pretty(&index).expect("the index serialises");
    write_new(&dir.join("index.json"), &text)?;
    Ok(Exported {
        dir: dir.to_owned(),
        digest: format!("sha256:{digest}"),
        tag,
        bytes: bytes + built.manifest.len() as u64,
    })
}

/// The model in the layout `dir` (the one tagged `tag`, or its only one):
/// its card, whose source is the layout's blobs, so that a pull copies and
/// verifies every file into the store.
pub fn import(
    dir: &Path,
    tag: Option<&OciTag>,
    name: Option<&ModelName>,
) -> Result<Artifact, OciError> {
    let index = read_index(dir)?;
    let chosen: Vec<_> = index
        .manifests
        .iter()
        .filter(|m| {
            tag.is_none_or(|t| m.annotations.get(REF_NAME).map(String::as_str) == Some(t.as_str()))
        })
        .collect();
    let entry = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(OciError::BadArtifact(format!(
                "{} has no model{}",
                dir.display(),
                tag.map(|t| format!(" tagged {t}")).unwrap_or_default()
            )));
        }
        _ => {
            let tags: Vec<&str> = chosen
                .iter()
                .filter_map(|m| m.annotations.get(REF_NAME).map(String::as_str))
                .collect();
            return Err(OciError::Invalid(format!(
                "{} holds several models ({}): choose one with --tag",
                dir.display(),
                tags.join(", ")
            )));
        }
    };
    let digest = Sha256Hex::parse_prefixed(&entry.digest)
        .map_err(|e| OciError::BadArtifact(format!("index.json: {e}")))?;
    let blobs = dir.join("blobs").join("sha256");
    let manifest = read_blob(&blobs, &digest, MAX_MANIFEST_BYTES, "the manifest")?;
    // A reference only names the artifact in messages and the card.
    let shown = OciReference::parse(&format!("layout.invalid/imported@sha256:{digest}"))
        .map_err(|e| OciError::Invalid(e.to_string()))?;
    let mut artifact = from_manifest(&manifest, &digest, &shown, name, |d, limit, what| {
        read_blob(&blobs, d, limit, what)
    })?;
    let files: BTreeMap<RelPath, RelPath> = artifact
        .card
        .files
        .iter()
        .filter_map(|f| {
            let hex = RelPath::parse(f.sha256.as_ref()?.as_str()).ok()?;
            Some((f.path.clone(), hex))
        })
        .collect();
    artifact.card.sources = vec![Source::File(FileSource {
        path: blobs.display().to_string(),
        files,
        only: Vec::new(),
    })];
    crate::artifact::check_card(&artifact.card, &shown)?;
    Ok(artifact)
}

fn read_index(dir: &Path) -> Result<Index, OciError> {
    let path = dir.join("index.json");
    let text = zoo_fs::read_to_string_bounded(&path, MAX_INDEX_BYTES)
        .map_err(OciError::io("cannot read", &path))?;
    serde_json::from_str(&text)
        .map_err(|e| OciError::BadArtifact(format!("{} is not an OCI index: {e}", path.display())))
}

/// A blob of the layout read bounded and checked against its name.
fn read_blob(
    blobs: &Path,
    digest: &Sha256Hex,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, OciError> {
    let path = blobs.join(digest.as_str());
    let bytes = zoo_fs::read_bounded(&path, limit).map_err(OciError::io("cannot read", &path))?;
    crate::check_digest(&bytes, digest, what)?;
    Ok(bytes)
}

/// Copy `from` to `to` through a temporary file, checking the digest.
fn copy_verified(from: &Path, to: &Path, digest: &Sha256Hex) -> Result<(), OciError> {
    let tmp = to.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::copy(from, &tmp).map_err(OciError::io("cannot copy", from))?;
    let (actual, _) = zoo_fetch::sha256_file(&tmp)?;
    if actual != digest.as_str() {
        let _ = std::fs::remove_file(&tmp);
        return Err(OciError::DigestMismatch {
            what: from.display().to_string(),
            expected: digest.to_string(),
            actual,
        });
    }
    std::fs::rename(&tmp, to).map_err(OciError::io("cannot write", to))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(OciError::io("cannot write", path))
}
