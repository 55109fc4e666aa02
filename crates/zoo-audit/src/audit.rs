//! The audit of one model and of a selection: license terms and their
//! obligations, acceptance at pull, openness and MOF class, lineage, sources and
//! file integrity, each judged against the policy.

mod signature;
mod sources;
mod terms;

use zoo_fetch::{Manifest, Store, gate};
use zoo_registry::{Card, Catalog, Entry, OpennessClass, Origin, Terms};
use zoo_sign::SignatureStatus;

use crate::error::AuditError;
use crate::finding::{Finding, FindingKind, Severity};
use crate::integrity::{self, FileCheck};
use crate::lineage::{self, Ancestor, Relation};
use crate::mof;
use crate::policy::{Policy, ProvenanceField};
use crate::report::{AuditReport, LicenseReport, ModelAudit, Scope};
use terms::{bare_license, inherited_obligations, not_accepted};

/// Which models to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every pulled and every fine-tuned model; with `catalog`, every other card too.
    All { catalog: bool },
    /// These models (catalog names or aliases, or names in the store), pulled or not.
    Names(Vec<String>),
}

/// Checks the signature of a model with local files (see
/// [`audit_with_signatures`]): the caller holds the trust and knows how the
/// store's folders are signed.
pub type SignatureChecker<'a> = &'a dyn Fn(&Manifest) -> SignatureStatus;

/// What an audit checks beyond the cards and the manifests.
#[derive(Clone, Copy, Default)]
pub struct Checks<'a> {
    /// Each local model's signature, judged against the policy's
    /// `require_signature`.
    pub signatures: Option<SignatureChecker<'a>>,
    pub files: FileCheck,
}

impl std::fmt::Debug for Checks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checks")
            .field("signatures", &self.signatures.is_some())
            .field("files", &self.files)
            .finish()
    }
}

/// Audit the selected models. Fails only when a name matches nothing; every
/// problem with a model is a finding in the report.
pub fn audit(
    catalog: &Catalog,
    store: &Store,
    policy: &Policy,
    selection: &Selection,
) -> Result<AuditReport, AuditError> {
    audit_with(catalog, store, policy, selection, Checks::default())
}

/// [`audit`] with the signature check and the file check of `checks`.
pub fn audit_with(
    catalog: &Catalog,
    store: &Store,
    policy: &Policy,
    selection: &Selection,
    checks: Checks<'_>,
) -> Result<AuditReport, AuditError> {
    let ctx = Ctx {
        catalog,
        store,
        policy,
        signatures: checks.signatures,
        files: checks.files,
    };
    let mut models = Vec::new();
    match selection {
        Selection::All { catalog: all_cards } => {
            let pulled = stored_names(store);
            for name in &pulled {
                models.push(ctx.audit_name(name));
            }
            for e in catalog.entries() {
                let local = e.card.lineage.is_some();
                if (local || *all_cards) && !pulled.iter().any(|p| *p == e.card.name) {
                    models.push(ctx.audit_model(&e.card.name, Some(e), None));
                }
            }
        }
        Selection::Names(names) => {
            for query in names {
                let name = match catalog.resolve(query) {
                    Ok(e) => e.card.name.to_string(),
                    Err(_)
                        if zoo_types::ModelName::parse(query)
                            .is_ok_and(|n| store.model_dir(&n).is_dir()) =>
                    {
                        query.clone()
                    }
                    Err(_) => {
                        return Err(AuditError::UnknownModel {
                            name: query.clone(),
                        });
                    }
                };
                if !models.iter().any(|m: &ModelAudit| m.name == name) {
                    models.push(ctx.audit_name(&name));
                }
            }
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AuditReport {
        zoo_version: env!("CARGO_PKG_VERSION").to_owned(),
        policy: policy.clone(),
        models,
    })
}

/// Names of the model directories in the store, whether their manifest reads or not.
fn stored_names(store: &Store) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(store.root().join("models")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

struct Ctx<'a> {
    catalog: &'a Catalog,
    store: &'a Store,
    policy: &'a Policy,
    signatures: Option<SignatureChecker<'a>>,
    files: FileCheck,
}

impl Ctx<'_> {
    fn audit_name(&self, name: &str) -> ModelAudit {
        let entry = self.catalog.resolve(name).ok();
        // A store folder whose name is not a model name was not made by zoo.
        let manifest = match zoo_types::ModelName::parse(name) {
            Err(e) => Some(Err(e.to_string())),
            Ok(model) => match self.store.manifest(&model) {
                Ok(Some(m)) => Some(Ok(m)),
                Ok(None) if self.store.model_dir(&model).is_dir() => Some(Err(format!(
                    "{} has no {}",
                    self.store.model_dir(&model).display(),
                    zoo_fetch::MANIFEST_FILE
                ))),
                Ok(None) => None,
                Err(e) => Some(Err(e.to_string())),
            },
        };
        self.audit_model(name, entry, manifest)
    }

    fn audit_model(
        &self,
        name: &str,
        entry: Option<&Entry>,
        manifest: Option<Result<Manifest, String>>,
    ) -> ModelAudit {
        let mut findings = Vec::new();
        let card = entry.map(|e| &e.card);
        let manifest = match manifest {
            Some(Ok(m)) => Some(m),
            Some(Err(why)) => {
                findings.push(Finding::new(
                    FindingKind::ManifestUnreadable,
                    Severity::Error,
                    "manifest",
                    why,
                ));
                None
            }
            None => None,
        };
        if card.is_none() {
            findings.push(Finding::new(
                FindingKind::CardMissing,
                Severity::Warning,
                "card",
                "no card of this name in the catalog: only the license id recorded at pull is known",
            ));
        }
        let license = card.map_or_else(
            || bare_license(manifest.as_ref().map_or("NOASSERTION", |m| &m.license.id)),
            |c| c.license.clone(),
        );
        let terms = license.terms();
        let scope = match (card.and_then(|c| c.lineage.as_ref()), &manifest) {
            (Some(_), _) => Scope::FineTuned,
            (None, Some(_)) => Scope::Pulled,
            (None, None) => Scope::Catalog,
        };
        self.terms_findings("license", &license.id, terms.as_ref(), &mut findings);
        self.pattern_findings("license", &license.id, &mut findings);
        if let (Some(c), Some(m)) = (card, &manifest) {
            if m.license.id != c.license.id {
                findings.push(Finding::new(
                    FindingKind::LicenseChanged,
                    Severity::Warning,
                    "license",
                    format!(
                        "pulled under {} but the card now says {}; re-pull to accept the current terms",
                        m.license.id, c.license.id
                    ),
                ));
            }
            // zoo made fine-tuned models itself: acceptance is judged on their base.
            if c.lineage.is_none() && gate::needs_acceptance(c) && !m.license.accepted {
                findings.push(not_accepted("license", c));
            }
        }
        let ancestors = card
            .map(|c| lineage::walk(self.catalog, c))
            .unwrap_or_default();
        let mut inherited = Vec::new();
        if let Some(c) = card {
            self.openness_findings(c, &mut findings);
            self.provenance_findings(c, &mut findings);
            for a in &ancestors {
                self.ancestor_findings(c, a, terms.as_ref(), &mut findings);
                inherited.extend(inherited_obligations(name, a));
            }
        }
        self.source_findings(card, &manifest, &ancestors, &mut findings);
        let (files, file_findings) = match (&manifest, card, entry.map(|e| &e.origin)) {
            (Some(m), _, _) => integrity::check_pulled(self.store, m, card, self.files),
            (None, Some(c), Some(Origin::Dir { path })) if c.lineage.is_some() => {
                integrity::check_local(path.parent().unwrap_or(path), c)
            }
            _ => (Vec::new(), Vec::new()),
        };
        findings.extend(file_findings);
        let signature = manifest
            .as_ref()
            .zip(self.signatures)
            .map(|(m, check)| check(m));
        if let Some(status) = &signature {
            findings.extend(signature::findings(status, self.policy));
        }
        // A pulled checkpoint zoo converted: which graph runs, built from what.
        let conversion = match (card, &manifest) {
            (Some(c), Some(_)) => {
                zoo_convert::derived::find_record(c, &self.store.model_dir(&c.name))
            }
            _ => None,
        };
        ModelAudit {
            name: name.to_owned(),
            version: card
                .map(|c| c.version.clone())
                .or_else(|| manifest.as_ref().map(|m| m.version.clone())),
            scope,
            pulled_at: manifest.as_ref().map(|m| m.pulled_at.clone()),
            license: LicenseReport {
                id: license.id.clone(),
                name: license.name.clone(),
                url: license.url.clone(),
                class: license.class(),
                obligations: terms.as_ref().map(Terms::obligations).unwrap_or_else(|| {
                    vec!["Terms unknown: read the license text before using this model.".to_owned()]
                }),
                terms,
                inherited,
                // Models zoo made are never pulled; their base's acceptance is what counts.
                needs_acceptance: card
                    .is_some_and(|c| c.lineage.is_none() && gate::needs_acceptance(c)),
                accepted: manifest.as_ref().map(|m| m.license.accepted),
                accepted_at: manifest
                    .as_ref()
                    .and_then(|m| m.license.accepted_at.clone()),
            },
            openness: card.map(|c| c.openness.class),
            mof: card.map(|c| mof::evaluate(&c.openness)),
            lineage: ancestors,
            files,
            signature,
            base_signer: card
                .and_then(|c| c.lineage.as_ref())
                .and_then(|l| l.base_signer.clone()),
            conversion,
            findings: dedupe(findings),
            card: card.cloned(),
        }
    }

    fn openness_findings(&self, card: &Card, out: &mut Vec<Finding>) {
        let class = card.openness.class;
        if class == OpennessClass::Closed {
            let provider = card
                .api
                .as_ref()
                .map_or("its provider", |a| a.provider.as_str());
            out.push(Finding::new(
                FindingKind::ClosedModel,
                Severity::Warning,
                "openness",
                format!(
                    "closed model: no weights to inspect or keep; reachable only through {provider}'s API under {}",
                    card.license.display_name()
                ),
            ));
        }
        if let Some(min) = self.policy.min_openness
            && openness_rank(class) < openness_rank(min)
        {
            out.push(Finding::new(
                FindingKind::OpennessBelowPolicy,
                Severity::Error,
                "openness",
                format!("openness is {class} but the policy requires at least {min}"),
            ));
        }
        if let Some(min) = self.policy.min_mof_class {
            let eval = mof::evaluate(&card.openness);
            if eval.class.is_none_or(|c| c < min) {
                let gaps: Vec<String> = eval
                    .missing_for(min)
                    .iter()
                    .map(|g| format!("{} ({})", g.component.as_str(), g.reason))
                    .collect();
                out.push(Finding::new(
                    FindingKind::MofBelowPolicy,
                    Severity::Error,
                    "openness",
                    format!(
                        "MOF class is {} but the policy requires {}; missing: {}",
                        eval.class
                            .map_or("none".to_owned(), |c| c.label().to_owned()),
                        min.label(),
                        gaps.join(", ")
                    ),
                ));
            }
        }
    }

    fn provenance_findings(&self, card: &Card, out: &mut Vec<Finding>) {
        let p = &card.provenance;
        for field in &self.policy.require_provenance {
            let present = match field {
                ProvenanceField::Organization => p.organization.is_some(),
                ProvenanceField::Authors => !p.authors.is_empty(),
                ProvenanceField::Paper => p.paper.is_some(),
                ProvenanceField::TrainingData => !p.training_data.is_empty(),
                ProvenanceField::BaseModel => p.base_model.is_some() || card.lineage.is_some(),
                ProvenanceField::ConvertedFrom => p.converted_from.is_some(),
                ProvenanceField::Upstream => p.upstream.is_some(),
                ProvenanceField::Digests => card.files.iter().all(|f| f.sha256.is_some()),
            };
            if !present {
                out.push(Finding::new(
                    FindingKind::ProvenanceMissing,
                    Severity::Error,
                    format!("provenance {}", field.as_str()),
                    format!(
                        "the policy requires `{}` but the card records none",
                        field.as_str()
                    ),
                ));
            }
        }
    }

    fn ancestor_findings(
        &self,
        card: &Card,
        a: &Ancestor,
        own: Option<&Terms>,
        out: &mut Vec<Finding>,
    ) {
        let subject = a.subject(&card.name);
        match a.relation {
            Relation::BaseModel => {
                if !a.in_catalog {
                    out.push(Finding::new(
                        FindingKind::AncestorNotInCatalog,
                        Severity::Info,
                        &subject,
                        "not in the catalog: its terms and data cannot be followed further",
                    ));
                }
                if a.in_catalog || a.license.is_some() {
                    let id = a.license.as_deref().unwrap_or("NOASSERTION");
                    self.terms_findings(&subject, id, a.terms.as_ref(), out);
                    self.pattern_findings(&subject, id, out);
                }
                self.base_conflicts(&subject, a, own, &card.license.id, out);
                if let Some(base) = &a.card
                    && gate::needs_acceptance(base)
                    && let Ok(Some(m)) = self.store.manifest(&base.name)
                    && !m.license.accepted
                {
                    out.push(not_accepted(&subject, base));
                }
                if a.depth == 1 && card.lineage.is_some() {
                    self.recorded_base(&subject, card, a, out);
                }
            }
            Relation::TrainingData | Relation::FineTuningData => {
                let commercial = a
                    .commercial_use
                    .or_else(|| a.terms.as_ref().map(|t| t.commercial_use));
                match commercial {
                    Some(false) => {
                        out.push(self.non_commercial(
                            &subject,
                            a.terms_text.clone().unwrap_or_else(|| {
                                "the data's terms forbid commercial use".to_owned()
                            }),
                        ))
                    }
                    Some(true) => {}
                    None => match (&a.license, &a.terms) {
                        (Some(id), None) => out.push(Finding::new(
                            FindingKind::LicenseUnknown,
                            self.unknown_severity(),
                            &subject,
                            format!("zoo cannot read the data's license '{id}'"),
                        )),
                        _ => out.push(Finding::new(
                            FindingKind::DatasetTermsUnknown,
                            self.unknown_data_severity(),
                            &subject,
                            a.terms_text.clone().unwrap_or_else(|| {
                                "the card records neither a license nor terms for this data"
                                    .to_owned()
                            }),
                        )),
                    },
                }
            }
        }
    }

    /// What zoo recorded about the base at fine-tuning against what is known now.
    fn recorded_base(&self, subject: &str, card: &Card, a: &Ancestor, out: &mut Vec<Finding>) {
        let (Some(l), Some(base)) = (&card.lineage, &a.card) else {
            return;
        };
        if l.base_license != base.license.id {
            out.push(Finding::new(
                FindingKind::LicenseChanged,
                Severity::Warning,
                subject,
                format!(
                    "fine-tuned under {} but the catalog now licenses the base as {}",
                    l.base_license, base.license.id
                ),
            ));
        }
        let mut known: Vec<String> = (base.files.iter())
            .filter_map(|f| f.sha256.as_ref().map(ToString::to_string))
            .collect();
        if let Ok(Some(m)) = self.store.manifest(&base.name) {
            known.extend(m.files.into_iter().map(|f| f.sha256));
        }
        // A base that ships a checkpoint runs (and is fine-tuned) as the ONNX
        // graph zoo converted from it: that graph's digest is the base's too.
        if let Some(record) =
            zoo_convert::derived::find_record(base, &self.store.model_dir(&base.name))
        {
            known.push(record.onnx_sha256);
        }
        if !known.is_empty() && !known.contains(&l.base_sha256) {
            out.push(Finding::new(
                FindingKind::BaseDigestMismatch,
                Severity::Warning,
                subject,
                format!(
                    "fine-tuned from bytes with sha256 {}, which match no file of the base model's card or pull",
                    l.base_sha256
                ),
            ));
        }
    }
}

/// Each finding once (the same data reached by two paths), worst first.
fn dedupe(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then(a.subject.cmp(&b.subject))
            .then(a.message.cmp(&b.message))
    });
    findings.dedup_by(|a, b| a.kind == b.kind && a.subject == b.subject && a.message == b.message);
    findings
}

fn openness_rank(c: OpennessClass) -> u8 {
    match c {
        OpennessClass::Closed => 0,
        OpennessClass::OpenWeightsRestricted => 1,
        OpennessClass::Open => 2,
    }
}
