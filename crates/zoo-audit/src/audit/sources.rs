//! `allowed_sources`: where a model's files came from, as the manifest recorded
//! it, or where its card says they can come from.

use zoo_fetch::Manifest;
use zoo_registry::Card;

use super::Ctx;
use crate::finding::{Finding, FindingKind, Severity};
use crate::lineage::{Ancestor, Relation};

impl Ctx<'_> {
    pub(super) fn source_findings(
        &self,
        card: Option<&Card>,
        manifest: &Option<Manifest>,
        ancestors: &[Ancestor],
        out: &mut Vec<Finding>,
    ) {
        if self.policy.allowed_sources.is_empty() {
            return;
        }
        // zoo made fine-tuned models locally: where their base came from is what counts.
        if card.is_some_and(|c| c.lineage.is_some()) {
            let Some(base) = ancestors
                .iter()
                .find(|a| a.depth == 1 && a.relation == Relation::BaseModel)
            else {
                return;
            };
            let subject = format!("base model {}", base.name);
            let manifest = zoo_types::ModelName::parse(&base.name)
                .map_err(drop)
                .and_then(|n| self.store.manifest(&n).map_err(drop));
            match (manifest, &base.card) {
                (Ok(Some(m)), _) => self.file_sources(&subject, &m, out),
                (_, Some(c)) => self.card_sources(&subject, c, out),
                _ => {}
            }
            return;
        }
        match (manifest, card) {
            (Some(m), _) => self.file_sources("file", m, out),
            (None, Some(c)) => self.card_sources("sources", c, out),
            _ => {}
        }
    }

    fn file_sources(&self, subject: &str, m: &Manifest, out: &mut Vec<Finding>) {
        for f in m.files.iter().filter(|f| !self.source_allowed(&f.source)) {
            out.push(Finding::new(
                FindingKind::SourceNotAllowed,
                Severity::Error,
                format!("{subject} {}", f.path),
                format!(
                    "fetched from '{}', which the policy's allowed sources do not cover",
                    f.source
                ),
            ));
        }
    }

    fn card_sources(&self, subject: &str, c: &Card, out: &mut Vec<Finding>) {
        if c.sources.is_empty() || c.sources.iter().any(|s| self.source_allowed(&s.describe())) {
            return;
        }
        let all: Vec<String> = c.sources.iter().map(|s| s.describe()).collect();
        out.push(Finding::new(
            FindingKind::SourceNotAllowed,
            Severity::Error,
            subject,
            format!(
                "none of its sources is allowed by the policy: {}",
                all.join("; ")
            ),
        ));
    }

    /// A pattern is a source kind (`hf`) or a glob over the recorded source.
    fn source_allowed(&self, source: &str) -> bool {
        let kind = source.split_whitespace().next().unwrap_or_default();
        self.policy
            .allowed_sources
            .iter()
            .any(|p| p.eq_ignore_ascii_case(kind) || zoo_registry::license::glob_match(p, source))
    }
}
