//! The model card schema. Every struct denies unknown fields so that a typo in a
//! card is an error at `zoo registry check` time rather than a silently ignored key.
//! `docs/registry.md` documents each field; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zoo_types::{GitBlobId, ModelName, RelPath, Sha256Hex};

use crate::license::License;
use crate::openness::Openness;

mod hub;
mod source;
pub use hub::{BaseModelRef, BaseRelation, FieldOrigin, HubRecord};
pub use source::{FileSource, HfSource, OciSource, PypiSource, Source, UrlSource};

/// The schema version this build reads. Cards carry it so that a future zoo can
/// migrate old cards instead of misreading them.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub schema: u32,
    pub name: ModelName,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<ModelName>,
    pub version: String,
    pub family: String,
    pub task: Task,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
    /// Written as one-key maps (`- hf: {...}`), which serde_yaml 0.9 reads only
    /// through `singleton_map_recursive`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "serde_yaml::with::singleton_map_recursive"
    )]
    pub sources: Vec<Source>,
    pub license: License,
    pub openness: Openness,
    pub provenance: Provenance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<Io>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Closed models are reached through a provider's API, never through files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// Set on models zoo made itself (`zoo finetune`): what they were made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// Set on cards zoo wrote from a Hugging Face repository's metadata
    /// (`zoo add` / `zoo pull hf:ORG/NAME`): the commit it pins and where each
    /// field came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubRecord>,
}

/// How a derived model was made, recorded by zoo at creation time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// Card name of the backbone.
    pub base_model: ModelName,
    /// sha256 of the backbone's model file that was actually used.
    pub base_sha256: String,
    /// The backbone's license id, inherited by the derivative.
    pub base_license: String,
    pub dataset: DatasetRecord,
    /// Training settings (head, epochs, learning rate, seed ...), as strings.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    pub zoo_version: String,
    /// RFC 3339 UTC time of creation.
    pub created_at: String,
    /// Who signed the base model, when its signature verified at fine-tuning
    /// (cards written before zoo recorded it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_signer: Option<BaseSigner>,
}

/// The signer of a fine-tune's base model, as `zoo finetune` found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseSigner {
    pub kind: SignerKind,
    /// sha256 of the signing key's PEM (the certificate's key for `certificate`).
    pub key_sha256: zoo_types::Sha256Hex,
    /// The certificate's subject and issuer (`certificate` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Whether the signer was trusted (config `trusted_keys`/`trusted_roots`).
    pub trusted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignerKind {
    Key,
    Certificate,
}

impl std::fmt::Display for BaseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.kind, &self.subject, &self.issuer) {
            (SignerKind::Certificate, Some(s), Some(i)) => {
                write!(f, "certificate {s}, issued by {i}")?
            }
            _ => write!(f, "key sha256:{}", self.key_sha256)?,
        }
        f.write_str(if self.trusted {
            " (trusted)"
        } else {
            " (not trusted)"
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRecord {
    /// What the user passed (a directory or file), as given.
    pub source: String,
    /// sha256 over the sorted (item sha256, label) pairs: equal fingerprints mean
    /// the same data with the same labels.
    pub fingerprint: String,
    pub items: u64,
    pub classes: Vec<String>,
    /// SPDX id or LicenseRef of the data, when the user declared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    ImageClassification,
    ObjectDetection,
    TextEmbedding,
    TextClassification,
    QuestionAnswering,
    FillMask,
    TextGeneration,
    TextToImage,
    Chat,
    /// A task zoo has no pipeline for (speech, video, ...): the Hub's
    /// `pipeline_tag` is kept in the card's `hub` record.
    Other,
}

impl Task {
    pub const ALL: [Task; 10] = [
        Task::ImageClassification,
        Task::ObjectDetection,
        Task::TextEmbedding,
        Task::TextClassification,
        Task::QuestionAnswering,
        Task::FillMask,
        Task::TextGeneration,
        Task::TextToImage,
        Task::Chat,
        Task::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::ImageClassification => "image-classification",
            Task::ObjectDetection => "object-detection",
            Task::TextEmbedding => "text-embedding",
            Task::TextClassification => "text-classification",
            Task::QuestionAnswering => "question-answering",
            Task::FillMask => "fill-mask",
            Task::TextGeneration => "text-generation",
            Task::TextToImage => "text-to-image",
            Task::Chat => "chat",
            Task::Other => "other",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Task::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown task '{s}'; expected one of: {}", all.join(", "))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the model's directory; also the default path at every source.
    pub path: RelPath,
    /// Lower-case hex sha256. Absent only when no trustworthy digest is published;
    /// the fetcher then records the server's LFS digest (trust on first use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Hex>,
    /// The git blob id the Hub lists for a file kept in plain git (not LFS):
    /// checked while the file streams, for files without a published sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_blob: Option<GitBlobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub format: FileFormat,
    pub role: FileRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    Onnx,
    /// ONNX external data: tensors an `.onnx` file of the same model reads by
    /// offset (a fine-tune's shared backbone weights).
    OnnxData,
    Safetensors,
    Gguf,
    Tokenizer,
    Json,
    Text,
    Labels,
    /// Python pickle (`.bin`, `.pt`, `.ckpt`): can run code when loaded, so the
    /// fetcher refuses it unless asked.
    Pickle,
    /// Any other file: fetched and verified, never loaded by zoo.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRole {
    /// The graph or weights that inference runs.
    Model,
    Weights,
    Tokenizer,
    Config,
    Vocabulary,
    Labels,
    Documentation,
    /// A file zoo does not use (kept because the user asked for it).
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<Paper>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub training_data: Vec<Dataset>,
    /// The card name (or upstream id) of the model this one was fine-tuned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// The framework or format the weights were converted from, e.g. "MXNet Gluon".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paper {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// SPDX id or LicenseRef of the data, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The terms of use in plain words (e.g. ImageNet's non-commercial terms of access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
    /// Whether the data's terms allow commercial use; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commercial_use: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Io {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<TensorSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputSpec>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map_recursive"
    )]
    pub preprocessing: Option<Preprocessing>,
    /// Name of a label file in `registry/labels/` (without `.txt`), one label a line
    /// in output order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<Dim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

/// A tensor dimension: a fixed size or a symbolic name such as `batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    Symbolic(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Float16,
    Int64,
    Int32,
    Int8,
    Uint8,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    #[serde(rename = "NCHW")]
    Nchw,
    #[serde(rename = "NHWC")]
    Nhwc,
    /// Token sequences: [batch, sequence].
    #[serde(rename = "NS")]
    Ns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    pub kind: OutputKind,
    /// Size of the last axis (classes for logits, width for features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    Logits,
    Probabilities,
    /// The penultimate tensor to cut at for transfer learning.
    Features,
    /// Per-token hidden states to pool into an embedding.
    TokenEmbeddings,
    Embedding,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Preprocessing {
    Image(ImagePreprocessing),
    Text(TextPreprocessing),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePreprocessing {
    /// The image is resized to this before the center crop (see `resize_mode`).
    pub resize: u32,
    #[serde(default, skip_serializing_if = "ResizeMode::is_default")]
    pub resize_mode: ResizeMode,
    pub crop: u32,
    /// Per-channel mean and std in the scaled pixel space, in `channel_order`.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Pixels (0..=255) are multiplied by this before mean/std.
    #[serde(default = "one")]
    pub scale: f32,
    pub channel_order: ChannelOrder,
    pub layout: Layout,
}

/// How `resize` applies to an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// The shorter side becomes `resize`, keeping the aspect ratio.
    #[default]
    ShorterSide,
    /// Both sides become `resize`, ignoring the aspect ratio (a square stretch).
    Exact,
}

impl ResizeMode {
    fn is_default(&self) -> bool {
        *self == ResizeMode::ShorterSide
    }
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelOrder {
    #[serde(rename = "RGB")]
    Rgb,
    #[serde(rename = "BGR")]
    Bgr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextPreprocessing {
    /// Card path of the `tokenizer.json` file.
    pub tokenizer: RelPath,
    pub max_length: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<Pooling>,
    #[serde(default)]
    pub normalize: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Mean,
    Cls,
    Max,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub dataset: String,
    pub metric: String,
    pub value: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub provider: String,
    pub docs_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// Format and role from a file's name, as `registry check` expects them.
pub fn kind_of_path(path: &str) -> (FileFormat, FileRole) {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if crate::pickle::pickle_extension(path).is_some() {
        return (FileFormat::Pickle, FileRole::Weights);
    }
    match ext.as_deref() {
        Some("onnx") => (FileFormat::Onnx, FileRole::Model),
        Some("onnx_data" | "data") if name.contains(".onnx") => {
            (FileFormat::OnnxData, FileRole::Weights)
        }
        Some("safetensors") => (FileFormat::Safetensors, FileRole::Weights),
        Some("gguf") => (FileFormat::Gguf, FileRole::Weights),
        _ if name == "tokenizer.json" => (FileFormat::Tokenizer, FileRole::Tokenizer),
        _ if matches!(name, "vocab.txt" | "vocab.json" | "merges.txt") => {
            (FileFormat::Text, FileRole::Vocabulary)
        }
        Some("model") => (FileFormat::Other, FileRole::Tokenizer),
        _ if name == "tokenizer_config.json" || name == "special_tokens_map.json" => {
            (FileFormat::Json, FileRole::Tokenizer)
        }
        Some("json") => (FileFormat::Json, FileRole::Config),
        Some("md") | Some("txt") => (FileFormat::Text, FileRole::Documentation),
        _ if name.starts_with("LICENSE") => (FileFormat::Text, FileRole::Documentation),
        _ => (FileFormat::Other, FileRole::Other),
    }
}

impl Card {
    /// Whether `query` names this card, by name or alias (case-insensitive).
    pub fn answers_to(&self, query: &str) -> bool {
        self.name.eq_ignore_ascii_case(query)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(query))
    }

    /// Total bytes of the files whose size is known.
    pub fn total_size(&self) -> u64 {
        self.files.iter().filter_map(|f| f.size).sum()
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The sha256 of every ONNX external-data file (tensors an `.onnx` file
    /// of this model reads by offset), or `None` when one has no sha256.
    pub fn external_data_sha256(&self) -> Option<Vec<&str>> {
        (self.files.iter())
            .filter(|f| f.format == FileFormat::OnnxData)
            .map(|f| f.sha256.as_ref().map(|s| s.as_str()))
            .collect()
    }

    pub fn feature_output(&self) -> Option<&OutputSpec> {
        self.io
            .as_ref()?
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Features)
    }
}
