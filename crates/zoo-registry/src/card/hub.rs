//! The record zoo keeps on a card it wrote from a Hugging Face repository's
//! metadata: what was asked for, the commit that answered, the base models the
//! repository names, and where every field of the card came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zoo_types::{CommitId, RepoId, Revision};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubRecord {
    pub repo: RepoId,
    /// The branch, tag or commit the user asked for; `zoo outdated` resolves it again.
    pub revision: Revision,
    /// The commit it resolved to; the card's hf source is pinned to it.
    pub commit: CommitId,
    /// Commits this card pinned before, oldest first: a pull after the
    /// revision moved keeps the history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_commits: Vec<CommitId>,
    /// RFC 3339 UTC time the card was (re)written.
    pub imported_at: String,
    /// `manual` or `auto` for gated repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated: Option<String>,
    /// The Hub's task tag as given, e.g. `feature-extraction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_name: Option<String>,
    /// The models this one was made from, as the repository declares them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_models: Vec<BaseModelRef>,
    /// Card field → where its value came from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldOrigin>,
    /// Fields the repository does not give (license, base model, datasets,
    /// parameters, ...): nothing is invented for them, and the audit says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Whether zoo can run the model (predict / embed / finetune), and if not, why.
    pub runnable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_runnable_because: Option<String>,
}

/// A base model named by the repository (`base_model` in its README front
/// matter, or the Hub's `base_model:<relation>:<id>` tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseModelRef {
    pub repo: RepoId,
    pub relation: BaseRelation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseRelation {
    Finetune,
    Adapter,
    Quantized,
    Merge,
    /// The repository names a base model without saying how it was derived.
    Unspecified,
}

impl BaseRelation {
    pub fn as_str(self) -> &'static str {
        match self {
            BaseRelation::Finetune => "finetune",
            BaseRelation::Adapter => "adapter",
            BaseRelation::Quantized => "quantized",
            BaseRelation::Merge => "merge",
            BaseRelation::Unspecified => "unspecified",
        }
    }

    /// The Hub's relation names (`base_model:<relation>:<id>` tags and
    /// `base_model_relation` in the front matter).
    pub fn from_hub(s: &str) -> Option<BaseRelation> {
        match s {
            "finetune" => Some(BaseRelation::Finetune),
            "adapter" => Some(BaseRelation::Adapter),
            "quantized" => Some(BaseRelation::Quantized),
            "merge" => Some(BaseRelation::Merge),
            _ => None,
        }
    }
}

/// Where a card field's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldOrigin {
    /// The Hub API's model info (`sha`, `siblings`, `pipeline_tag`, `tags`, `safetensors` ...).
    HubMetadata,
    /// The YAML front matter of the repository's README.md (the Hub's `cardData`).
    ReadmeFrontMatter,
    /// The Hub API's dataset info for a dataset the repository names.
    DatasetMetadata,
    ConfigJson,
    PreprocessorConfig,
    TokenizerConfig,
    /// sentence-transformers' `modules.json` and its pooling configuration.
    SentenceTransformers,
    /// The inputs and outputs of the ONNX graph itself.
    OnnxGraph,
    /// Computed by zoo from other fields by a documented rule (openness from the
    /// license, the card name from the repository id).
    Zoo,
}

impl FieldOrigin {
    pub fn describe(self) -> &'static str {
        match self {
            FieldOrigin::HubMetadata => "Hub metadata",
            FieldOrigin::ReadmeFrontMatter => "README front matter",
            FieldOrigin::DatasetMetadata => "Hub dataset metadata",
            FieldOrigin::ConfigJson => "config.json",
            FieldOrigin::PreprocessorConfig => "preprocessor_config.json",
            FieldOrigin::TokenizerConfig => "tokenizer_config.json",
            FieldOrigin::SentenceTransformers => "sentence-transformers modules.json",
            FieldOrigin::OnnxGraph => "ONNX graph",
            FieldOrigin::Zoo => "zoo's own rules",
        }
    }
}
