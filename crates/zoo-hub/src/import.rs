//! A card from a hub repository's metadata: every file pinned (LFS sha256, or
//! the git blob id of a small file), the license mapped, openness computed from
//! it, the base models and training data as the repository declares them, and
//! for every field where its value came from. Nothing is invented: a field the
//! hub does not give stays missing, and the card says so.

use std::collections::BTreeMap;

use zoo_registry::card::{FieldOrigin, FileEntry, FileRole, HfSource, HubRecord, Provenance};
use zoo_registry::openness::ComponentInfo;
use zoo_registry::{
    Card, Catalog, Component, License, Openness, OpennessClass, SCHEMA_VERSION, Source, Task,
};
use zoo_types::{ModelName, RepoId, Revision};

use crate::client::HubClient;
use crate::error::HubError;
use crate::info::ModelInfo;
use crate::license;
use crate::lineage::{self, Lineage};
use crate::select::{FileFilter, select};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The card's name; by default `org--name`, lower-cased.
    pub name: Option<ModelName>,
    pub filter: FileFilter,
}

/// A card made from the hub, with the cards of the base models it names
/// (resolved through the hub, nearest first) and notes for the user.
#[derive(Debug, Clone)]
pub struct Imported {
    pub card: Card,
    pub bases: Vec<Card>,
    /// Class names from `config.json`'s `id2label`, when the model has them.
    pub notes: Vec<String>,
}

/// Read `repo` at `revision` from the hub and make its card.
pub fn import(
    client: &HubClient,
    catalog: &Catalog,
    repo: &RepoId,
    revision: &Revision,
    opts: &ImportOptions,
) -> Result<Imported, HubError> {
    if !repo.has_owner() {
        return Err(HubError::Invalid(format!(
            "'{repo}' has no owner: give the repository as ORG/NAME"
        )));
    }
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => default_name(repo)?,
    };
    if let Some(taken) = name_taken(catalog, &name, repo) {
        return Err(HubError::Invalid(format!(
            "{taken}: give this card another name with --name"
        )));
    }
    let info = client.model_info(repo, revision)?;
    let mut notes = Vec::new();
    if !info.refused.is_empty() {
        notes.push(format!(
            "the hub listed {} unsafe or malformed file entries, left out: {}",
            info.refused.len(),
            info.refused
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let lineage = lineage::resolve(client, catalog, &info, &mut notes);
    let mut card = card_from_info(
        client, catalog, &info, revision, name, &lineage, opts, &mut notes,
    )?;
    // Refused now, before any file is fetched, rather than after the pull.
    crate::save::check_fits(&card)?;
    if let Some(previous) = catalog
        .find_hub_repo(repo.as_str())
        .and_then(|e| e.card.hub.clone())
    {
        let record = card.hub.as_mut().expect("set above");
        record.previous_commits = previous.previous_commits;
        if previous.commit != record.commit {
            record.previous_commits.push(previous.commit);
        }
    }
    Ok(Imported {
        card,
        bases: lineage.base_cards,
        notes,
    })
}

impl Imported {
    /// The licenses of the models this one derives from, nearest first, by
    /// following `provenance.base_model` through the bases made by this import
    /// and the catalog: a fine-tune of a Llama model is bound by the Llama
    /// license whatever its own card declares, so the pull gate and the policy
    /// look at these too.
    pub fn inherited_licenses(&self, catalog: &Catalog) -> Vec<(String, License)> {
        let mut out: Vec<(String, License)> = Vec::new();
        let mut next = self.card.provenance.base_model.clone();
        while let Some(name) = next.take() {
            if out.len() >= crate::lineage::MAX_BASE_DEPTH
                || out.iter().any(|(n, _)| *n == name)
                || name == self.card.name.as_str()
            {
                break;
            }
            let base = self
                .bases
                .iter()
                .find(|b| b.name == name)
                .or_else(|| catalog.resolve(&name).ok().map(|e| &e.card));
            let Some(base) = base else { break };
            out.push((name, base.license.clone()));
            next = base.provenance.base_model.clone();
        }
        out
    }
}

/// Why `name` cannot be the name of a card made from `repo`, if it cannot.
///
/// A card in the user catalog wins over a built-in or local card of the same
/// name (and over an alias: names win), and its class names are stored under
/// its name, which would replace a built-in labels file of that name for every
/// card using it. So a card made from the hub may only take a name that is
/// free, or already its own: a card made from the same repository before.
pub(crate) fn name_taken(catalog: &Catalog, name: &ModelName, repo: &RepoId) -> Option<String> {
    let ours = |e: &zoo_registry::Entry| {
        e.card
            .hub
            .as_ref()
            .is_some_and(|h| h.repo.eq_ignore_ascii_case(repo.as_str()))
    };
    match catalog.resolve(name.as_str()) {
        Ok(e) if ours(e) => None,
        Ok(e) => Some(format!(
            "the catalog already has a card named or aliased '{name}' ({}, from {})",
            e.card.name, e.origin
        )),
        Err(_) if catalog.has_labels(name.as_str()) => Some(format!(
            "'{name}' is the name of a labels file of the catalog"
        )),
        Err(_) => None,
    }
}

/// `org--name`, lower-cased: the hub cache's own separator, so two
/// repositories never share a card name.
pub fn default_name(repo: &RepoId) -> Result<ModelName, HubError> {
    let text = repo.as_str().to_ascii_lowercase().replace('/', "--");
    ModelName::parse(&text).map_err(|e| HubError::Invalid(format!("{e}; choose one with --name")))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn card_from_info(
    client: &HubClient,
    catalog: &Catalog,
    info: &ModelInfo,
    revision: &Revision,
    name: ModelName,
    lineage: &Lineage,
    opts: &ImportOptions,
    notes: &mut Vec<String>,
) -> Result<Card, HubError> {
    let mut fields = BTreeMap::new();
    let mut missing = Vec::new();
    let repo_url = client.repo_url(&info.repo);
    fields.insert("name".to_owned(), FieldOrigin::Zoo);
    fields.insert("version".to_owned(), FieldOrigin::HubMetadata);
    fields.insert("files".to_owned(), FieldOrigin::HubMetadata);

    let (mut license, license_origin) = license_of(info, catalog, &repo_url);
    match license_origin {
        Some(origin) => {
            fields.insert("license".to_owned(), origin);
        }
        None => missing.push("license".to_owned()),
    }
    if info.gated.is_some() {
        // A gated repository needs the terms accepted, whatever its license says.
        if let Some(mut terms) = license.terms() {
            terms.gated = true;
            license.terms = Some(terms);
        }
    }
    let class = match license.terms() {
        Some(t) if t.is_unrestricted() => OpennessClass::Open,
        _ => OpennessClass::OpenWeightsRestricted,
    };
    fields.insert("openness".to_owned(), FieldOrigin::Zoo);

    let pipeline_tag = info
        .pipeline_tag
        .clone()
        .or_else(|| info.card_str("pipeline_tag"));
    let task = match &pipeline_tag {
        Some(tag) => {
            fields.insert(
                "task".to_owned(),
                if info.pipeline_tag.is_some() {
                    FieldOrigin::HubMetadata
                } else {
                    FieldOrigin::ReadmeFrontMatter
                },
            );
            task_of(tag, info.library_name.as_deref())
        }
        None => {
            missing.push("task (pipeline_tag)".to_owned());
            Task::Other
        }
    };
    let family = match (&info.model_type, &info.library_name) {
        (Some(t), _) => {
            fields.insert("family".to_owned(), FieldOrigin::ConfigJson);
            t.clone()
        }
        (None, Some(lib)) => {
            fields.insert("family".to_owned(), FieldOrigin::HubMetadata);
            lib.clone()
        }
        (None, None) => {
            missing.push("family (config.json model_type)".to_owned());
            "unknown".to_owned()
        }
    };
    let architecture = match info.architectures.first().or(info.model_type.as_ref()) {
        Some(a) => {
            fields.insert("architecture".to_owned(), FieldOrigin::ConfigJson);
            a.clone()
        }
        None => {
            missing.push("architecture (config.json architectures)".to_owned());
            "unknown".to_owned()
        }
    };
    match info.parameters {
        Some(_) => {
            fields.insert("parameters".to_owned(), FieldOrigin::HubMetadata);
        }
        None => missing.push("parameters (safetensors metadata)".to_owned()),
    }

    let files = card_files(info, &opts.filter, notes);
    if files.is_empty() {
        return Err(HubError::Invalid(format!(
            "no file of {} at {} matches the selection; list them with --include '*'",
            info.repo, info.commit
        )));
    }

    let mut provenance = Provenance {
        organization: info.repo.as_str().split('/').next().map(str::to_owned),
        upstream: Some(repo_url.clone()),
        ..Provenance::default()
    };
    fields.insert("provenance.upstream".to_owned(), FieldOrigin::HubMetadata);
    match &lineage.base_model {
        Some(base) => {
            provenance.base_model = Some(base.clone());
            fields.insert("provenance.base_model".to_owned(), lineage.base_origin);
        }
        None => missing.push("base model (none declared)".to_owned()),
    }
    if lineage.datasets.is_empty() {
        missing.push("training data (no datasets declared)".to_owned());
    } else {
        provenance.training_data = lineage.datasets.clone();
        fields.insert(
            "provenance.training_data".to_owned(),
            FieldOrigin::ReadmeFrontMatter,
        );
        fields.insert(
            "provenance.training_data.license".to_owned(),
            FieldOrigin::DatasetMetadata,
        );
    }

    let description = describe(info, pipeline_tag.as_deref());
    fields.insert("description".to_owned(), FieldOrigin::Zoo);
    let hub = HubRecord {
        repo: info.repo.clone(),
        revision: revision.clone(),
        commit: info.commit.clone(),
        previous_commits: Vec::new(),
        imported_at: zoo_types::rfc3339_utc(std::time::SystemTime::now()),
        gated: info.gated.clone(),
        pipeline_tag,
        library_name: info.library_name.clone(),
        base_models: lineage.refs.clone(),
        fields,
        missing,
        runnable: false,
        not_runnable_because: Some(
            "its inputs and outputs are read from its files at `zoo pull`".to_owned(),
        ),
    };
    let components = published_components(&files, &license, &repo_url);
    let commit_rev =
        Revision::parse(info.commit.as_str()).map_err(|e| HubError::Invalid(e.to_string()))?;
    Ok(Card {
        schema: SCHEMA_VERSION,
        name,
        aliases: Vec::new(),
        version: info.commit.as_str()[..12].to_owned(),
        family,
        task,
        architecture,
        parameters: info.parameters,
        description,
        files,
        sources: vec![Source::Hf(HfSource {
            repo: info.repo.clone(),
            revision: commit_rev,
            path: None,
            files: BTreeMap::new(),
            only: Vec::new(),
        })],
        license,
        openness: Openness { class, components },
        provenance,
        io: None,
        metrics: Vec::new(),
        api: None,
        lineage: None,
        hub: Some(hub),
    })
}

/// The Model Openness Framework components the repository itself publishes,
/// under the repository's license: its weights, and its README as the model
/// card. Nothing else is claimed (code, data and papers live elsewhere).
fn published_components(
    files: &[FileEntry],
    license: &License,
    repo_url: &str,
) -> BTreeMap<Component, ComponentInfo> {
    let mut out = BTreeMap::new();
    let declared = (license.id != zoo_registry::license::NO_ASSERTION).then(|| license.id.clone());
    let info = || ComponentInfo {
        license: declared.clone(),
        url: Some(repo_url.to_owned()),
    };
    if files
        .iter()
        .any(|f| matches!(f.role, FileRole::Weights | FileRole::Model))
    {
        out.insert(Component::ModelParametersFinal, info());
    }
    if files.iter().any(|f| f.path == "README.md") {
        out.insert(Component::ModelCard, info());
    }
    out
}

/// The license from the README front matter, else the `license:` tags; with
/// where it came from, or `None` (NOASSERTION) when the repository has none.
fn license_of(
    info: &ModelInfo,
    catalog: &Catalog,
    repo_url: &str,
) -> (License, Option<FieldOrigin>) {
    let front = info.card_list("license");
    let (ids, origin) = if !front.is_empty() {
        (front, FieldOrigin::ReadmeFrontMatter)
    } else {
        let tags: Vec<String> = info.tag_values("license").map(str::to_owned).collect();
        (tags, FieldOrigin::HubMetadata)
    };
    if ids.is_empty() {
        return (
            License {
                id: zoo_registry::license::NO_ASSERTION.to_owned(),
                name: Some("no license declared on the hub".to_owned()),
                url: None,
                terms: None,
            },
            None,
        );
    }
    let name = info
        .card_data
        .as_ref()
        .and_then(|d| d.get("license_name"))
        .and_then(|v| v.as_str())
        .and_then(crate::info::printable);
    let link = info
        .card_data
        .as_ref()
        .and_then(|d| d.get("license_link"))
        .and_then(|v| v.as_str())
        .and_then(crate::info::printable);
    let licenses: Vec<License> = ids
        .iter()
        .map(|id| {
            if id.eq_ignore_ascii_case("other") {
                license::other(name.as_deref(), link.as_deref(), repo_url)
            } else {
                license::from_hub_id(id, catalog)
            }
        })
        .collect();
    (license::all_of(licenses), Some(origin))
}

/// The hub's task tags as zoo's tasks; anything else is `other`, with the
/// tag kept in the card's hub record.
pub fn task_of(pipeline_tag: &str, library: Option<&str>) -> Task {
    match pipeline_tag {
        "image-classification" => Task::ImageClassification,
        "object-detection" => Task::ObjectDetection,
        "sentence-similarity" => Task::TextEmbedding,
        "feature-extraction"
            if library.is_none_or(|l| {
                matches!(
                    l,
                    "sentence-transformers" | "transformers" | "onnx" | "transformers.js"
                )
            }) =>
        {
            Task::TextEmbedding
        }
        "text-classification" => Task::TextClassification,
        "question-answering" => Task::QuestionAnswering,
        "fill-mask" => Task::FillMask,
        "text-generation" | "text2text-generation" => Task::TextGeneration,
        "text-to-image" => Task::TextToImage,
        _ => Task::Other,
    }
}

fn card_files(info: &ModelInfo, filter: &FileFilter, notes: &mut Vec<String>) -> Vec<FileEntry> {
    let mut out = Vec::new();
    for f in select(&info.files, filter) {
        if f.lfs_sha256.is_none() && f.git_blob.is_none() {
            notes.push(format!(
                "left out '{}': the hub gives neither its LFS sha256 nor its git blob id, so nothing could verify it",
                f.path
            ));
            continue;
        }
        let (format, role) = zoo_registry::card::kind_of_path(f.path.as_str());
        out.push(FileEntry {
            path: f.path.clone(),
            sha256: f.lfs_sha256.clone(),
            git_blob: if f.lfs_sha256.is_some() {
                None
            } else {
                f.git_blob.clone()
            },
            size: f.size,
            format,
            role,
        });
    }
    out
}

fn describe(info: &ModelInfo, pipeline_tag: Option<&str>) -> String {
    let mut parts = vec![format!(
        "{} from the Hugging Face Hub at commit {}.",
        info.repo, info.commit
    )];
    if let Some(tag) = pipeline_tag {
        parts.push(format!("Hub task: {tag}."));
    }
    if let Some(lib) = &info.library_name {
        parts.push(format!("Library: {lib}."));
    }
    parts.push("Card written by zoo from the repository's metadata.".to_owned());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_registry::card::FileFormat;

    #[test]
    fn names_follow_the_cache_folder_form() {
        let repo = RepoId::parse("Sentence-Transformers/all-MiniLM-L6-v2").unwrap();
        assert_eq!(
            default_name(&repo).unwrap().as_str(),
            "sentence-transformers--all-minilm-l6-v2"
        );
    }

    #[test]
    fn tasks_map_and_unknown_tags_are_other() {
        assert_eq!(task_of("sentence-similarity", None), Task::TextEmbedding);
        assert_eq!(
            task_of("image-classification", None),
            Task::ImageClassification
        );
        assert_eq!(task_of("automatic-speech-recognition", None), Task::Other);
        assert_eq!(task_of("feature-extraction", Some("timm")), Task::Other);
    }

    #[test]
    fn formats_match_what_the_catalog_check_expects() {
        assert_eq!(
            zoo_registry::card::kind_of_path("onnx/model.onnx"),
            (FileFormat::Onnx, FileRole::Model)
        );
        assert_eq!(
            zoo_registry::card::kind_of_path("pytorch_model.bin").0,
            FileFormat::Pickle
        );
        assert_eq!(
            zoo_registry::card::kind_of_path("1_Pooling/config.json"),
            (FileFormat::Json, FileRole::Config)
        );
        assert_eq!(
            zoo_registry::card::kind_of_path("tokenizer.json").0,
            FileFormat::Tokenizer
        );
    }
}
