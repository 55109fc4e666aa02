//! CNCF ModelPack v1 artifacts: the manifest, the model config, and a layer
//! per file with the media type of its role, as the model-spec describes them
//! (github modelpack/model-spec; KitOps, modctl and Docker Model Runner read
//! it). Files are `.raw` layers (uncompressed, one file each), so a layer's
//! digest is the file's sha256 and pulled layers are the store's blobs as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zoo_registry::Card;
use zoo_registry::card::{FileFormat, FileRole};

pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.model.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.model.config.v1+json";
pub const WEIGHT: &str = "application/vnd.cncf.model.weight.v1.raw";
pub const WEIGHT_CONFIG: &str = "application/vnd.cncf.model.weight.config.v1.raw";
pub const DOC: &str = "application/vnd.cncf.model.doc.v1.raw";
pub const CODE: &str = "application/vnd.cncf.model.code.v1.raw";
pub const DATASET: &str = "application/vnd.cncf.model.dataset.v1.raw";

/// ModelPack's file path annotation, and the one ORAS clients name files by.
pub const FILEPATH: &str = "org.cncf.model.filepath";
pub const TITLE: &str = "org.opencontainers.image.title";
/// zoo's own annotation on the layers it adds: `card` or `ai-bom`.
pub const ZOO_KIND: &str = "dev.zoo.kind";
/// The file names of those layers.
pub const CARD_FILE: &str = "zoo-card.yaml";
pub const AI_BOM_FILE: &str = "ai-bom.cdx.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

/// An OCI image index: an image layout's `index.json`, or the list of a
/// manifest's referrers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Other fields (an index's `annotations`, `subject`, ...), kept when zoo
    /// rewrites an index another tool wrote.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The model config (`application/vnd.cncf.model.config.v1+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub descriptor: ModelDescriptor,
    #[serde(default)]
    pub config: ModelSettings,
    pub modelfs: ModelFs,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "sourceURL")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "diffIds")]
    pub diff_ids: Vec<String>,
}

/// The layer media type for a card file's role.
pub fn media_type_for(role: FileRole, format: FileFormat) -> &'static str {
    match role {
        FileRole::Model | FileRole::Weights => WEIGHT,
        FileRole::Config | FileRole::Tokenizer | FileRole::Vocabulary | FileRole::Labels => {
            WEIGHT_CONFIG
        }
        FileRole::Documentation => DOC,
        FileRole::Other if format == FileFormat::Json => WEIGHT_CONFIG,
        FileRole::Other => WEIGHT,
    }
}

/// The model config for `card` whose layers have these digests (in order).
pub fn model_config(card: &Card, layer_digests: &[String], created: &str) -> ModelConfig {
    let main_format = card
        .files
        .iter()
        .find(|f| matches!(f.role, FileRole::Model | FileRole::Weights))
        .map(|f| match f.format {
            FileFormat::Onnx => "onnx",
            FileFormat::Safetensors => "safetensors",
            FileFormat::Gguf => "gguf",
            FileFormat::Pickle => "pytorch",
            _ => "other",
        });
    let licenses = if card.license.id == zoo_registry::license::NO_ASSERTION {
        Vec::new()
    } else {
        vec![card.license.id.clone()]
    };
    ModelConfig {
        descriptor: ModelDescriptor {
            created_at: Some(created.to_owned()),
            authors: card.provenance.authors.clone(),
            vendor: card.provenance.organization.clone(),
            family: Some(card.family.clone()),
            name: Some(card.name.to_string()),
            version: Some(card.version.clone()),
            description: Some(card.description.trim().to_owned()),
            source_url: card.provenance.upstream.clone(),
            licenses,
        },
        config: ModelSettings {
            architecture: Some(card.architecture.clone()),
            format: main_format.map(str::to_owned),
            param_size: card.parameters.map(param_size),
            precision: None,
        },
        modelfs: ModelFs {
            kind: "layers".to_owned(),
            diff_ids: layer_digests.to_vec(),
        },
    }
}

/// `22.7M`, `7.6B`: how ModelPack writes parameter counts.
pub fn param_size(n: u64) -> String {
    let (value, unit) = match n {
        n if n >= 1_000_000_000 => (n as f64 / 1e9, "B"),
        n if n >= 1_000_000 => (n as f64 / 1e6, "M"),
        n if n >= 1_000 => (n as f64 / 1e3, "K"),
        n => return n.to_string(),
    };
    format!("{value:.1}{unit}")
}

/// A layer descriptor for a file at `path`.
pub fn layer(media_type: &str, digest: &str, size: u64, path: &str) -> Descriptor {
    let mut annotations = BTreeMap::new();
    annotations.insert(FILEPATH.to_owned(), path.to_owned());
    annotations.insert(TITLE.to_owned(), path.to_owned());
    Descriptor {
        media_type: media_type.to_owned(),
        digest: digest.to_owned(),
        size,
        annotations,
        artifact_type: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_sizes_read_as_modelpack_writes_them() {
        assert_eq!(param_size(22_713_728), "22.7M");
        assert_eq!(param_size(8_030_000_000), "8.0B");
        assert_eq!(param_size(950), "950");
    }

    #[test]
    fn roles_pick_the_spec_media_types() {
        assert_eq!(media_type_for(FileRole::Model, FileFormat::Onnx), WEIGHT);
        assert_eq!(
            media_type_for(FileRole::Tokenizer, FileFormat::Tokenizer),
            WEIGHT_CONFIG
        );
        assert_eq!(
            media_type_for(FileRole::Documentation, FileFormat::Text),
            DOC
        );
    }
}
