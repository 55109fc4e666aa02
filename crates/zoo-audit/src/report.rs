//! The audit's result, as the CLI prints it and the AI-BOMs are built from it.

use serde::Serialize;
use zoo_registry::card::BaseSigner;
use zoo_registry::{Card, LicenseClass, OpennessClass, Terms};
use zoo_sign::SignatureStatus;

use crate::finding::{Finding, Severity};
use crate::integrity::FileRecord;
use crate::lineage::Ancestor;
use crate::mof::MofEvaluation;
use crate::policy::Policy;

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub zoo_version: String,
    /// The policy the models were judged against (the default when none was given).
    pub policy: Policy,
    pub models: Vec<ModelAudit>,
}

impl AuditReport {
    /// Findings of exactly this severity, over all models.
    pub fn count(&self, severity: Severity) -> usize {
        self.models
            .iter()
            .flat_map(|m| &m.findings)
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.models.iter().filter_map(ModelAudit::worst).max()
    }

    /// Whether any finding is at or above `threshold`: the CLI then exits 1.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.worst().is_some_and(|w| w >= threshold)
    }
}

/// Where an audited model lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// In the store, pulled from its sources.
    Pulled,
    /// Made locally by zoo (its card has `lineage`).
    FineTuned,
    /// A catalog card with nothing local: terms and openness only.
    Catalog,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Pulled => "pulled",
            Scope::FineTuned => "fine-tuned",
            Scope::Catalog => "catalog",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelAudit {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulled_at: Option<String>,
    pub license: LicenseReport,
    /// `None` when the card is gone from the catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openness: Option<OpennessClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mof: Option<MofEvaluation>,
    pub lineage: Vec<Ancestor>,
    pub files: Vec<FileRecord>,
    /// The signature's state, for models with local files whose signature
    /// was checked; `None` for catalog cards and audits that did not check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureStatus>,
    /// Who signed the base model of a fine-tune, as recorded at fine-tuning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_signer: Option<BaseSigner>,
    /// The ONNX graph zoo built from the model's checkpoint, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<zoo_convert::derived::ConversionRecord>,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// The card the audit read, for the AI-BOMs.
    #[serde(skip)]
    pub card: Option<Card>,
}

impl ModelAudit {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LicenseReport {
    /// SPDX expression or LicenseRef.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub class: LicenseClass,
    /// `None` when zoo cannot read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    /// The model's own obligations in plain words.
    pub obligations: Vec<String>,
    /// Obligations carried from base models and data, each prefixed with its source.
    pub inherited: Vec<String>,
    /// The terms must be accepted at pull (gated or restrictive).
    pub needs_acceptance: bool,
    /// What the manifest recorded; `None` when nothing was pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
}
