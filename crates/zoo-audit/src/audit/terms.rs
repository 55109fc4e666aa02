//! License terms as findings: obligations, policy patterns, what a derivative
//! owes its base, and acceptance at pull.

use zoo_registry::{Card, License, Terms};

use super::Ctx;
use crate::finding::{Finding, FindingKind, Severity};
use crate::lineage::{Ancestor, Relation};
use crate::policy::IntendedUse;

impl Ctx<'_> {
    /// The obligations a license's terms impose, as findings about `subject`.
    pub(super) fn terms_findings(
        &self,
        subject: &str,
        id: &str,
        terms: Option<&Terms>,
        out: &mut Vec<Finding>,
    ) {
        let Some(t) = terms else {
            out.push(Finding::new(
                FindingKind::LicenseUnknown,
                self.unknown_severity(),
                subject,
                format!("zoo cannot read the terms of '{id}'; read the license text before use"),
            ));
            return;
        };
        if t.attribution {
            out.push(Finding::new(
                FindingKind::AttributionRequired,
                Severity::Info,
                subject,
                format!("{id} requires attribution: keep its copyright and license notices"),
            ));
        }
        if t.share_alike {
            out.push(Finding::new(
                FindingKind::ShareAlike,
                Severity::Info,
                subject,
                format!("{id} is share-alike: derivatives must carry the same license"),
            ));
        }
        if !t.commercial_use {
            out.push(self.non_commercial(subject, format!("{id} forbids commercial use")));
        }
        if !t.use_restrictions.is_empty() {
            out.push(Finding::new(
                FindingKind::UseRestrictions,
                Severity::Info,
                subject,
                t.use_restrictions
                    .iter()
                    .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        if !t.redistribution {
            out.push(Finding::new(
                FindingKind::NoRedistribution,
                Severity::Info,
                subject,
                format!("{id} does not permit redistributing the weights"),
            ));
        }
    }

    pub(super) fn pattern_findings(&self, subject: &str, id: &str, out: &mut Vec<Finding>) {
        let lic = bare_license(id);
        if let Some(p) = self.policy.deny_licenses.iter().find(|p| lic.matches(p)) {
            out.push(Finding::new(
                FindingKind::LicenseDenied,
                Severity::Error,
                subject,
                format!("{id} matches the policy's deny pattern '{p}'"),
            ));
        }
        let allow = &self.policy.allow_licenses;
        if !allow.is_empty() && !allow.iter().any(|p| lic.matches(p)) {
            out.push(Finding::new(
                FindingKind::LicenseNotAllowed,
                Severity::Error,
                subject,
                format!(
                    "{id} matches none of the policy's allowed licenses ({})",
                    allow.join(", ")
                ),
            ));
        }
    }

    /// A derivative cannot grant more than its base allows.
    pub(super) fn base_conflicts(
        &self,
        subject: &str,
        a: &Ancestor,
        own: Option<&Terms>,
        own_id: &str,
        out: &mut Vec<Finding>,
    ) {
        let (Some(base), Some(own)) = (&a.terms, own) else {
            return;
        };
        let base_id = a.license.as_deref().unwrap_or_default();
        if !base.commercial_use && own.commercial_use {
            out.push(Finding::new(
                FindingKind::LicenseConflict,
                Severity::Warning,
                subject,
                format!("{own_id} allows commercial use but the base model's {base_id} forbids it"),
            ));
        }
        if base.share_alike && !own_id.eq_ignore_ascii_case(base_id) {
            out.push(Finding::new(
                FindingKind::LicenseConflict,
                Severity::Warning,
                subject,
                format!("{base_id} is share-alike but the derivative is licensed {own_id}"),
            ));
        }
    }

    pub(super) fn non_commercial(&self, subject: &str, why: String) -> Finding {
        let (severity, note) = match self.policy.intended_use {
            Some(IntendedUse::Commercial) => (
                Severity::Error,
                " — conflicts with the policy's intended use (commercial)",
            ),
            Some(IntendedUse::Research) => (Severity::Info, ""),
            None => (Severity::Warning, ""),
        };
        let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
        Finding::new(
            FindingKind::NonCommercial,
            severity,
            subject,
            format!("{why}{note}"),
        )
    }

    pub(super) fn unknown_severity(&self) -> Severity {
        if self.policy.allow_unknown_licenses {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    pub(super) fn unknown_data_severity(&self) -> Severity {
        if self.policy.intended_use == Some(IntendedUse::Commercial) {
            Severity::Warning
        } else {
            Severity::Info
        }
    }
}

pub(super) fn not_accepted(subject: &str, card: &Card) -> Finding {
    let why = if card.license.terms().is_some_and(|t| t.gated) {
        "is gated: its terms must be accepted before download"
    } else {
        "restricts use and must be accepted at pull"
    };
    Finding::new(
        FindingKind::AcceptanceNotRecorded,
        Severity::Error,
        subject,
        format!(
            "{} ({}) {why}, but the manifest of {} records no acceptance; re-pull with --accept-license",
            card.license.display_name(),
            card.license.id,
            card.name
        ),
    )
}

/// An ancestor's obligations, prefixed with where they come from.
pub(super) fn inherited_obligations(audited: &str, a: &Ancestor) -> Vec<String> {
    let subject = a.subject(audited);
    match a.relation {
        Relation::BaseModel => match &a.terms {
            Some(t) => t
                .obligations()
                .into_iter()
                .filter(|o| !o.starts_with("No obligations"))
                .map(|o| format!("{subject}: {o}"))
                .collect(),
            None => vec![format!("{subject}: terms unknown")],
        },
        Relation::TrainingData | Relation::FineTuningData => {
            let commercial = a
                .commercial_use
                .or_else(|| a.terms.as_ref().map(|t| t.commercial_use));
            match commercial {
                Some(false) => vec![format!("{subject}: Non-commercial use only.")],
                Some(true) => Vec::new(),
                None => vec![format!("{subject}: terms unknown")],
            }
        }
    }
}

pub(super) fn bare_license(id: &str) -> License {
    License {
        id: id.to_owned(),
        name: None,
        url: None,
        terms: None,
    }
}
