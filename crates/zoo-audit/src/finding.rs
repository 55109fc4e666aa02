//! What an audit reports: findings, each of one kind and one severity.

use serde::Serialize;

/// How much a finding matters. `--fail-on` compares against this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// An obligation or a fact worth knowing; never a problem by itself.
    Info,
    /// Something a person should look at before shipping.
    Warning,
    /// A broken file, a policy violation or a missing license acceptance.
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity '{s}'; expected info, warning or error"))
    }
}

/// Every kind of finding; `docs/audit.md` describes each. The serde names are
/// the stable identifiers scripts match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    // License terms of the model, its base models and its data.
    LicenseUnknown,
    LicenseDenied,
    LicenseNotAllowed,
    LicenseChanged,
    LicenseConflict,
    AttributionRequired,
    ShareAlike,
    NonCommercial,
    UseRestrictions,
    NoRedistribution,
    AcceptanceNotRecorded,
    DatasetTermsUnknown,
    // Openness and policy.
    ClosedModel,
    OpennessBelowPolicy,
    MofBelowPolicy,
    ProvenanceMissing,
    SourceNotAllowed,
    // Lineage.
    AncestorNotInCatalog,
    BaseDigestMismatch,
    // Integrity of the local files.
    CardMissing,
    ManifestUnreadable,
    FileMissing,
    FileModified,
    FileUnexpected,
    FileNotPulled,
    DigestMismatch,
    PickleFile,
    // Signatures (model.sig).
    SignatureMissing,
    SignatureUntrusted,
    SignatureInvalid,
    SignatureUnverifiable,
}

impl FindingKind {
    /// The identifier as printed and serialized, e.g. `file-modified`.
    pub fn as_str(self) -> &'static str {
        use FindingKind::*;
        match self {
            LicenseUnknown => "license-unknown",
            LicenseDenied => "license-denied",
            LicenseNotAllowed => "license-not-allowed",
            LicenseChanged => "license-changed",
            LicenseConflict => "license-conflict",
            AttributionRequired => "attribution-required",
            ShareAlike => "share-alike",
            NonCommercial => "non-commercial",
            UseRestrictions => "use-restrictions",
            NoRedistribution => "no-redistribution",
            AcceptanceNotRecorded => "acceptance-not-recorded",
            DatasetTermsUnknown => "dataset-terms-unknown",
            ClosedModel => "closed-model",
            OpennessBelowPolicy => "openness-below-policy",
            MofBelowPolicy => "mof-below-policy",
            ProvenanceMissing => "provenance-missing",
            SourceNotAllowed => "source-not-allowed",
            AncestorNotInCatalog => "ancestor-not-in-catalog",
            BaseDigestMismatch => "base-digest-mismatch",
            CardMissing => "card-missing",
            ManifestUnreadable => "manifest-unreadable",
            FileMissing => "file-missing",
            FileModified => "file-modified",
            FileUnexpected => "file-unexpected",
            FileNotPulled => "file-not-pulled",
            DigestMismatch => "digest-mismatch",
            PickleFile => "pickle-file",
            SignatureMissing => "signature-missing",
            SignatureUntrusted => "signature-untrusted",
            SignatureInvalid => "signature-invalid",
            SignatureUnverifiable => "signature-unverifiable",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// What it is about: `license`, `file model.onnx`, `base model resnet50-v1-7`,
    /// `training data ImageNet-1k (ILSVRC 2012) of resnet50-v1-7` ...
    pub subject: String,
    pub message: String,
}

impl Finding {
    pub fn new(
        kind: FindingKind,
        severity: Severity,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            severity,
            subject: subject.into(),
            message: message.into(),
        }
    }
}
