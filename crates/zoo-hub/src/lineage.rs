//! What a hub repository says it was made from: base models (`base_model` in
//! the README front matter, `base_model:<relation>:<id>` tags), followed
//! through the hub to a bounded depth so the audit can walk the chain and
//! inherit each ancestor's terms; and training data (`datasets`), each with
//! the license its own dataset card declares.

use std::collections::BTreeSet;
use std::time::Instant;

use zoo_registry::card::{BaseModelRef, BaseRelation, Dataset, FieldOrigin};
use zoo_registry::{Card, Catalog, Source};
use zoo_types::{RepoId, Revision};

use crate::client::HubClient;
use crate::import::{ImportOptions, card_from_info, default_name, name_taken};
use crate::info::ModelInfo;
use crate::license;

/// How many base models deep the chain is followed through the hub; real
/// chains are two or three long, and a cycle or a hostile hub must not loop.
pub const MAX_BASE_DEPTH: usize = 6;
/// Most repositories fetched for one import's lineage.
const MAX_LINEAGE_CALLS: usize = 24;
/// Most datasets read per model.
const MAX_DATASETS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Lineage {
    /// The card name of the first base model, or `hf:ORG/NAME` when the hub
    /// could not be asked about it.
    pub base_model: Option<String>,
    pub base_origin: FieldOrigin,
    pub refs: Vec<BaseModelRef>,
    /// Cards made for base models not in the catalog yet, nearest first.
    pub base_cards: Vec<Card>,
    pub datasets: Vec<Dataset>,
}

pub(crate) fn resolve(
    client: &HubClient,
    catalog: &Catalog,
    info: &ModelInfo,
    notes: &mut Vec<String>,
) -> Lineage {
    let mut walker = Walker {
        client,
        catalog,
        seen: BTreeSet::from([info.repo.as_str().to_ascii_lowercase()]),
        calls: 0,
        // One API answer's time for the whole lineage: each call is bounded,
        // but 24 of them, each slow up to its deadline, would hold an import
        // for most of an hour.
        deadline: Instant::now() + client.deadline(),
        notes,
    };
    walker.lineage(info, 1)
}

struct Walker<'a> {
    client: &'a HubClient,
    catalog: &'a Catalog,
    /// Lower-cased repository ids already on the path or imported.
    seen: BTreeSet<String>,
    calls: usize,
    /// No call is started after this.
    deadline: Instant,
    notes: &'a mut Vec<String>,
}

impl Walker<'_> {
    fn lineage(&mut self, info: &ModelInfo, depth: usize) -> Lineage {
        let (refs, base_origin) = base_refs(info);
        let mut base_cards = Vec::new();
        let base_model = refs
            .first()
            .map(|first| self.base(first, depth, &mut base_cards));
        let datasets = self.datasets(info);
        Lineage {
            base_model,
            base_origin,
            refs,
            base_cards,
            datasets,
        }
    }

    /// The catalog name of a base model, importing its card from the hub when
    /// the catalog has none.
    fn base(&mut self, base: &BaseModelRef, depth: usize, cards: &mut Vec<Card>) -> String {
        let fallback = format!("hf:{}", base.repo);
        if let Some(name) = catalog_card_for(self.catalog, &base.repo) {
            return name;
        }
        // A legacy id without an owner (`bert-base-uncased`) cannot be a
        // card's hf source, and its name has no `--`: it could be a built-in
        // card's name or alias. Recorded, not made into a card.
        if !base.repo.has_owner() {
            self.notes.push(format!(
                "base model {} has no owner in its id: recorded as {fallback}, not followed",
                base.repo
            ));
            return fallback;
        }
        let key = base.repo.as_str().to_ascii_lowercase();
        if !self.seen.insert(key) {
            self.notes.push(format!(
                "base model {} names a model already on its own lineage: not followed again",
                base.repo
            ));
            return default_name(&base.repo).map_or(fallback, |n| n.to_string());
        }
        if depth > MAX_BASE_DEPTH || self.calls >= MAX_LINEAGE_CALLS {
            self.notes.push(format!(
                "base model {} not followed: the lineage is deeper than {MAX_BASE_DEPTH} models",
                base.repo
            ));
            return fallback;
        }
        let Ok(name) = default_name(&base.repo) else {
            return fallback;
        };
        // A card of that name for another model (made with --name, or a local
        // one) must not be replaced by a base model's card.
        if let Some(taken) = name_taken(self.catalog, &name, &base.repo) {
            self.notes.push(format!(
                "base model {} recorded as {fallback}, not given a card: {taken}",
                base.repo
            ));
            return fallback;
        }
        if !self.may_call(&base.repo) {
            return fallback;
        }
        let main = Revision::parse("main").expect("valid revision");
        let info = match self.client.model_info(&base.repo, &main) {
            Ok(info) => info,
            Err(e) => {
                self.notes
                    .push(format!("base model {} could not be read: {e}", base.repo));
                return fallback;
            }
        };
        let lineage = self.lineage(&info, depth + 1);
        let mut notes = Vec::new();
        let card = card_from_info(
            self.client,
            self.catalog,
            &info,
            &main,
            name.clone(),
            &lineage,
            &ImportOptions::default(),
            &mut notes,
        );
        self.notes.extend(notes);
        match card.and_then(|card| crate::save::check_fits(&card).map(|()| card)) {
            Ok(card) => {
                cards.push(card);
                cards.extend(lineage.base_cards);
                name.to_string()
            }
            Err(e) => {
                self.notes
                    .push(format!("no card for base model {}: {e}", base.repo));
                fallback
            }
        }
    }

    fn datasets(&mut self, info: &ModelInfo) -> Vec<Dataset> {
        let mut ids: Vec<String> = info.card_list("datasets");
        for tag in info.tag_values("dataset") {
            if !ids.iter().any(|i| i.eq_ignore_ascii_case(tag)) {
                ids.push(tag.to_owned());
            }
        }
        let mut out = Vec::new();
        for id in ids.into_iter().take(MAX_DATASETS) {
            let Ok(repo) = RepoId::parse(&id) else {
                self.notes.push(format!(
                    "dataset '{id}' is not a hub dataset id: recorded without a license"
                ));
                out.push(Dataset {
                    name: id,
                    url: None,
                    license: None,
                    terms: None,
                    commercial_use: None,
                });
                continue;
            };
            out.push(self.dataset(&repo));
        }
        out
    }

    fn dataset(&mut self, id: &RepoId) -> Dataset {
        let url = Some(self.client.dataset_url(id));
        let mut record = Dataset {
            name: id.to_string(),
            url,
            license: None,
            terms: None,
            commercial_use: None,
        };
        if self.calls >= MAX_LINEAGE_CALLS || !self.may_call(id) {
            return record;
        }
        let info = match self.client.dataset_info(id) {
            Ok(info) => info,
            Err(e) => {
                self.notes
                    .push(format!("dataset {id}: its license could not be read: {e}"));
                return record;
            }
        };
        let mut ids = info
            .card_data
            .as_ref()
            .and_then(|d| d.get("license"))
            .map(crate::info::strings)
            .unwrap_or_default();
        if ids.is_empty() {
            ids = info
                .tags
                .iter()
                .filter_map(|t| t.strip_prefix("license:"))
                .filter_map(crate::info::token)
                .collect();
        }
        if ids.is_empty() {
            self.notes
                .push(format!("dataset {id} declares no license on the hub"));
            return record;
        }
        let licenses: Vec<_> = ids
            .iter()
            .map(|l| license::from_hub_id(l, self.catalog))
            .collect();
        let lic = license::all_of(licenses);
        let terms = lic.terms();
        record.commercial_use = terms.as_ref().map(|t| t.commercial_use);
        record.terms = Some(match &terms {
            Some(t) => format!(
                "{} (from the dataset's hub card): {}",
                lic.display_name(),
                t.obligations().join(" ")
            ),
            None => format!(
                "{} (from the dataset's hub card); zoo cannot read its terms",
                lic.display_name()
            ),
        });
        record.license = Some(lic.id);
        record
    }

    /// Count a hub call about `repo`, or say why it is not made: the lineage
    /// has had its time.
    fn may_call(&mut self, repo: &RepoId) -> bool {
        if Instant::now() > self.deadline {
            self.notes.push(format!(
                "{repo} not followed: the hub took more than {}s to describe this lineage",
                self.client.deadline().as_secs()
            ));
            return false;
        }
        self.calls += 1;
        true
    }
}

/// A card already in the catalog for this hub repository: one made from the
/// hub before, or a curated card whose hf source is that repository.
fn catalog_card_for(catalog: &Catalog, repo: &RepoId) -> Option<String> {
    if let Some(e) = catalog.find_hub_repo(repo.as_str()) {
        return Some(e.card.name.to_string());
    }
    catalog
        .entries()
        .into_iter()
        .find(|e| {
            e.card.sources.iter().any(|s| match s {
                Source::Hf(hf) => hf.repo.eq_ignore_ascii_case(repo.as_str()),
                _ => false,
            })
        })
        .map(|e| e.card.name.to_string())
}

/// Base models from the front matter, with relations from the tags (which
/// the hub computes) or `base_model_relation`; valid repository ids only.
fn base_refs(info: &ModelInfo) -> (Vec<BaseModelRef>, FieldOrigin) {
    let declared_relation = info
        .card_str("base_model_relation")
        .and_then(|r| BaseRelation::from_hub(&r));
    let mut refs: Vec<BaseModelRef> = Vec::new();
    let push = |repo: &str, relation: Option<BaseRelation>, refs: &mut Vec<BaseModelRef>| {
        let Ok(repo) = RepoId::parse(repo) else {
            return;
        };
        match refs
            .iter_mut()
            .find(|r| r.repo.eq_ignore_ascii_case(repo.as_str()))
        {
            Some(existing) => {
                if let Some(rel) = relation
                    && existing.relation == BaseRelation::Unspecified
                {
                    existing.relation = rel;
                }
            }
            None => refs.push(BaseModelRef {
                repo,
                relation: relation.unwrap_or(BaseRelation::Unspecified),
            }),
        }
    };
    let front = info.card_list("base_model");
    let origin = if front.is_empty() {
        FieldOrigin::HubMetadata
    } else {
        FieldOrigin::ReadmeFrontMatter
    };
    for b in &front {
        push(b, declared_relation, &mut refs);
    }
    for value in info.tag_values("base_model") {
        // `base_model:<id>` or `base_model:<relation>:<id>`.
        match value.split_once(':') {
            Some((rel, id)) => push(id, BaseRelation::from_hub(rel), &mut refs),
            None => push(value, None, &mut refs),
        }
    }
    (refs, origin)
}
