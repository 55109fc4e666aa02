//! `zoo pull oci://...`: the manifest read (bounded, digest-checked), its
//! layers validated, and a card for the model: the card zoo pushed with it
//! (checked against the layers), or one made from the ModelPack config of an
//! artifact another tool pushed. The card's source is the artifact pinned by
//! its manifest digest; zoo-fetch then fetches each file as its layer.

use std::collections::{BTreeMap, BTreeSet};

use zoo_registry::card::{FileEntry, OciSource, Provenance};
use zoo_registry::{Card, License, Openness, OpennessClass, SCHEMA_VERSION, Source, Task};
use zoo_types::{ModelName, OciReference, RelPath, Sha256Hex, TerminalSafe};

use crate::client::{Client, OCI_INDEX};
use crate::error::OciError;
use crate::modelpack::{CARD_FILE, FILEPATH, Manifest, ModelConfig, TITLE, ZOO_KIND};

/// Most layers one artifact may have.
const MAX_LAYERS: usize = 10_000;
/// The model config is small JSON.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct Artifact {
    pub card: Card,
    pub manifest_digest: Sha256Hex,
    /// The artifact carried zoo's card (else the card was made from its config).
    pub carried_card: bool,
    pub notes: Vec<String>,
}

/// One validated layer.
#[derive(Debug, Clone)]
struct Layer {
    path: RelPath,
    digest: Sha256Hex,
    size: u64,
    zoo_kind: Option<String>,
}

pub fn resolve(
    client: &Client,
    reference: &OciReference,
    name: Option<&ModelName>,
) -> Result<Artifact, OciError> {
    let raw = client.get_manifest(reference)?;
    if raw.media_type == OCI_INDEX {
        return Err(OciError::BadArtifact(format!(
            "{reference} is an image index (several platforms), not a model artifact"
        )));
    }
    let mut artifact = from_manifest(
        &raw.bytes,
        &raw.digest,
        reference,
        name,
        |d, limit, what| client.get_small_blob(&reference.repository, d, limit, what),
    )?;
    artifact.card.sources = vec![Source::Oci(OciSource {
        reference: reference.with_digest(raw.digest.clone()),
        files: BTreeMap::new(),
        only: Vec::new(),
    })];
    check_card(&artifact.card, reference)?;
    Ok(artifact)
}

/// The artifact a manifest describes: `small_blob(digest, limit, what)`
/// reads its card or config (from a registry, or an image layout). The card
/// returned has no source yet.
pub(crate) fn from_manifest(
    bytes: &[u8],
    digest: &Sha256Hex,
    reference: &OciReference,
    name: Option<&ModelName>,
    small_blob: impl Fn(&Sha256Hex, u64, &str) -> Result<Vec<u8>, OciError>,
) -> Result<Artifact, OciError> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        OciError::BadArtifact(format!(
            "{reference}: not an OCI image manifest ({})",
            TerminalSafe::shortened(&e.to_string(), 200)
        ))
    })?;
    let layers = validate_layers(&manifest, reference)?;
    let mut notes = Vec::new();
    let card_layer = layers
        .iter()
        .find(|l| l.zoo_kind.as_deref() == Some("card") || l.path == CARD_FILE);
    let (mut card, carried) = match card_layer {
        Some(l) => {
            let bytes = small_blob(&l.digest, zoo_fs::limits::CARD_BYTES, "the model's card")?;
            let text = String::from_utf8(bytes)
                .map_err(|_| OciError::BadArtifact("the model's card is not UTF-8".into()))?;
            let card = zoo_registry::check_card_text(&format!("{reference} ({CARD_FILE})"), &text)
                .map_err(|e| {
                    OciError::BadArtifact(format!("the card in {reference} is not valid: {e}"))
                })?;
            (card, true)
        }
        None => {
            let config_digest = Sha256Hex::parse_prefixed(&manifest.config.digest)
                .map_err(|e| OciError::BadArtifact(format!("config digest: {e}")))?;
            let cfg = small_blob(&config_digest, MAX_CONFIG_BYTES, "the model config")?;
            let config: Option<ModelConfig> = serde_json::from_slice(&cfg).ok();
            if config.is_none() {
                notes.push(
                    "the artifact's config is not a ModelPack model config: only its files are known"
                        .into(),
                );
            }
            (
                card_from_config(config.as_ref(), reference, digest, &layers)?,
                false,
            )
        }
    };
    let model_layers: Vec<&Layer> = layers
        .iter()
        .filter(|l| l.zoo_kind.is_none() && l.path != CARD_FILE)
        .collect();
    if carried {
        check_card_matches(&card, &model_layers, reference)?;
    } else {
        card.files = model_layers.iter().map(|l| file_entry(l)).collect();
    }
    if let Some(n) = name {
        card.name = n.clone();
    }
    card.aliases.clear();
    card.sources.clear();
    Ok(Artifact {
        card,
        manifest_digest: digest.clone(),
        carried_card: carried,
        notes,
    })
}

/// The card zoo will write must pass the catalog check.
pub(crate) fn check_card(card: &Card, reference: &OciReference) -> Result<(), OciError> {
    let text = serde_yaml::to_string(card).map_err(|e| OciError::Invalid(e.to_string()))?;
    zoo_registry::check_card_text("the card made for the artifact", &text)
        .map_err(|e| OciError::BadArtifact(format!("{reference}: {e}")))?;
    Ok(())
}

fn validate_layers(manifest: &Manifest, reference: &OciReference) -> Result<Vec<Layer>, OciError> {
    if manifest.schema_version != 2 {
        return Err(OciError::BadArtifact(format!(
            "{reference}: manifest schemaVersion is not 2"
        )));
    }
    if manifest.layers.len() > MAX_LAYERS {
        return Err(OciError::BadArtifact(format!(
            "{reference} has {} layers; zoo reads at most {MAX_LAYERS}",
            manifest.layers.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, l) in manifest.layers.iter().enumerate() {
        let bad = |why: String| OciError::BadArtifact(format!("{reference}: layer {i}: {why}"));
        let digest = Sha256Hex::parse_prefixed(&l.digest).map_err(|e| bad(e.to_string()))?;
        let name = l
            .annotations
            .get(FILEPATH)
            .or_else(|| l.annotations.get(TITLE))
            .ok_or_else(|| {
                bad(format!(
                    "no {FILEPATH} or {TITLE} annotation names its file"
                ))
            })?;
        let path = RelPath::parse(name).map_err(|e| bad(e.to_string()))?;
        if !l.media_type.ends_with(".raw") && l.media_type != "application/octet-stream" {
            return Err(bad(format!(
                "media type {} is packed (tar); zoo pulls one uncompressed file per layer",
                TerminalSafe::shortened(&l.media_type, 100)
            )));
        }
        if !seen.insert(path.clone()) {
            return Err(bad(format!("'{path}' is named by two layers")));
        }
        out.push(Layer {
            path,
            digest,
            size: l.size,
            zoo_kind: l.annotations.get(ZOO_KIND).cloned(),
        });
    }
    Ok(out)
}

/// Every file of the carried card must be a layer with its digest and size,
/// and every model layer a file of the card: the card cannot describe other
/// bytes than the artifact holds.
fn check_card_matches(
    card: &Card,
    layers: &[&Layer],
    reference: &OciReference,
) -> Result<(), OciError> {
    for f in &card.files {
        let Some(l) = layers.iter().find(|l| l.path == f.path) else {
            return Err(OciError::BadArtifact(format!(
                "{reference}: the card lists '{}', which no layer holds",
                f.path
            )));
        };
        if f.sha256.as_ref() != Some(&l.digest) || f.size.is_some_and(|s| s != l.size) {
            return Err(OciError::BadArtifact(format!(
                "{reference}: the card's sha256 or size for '{}' is not its layer's",
                f.path
            )));
        }
    }
    if let Some(extra) = layers.iter().find(|l| card.file(l.path.as_str()).is_none()) {
        return Err(OciError::BadArtifact(format!(
            "{reference}: layer '{}' is not a file of the card it carries",
            extra.path
        )));
    }
    Ok(())
}

fn file_entry(l: &Layer) -> FileEntry {
    let (format, role) = zoo_registry::card::kind_of_path(l.path.as_str());
    FileEntry {
        path: l.path.clone(),
        sha256: Some(l.digest.clone()),
        git_blob: None,
        size: Some(l.size),
        format,
        role,
    }
}

/// A card for an artifact another tool pushed, from its ModelPack config.
fn card_from_config(
    config: Option<&ModelConfig>,
    reference: &OciReference,
    digest: &Sha256Hex,
    layers: &[Layer],
) -> Result<Card, OciError> {
    let d = config.map(|c| &c.descriptor);
    let last = reference
        .repository
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or("model");
    let name = d
        .and_then(|d| d.name.as_deref())
        .and_then(|n| ModelName::parse(&n.to_ascii_lowercase()).ok())
        .or_else(|| ModelName::parse(last).ok())
        .ok_or_else(|| {
            OciError::BadArtifact("no usable model name: give one with --name".into())
        })?;
    let printable = |s: &str, max: usize| {
        let t = s.trim();
        (!t.is_empty() && t.chars().count() <= max && !t.chars().any(zoo_types::is_unsafe_char))
            .then(|| t.to_owned())
    };
    let licenses: Vec<&String> = d.map(|d| d.licenses.iter().collect()).unwrap_or_default();
    let license = if licenses.is_empty() {
        None
    } else {
        let id = licenses
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(" AND ");
        let l = License {
            id,
            name: None,
            url: None,
            terms: None,
        };
        l.validate().is_ok().then_some(l)
    };
    let license = license.unwrap_or(License {
        id: zoo_registry::license::NO_ASSERTION.to_owned(),
        name: Some("no SPDX license in the artifact's config".to_owned()),
        url: None,
        terms: None,
    });
    let class = match license.terms() {
        Some(t) if t.is_unrestricted() => OpennessClass::Open,
        _ => OpennessClass::OpenWeightsRestricted,
    };
    let desc = d
        .and_then(|d| d.description.as_deref())
        .and_then(|s| printable(s, 2000))
        .unwrap_or_else(|| format!("A ModelPack artifact pulled from {reference}."));
    let text = |v: Option<&String>| v.and_then(|s| printable(s, 200));
    Ok(Card {
        schema: SCHEMA_VERSION,
        name,
        aliases: Vec::new(),
        version: text(d.and_then(|d| d.version.as_ref()))
            .unwrap_or_else(|| digest.as_str()[..12].to_owned()),
        family: text(d.and_then(|d| d.family.as_ref())).unwrap_or_else(|| "unknown".to_owned()),
        task: Task::Other,
        architecture: text(config.and_then(|c| c.config.architecture.as_ref()))
            .unwrap_or_else(|| "unknown".to_owned()),
        parameters: None,
        description: desc,
        files: layers.iter().map(file_entry).collect(),
        sources: Vec::new(),
        license,
        openness: Openness {
            class,
            components: BTreeMap::new(),
        },
        provenance: Provenance {
            organization: text(d.and_then(|d| d.vendor.as_ref())),
            authors: d
                .map(|d| d.authors.iter().filter_map(|a| printable(a, 200)).collect())
                .unwrap_or_default(),
            upstream: text(d.and_then(|d| d.source_url.as_ref())),
            ..Provenance::default()
        },
        io: None,
        metrics: Vec::new(),
        api: None,
        lineage: None,
        hub: None,
    })
}
