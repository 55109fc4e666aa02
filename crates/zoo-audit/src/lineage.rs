//! Lineage: from a model to the models it was made from and the data they were
//! trained on, as far as the catalog knows them. A derivative carries the terms
//! of every ancestor, so the audit reads obligations off this list.

use std::collections::BTreeSet;

use serde::Serialize;
use zoo_registry::{Card, Catalog, License, Terms};

/// How deep to follow base models; real chains are two or three long, and a
/// cycle in user cards must not loop.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The model this one was fine-tuned, distilled, quantized or converted from.
    BaseModel,
    /// Data a model was (pre-)trained on, as its card lists it.
    TrainingData,
    /// The data zoo fine-tuned a local model on, as recorded at creation.
    FineTuningData,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ancestor {
    pub relation: Relation,
    pub name: String,
    /// The model this is an ancestor of: the audited model or another ancestor.
    pub of: String,
    /// 1 for the audited model's own base and data, 2 for its base's, and so on.
    pub depth: usize,
    /// SPDX id or LicenseRef, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The effective terms: from the catalog card, the dataset's license, or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    /// A dataset's terms of use in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_text: Option<String>,
    /// For data: whether its terms allow commercial use; `None` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commercial_use: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Base model: the sha256 of the file zoo fine-tuned (when zoo made the model);
    /// fine-tuning data: the dataset fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether a base model resolved to a card of the catalog.
    pub in_catalog: bool,
    /// The ancestor's card, for base models found in the catalog.
    #[serde(skip)]
    pub card: Option<Card>,
}

impl Ancestor {
    /// How findings name it, e.g. `base model resnet50-v1-7` or
    /// `training data ImageNet-1k of resnet50-v1-7`.
    pub fn subject(&self, audited: &str) -> String {
        let what = match self.relation {
            Relation::BaseModel => "base model",
            Relation::TrainingData => "training data",
            Relation::FineTuningData => "fine-tuning data",
        };
        if self.of == audited {
            format!("{what} {}", self.name)
        } else {
            format!("{what} {} of {}", self.name, self.of)
        }
    }
}

/// Every ancestor of `card`, nearest first.
pub fn walk(catalog: &Catalog, card: &Card) -> Vec<Ancestor> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([card.name.to_string()]);
    let mut frontier = vec![(card.clone(), 1usize)];
    while let Some((model, depth)) = frontier.pop() {
        out.extend(datasets_of(&model, depth));
        let Some(base) = base_of(catalog, &model, depth, &seen) else {
            continue;
        };
        if let Some(c) = &base.card
            && depth < MAX_DEPTH
        {
            seen.insert(c.name.to_string());
            frontier.push((c.clone(), depth + 1));
        }
        out.push(base);
    }
    out.sort_by_key(|a| a.depth);
    out
}

fn datasets_of(model: &Card, depth: usize) -> Vec<Ancestor> {
    let mut out: Vec<Ancestor> = model
        .provenance
        .training_data
        .iter()
        // A fine-tuned card also lists its fine-tuning data as training data;
        // the lineage record below says more about it, so it is counted once.
        .filter(|d| {
            model
                .lineage
                .as_ref()
                .is_none_or(|l| l.dataset.source != d.name)
        })
        .map(|d| Ancestor {
            relation: Relation::TrainingData,
            name: d.name.clone(),
            of: model.name.to_string(),
            depth,
            license: d.license.clone(),
            terms: d.license.as_deref().and_then(terms_of),
            terms_text: d.terms.as_ref().map(|t| t.trim().to_owned()),
            commercial_use: d.commercial_use,
            url: d.url.clone(),
            sha256: None,
            in_catalog: false,
            card: None,
        })
        .collect();
    if let Some(l) = &model.lineage {
        let d = &l.dataset;
        let terms = d.license.as_deref().and_then(terms_of);
        out.push(Ancestor {
            relation: Relation::FineTuningData,
            name: d.source.clone(),
            of: model.name.to_string(),
            depth,
            license: d.license.clone(),
            commercial_use: terms.as_ref().map(|t| t.commercial_use),
            terms,
            terms_text: None,
            url: None,
            sha256: Some(d.fingerprint.clone()),
            in_catalog: false,
            card: None,
        });
    }
    out
}

/// The base model: what zoo recorded at fine-tuning, else what the card says.
/// A name that resolves to a model already on the path is not followed: an ONNX
/// conversion may carry its upstream's name as an alias (roberta-base-11 answers
/// to `roberta-base`), and a cycle in user cards must not loop.
fn base_of(
    catalog: &Catalog,
    model: &Card,
    depth: usize,
    seen: &BTreeSet<String>,
) -> Option<Ancestor> {
    let (name, recorded_license, sha) = match &model.lineage {
        Some(l) => (
            l.base_model.to_string(),
            Some(l.base_license.clone()),
            Some(l.base_sha256.clone()),
        ),
        None => (model.provenance.base_model.clone()?, None, None),
    };
    let entry = catalog
        .resolve(&name)
        .ok()
        .filter(|e| !seen.contains(e.card.name.as_str()));
    let card = entry.map(|e| e.card.clone());
    // The catalog's current card is the authority on terms; the license zoo
    // recorded at fine-tuning stands in when the base is not in the catalog.
    let license = card
        .as_ref()
        .map(|c| c.license.id.clone())
        .or(recorded_license);
    let terms = match &card {
        Some(c) => c.license.terms(),
        None => license.as_deref().and_then(terms_of),
    };
    Some(Ancestor {
        relation: Relation::BaseModel,
        name: card.as_ref().map_or(name, |c| c.name.to_string()),
        of: model.name.to_string(),
        depth,
        license,
        terms,
        terms_text: None,
        commercial_use: None,
        url: card.as_ref().and_then(|c| c.provenance.upstream.clone()),
        sha256: sha,
        in_catalog: card.is_some(),
        card,
    })
}

/// Terms derived from a bare license id; `None` when zoo cannot read them.
pub(crate) fn terms_of(id: &str) -> Option<Terms> {
    License {
        id: id.to_owned(),
        name: None,
        url: None,
        terms: None,
    }
    .terms()
}
