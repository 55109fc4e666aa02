//! The audit policy: what an organisation accepts. Read from YAML; every field is
//! optional, and an empty file (or no file) accepts everything, so findings then
//! only report obligations and broken files. `docs/audit.md` documents each field.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zoo_registry::OpennessClass;

use crate::error::AuditError;
use crate::mof::MofClass;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// When not empty, the license of the model and of every base model must match
    /// one of these patterns (`*` matches any text, case-insensitive).
    #[serde(default)]
    pub allow_licenses: Vec<String>,
    /// Licenses refused anywhere in the model's lineage, e.g. `CC-BY-NC-*`.
    #[serde(default)]
    pub deny_licenses: Vec<String>,
    /// A license whose terms zoo cannot read is a warning when true, an error when false.
    #[serde(default = "yes")]
    pub allow_unknown_licenses: bool,
    /// What the models will be used for; non-commercial terms conflict with `commercial`.
    #[serde(default)]
    pub intended_use: Option<IntendedUse>,
    /// Provenance a card must record.
    #[serde(default)]
    pub require_provenance: Vec<ProvenanceField>,
    /// Weakest acceptable openness: `open`, `open-weights-restricted` or `closed`.
    #[serde(default)]
    pub min_openness: Option<OpennessClass>,
    /// Lowest acceptable Model Openness Framework class: `III`, `II` or `I`.
    #[serde(default)]
    pub min_mof_class: Option<MofClass>,
    /// When not empty, every file must come from a source matching one of these
    /// patterns: a kind (`hf`, `url`, `pypi`, `file`) or a glob over the source as
    /// recorded, e.g. `hf onnxmodelzoo/*`.
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// Every pulled or fine-tuned model must carry a signature (model.sig)
    /// that verifies over exactly its files, by a trusted signer.
    #[serde(default)]
    pub require_signature: bool,
    /// Keys trusted to sign models: PEM files of public keys (relative to the
    /// policy file's folder) or `sha256:` fingerprints. With `trusted_roots`,
    /// replaces the config file's lists for this audit.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// CA certificates (PEM files) a signing certificate may chain to.
    #[serde(default)]
    pub trusted_roots: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allow_licenses: Vec::new(),
            deny_licenses: Vec::new(),
            allow_unknown_licenses: true,
            intended_use: None,
            require_provenance: Vec::new(),
            min_openness: None,
            min_mof_class: None,
            allowed_sources: Vec::new(),
            require_signature: false,
            trusted_keys: Vec::new(),
            trusted_roots: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntendedUse {
    /// Shipping in a product or service: non-commercial terms are errors.
    Commercial,
    /// Non-commercial research: non-commercial terms are only obligations.
    Research,
}

/// Card provenance fields a policy can require (named as in the card).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceField {
    Organization,
    Authors,
    Paper,
    TrainingData,
    BaseModel,
    ConvertedFrom,
    Upstream,
    /// Every file on the card carries a published sha256 (no trust on first use).
    Digests,
}

impl ProvenanceField {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvenanceField::Organization => "organization",
            ProvenanceField::Authors => "authors",
            ProvenanceField::Paper => "paper",
            ProvenanceField::TrainingData => "training_data",
            ProvenanceField::BaseModel => "base_model",
            ProvenanceField::ConvertedFrom => "converted_from",
            ProvenanceField::Upstream => "upstream",
            ProvenanceField::Digests => "digests",
        }
    }
}

impl Policy {
    /// Read a policy file; a malformed one is an error naming `file:line`.
    pub fn load(path: &Path) -> Result<Policy, AuditError> {
        let text = zoo_fs::read_to_string_bounded(path, zoo_fs::limits::POLICY_BYTES).map_err(
            |source| AuditError::ReadPolicy {
                path: path.to_owned(),
                source,
            },
        )?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Parse policy YAML; `file` names it in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Policy, AuditError> {
        // serde_yaml rejects an empty document, but an empty policy is a valid one.
        if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        }) {
            return Ok(Policy::default());
        }
        zoo_fs::check_nesting(text, zoo_fs::limits::YAML_DEPTH).map_err(|e| {
            AuditError::Policy {
                file: file.to_owned(),
                line: e.line,
                message: e.to_string(),
            }
        })?;
        let policy: Policy = serde_yaml::from_str(text).map_err(|e| AuditError::Policy {
            file: file.to_owned(),
            line: e.location().map_or(0, |l| l.line()),
            message: strip_location(&e.to_string()),
        })?;
        let empty = policy
            .allow_licenses
            .iter()
            .chain(&policy.deny_licenses)
            .chain(&policy.allowed_sources)
            .find(|p| p.trim().is_empty());
        if empty.is_some() {
            return Err(AuditError::Policy {
                file: file.to_owned(),
                line: line_of(text, "\"\"").max(line_of(text, "''")),
                message: "empty pattern: remove it, or write '*' to match everything".to_owned(),
            });
        }
        Ok(policy)
    }
}

/// serde_yaml appends "at line L column C"; the message already leads with it.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}
