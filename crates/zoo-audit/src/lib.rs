//! zoo-audit: license and provenance audits of the models zoo holds.
//!
//! For each pulled, fine-tuned or catalog model, [`audit`] reports the license
//! and its obligations in plain words (own and inherited through the lineage of
//! base models and training data), whether a gated license was accepted at pull,
//! the openness and the Model Openness Framework class ([`mof`]), the integrity
//! of every local file, and the policy's verdicts, all as [`Finding`]s. The
//! report renders as CycloneDX 1.6 or SPDX 3.0 AI-BOMs ([`bom`]).

mod audit;
pub mod bom;
mod error;
mod finding;
mod integrity;
mod lineage;
pub mod mof;
mod policy;
mod report;

pub use audit::{Checks, Selection, SignatureChecker, audit, audit_with};
pub use error::AuditError;
pub use finding::{Finding, FindingKind, Severity};
pub use integrity::{FileCheck, FileRecord, FileState};
pub use lineage::{Ancestor, Relation};
pub use mof::{MofClass, MofEvaluation, MofFilter};
pub use policy::{IntendedUse, Policy, ProvenanceField};
pub use report::{AuditReport, LicenseReport, ModelAudit, Scope};
