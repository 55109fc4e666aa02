//! SPDX 3.0.1 JSON-LD with the AI and Dataset profiles: each model an
//! `ai_AIPackage` containing its files (with sha256), each dataset a
//! `dataset_DatasetPackage`, licenses as `simplelicensing_LicenseExpression`s,
//! joined by `hasDeclaredLicense`, `trainedOn`, `ancestorOf` and `contains`
//! relationships; obligations and findings ride along as annotations.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};
use zoo_registry::card::FileRole;
use zoo_registry::{Card, Task};

use super::{document_uuid, rfc3339, slug};
use crate::lineage::{Ancestor, Relation};
use crate::report::{AuditReport, ModelAudit};

const CREATION_INFO: &str = "_:creationinfo";

/// The report as an SPDX 3.0.1 JSON-LD document.
pub fn spdx(report: &AuditReport, created: SystemTime) -> Value {
    let created = rfc3339(created);
    let mut g = Graph {
        base: format!("urn:zoo:audit:{}", document_uuid(report, &created)),
        elements: BTreeMap::new(),
        relationships: 0,
    };
    let agent = g.id("agent", "zoo");
    let tool = g.id("tool", "zoo");
    g.add(&agent, json!({"type": "SoftwareAgent", "name": "zoo"}));
    g.add(
        &tool,
        json!({"type": "Tool", "name": format!("zoo {}", report.zoo_version)}),
    );
    let mut roots = Vec::new();
    for m in &report.models {
        roots.push(g.model(m));
    }
    let sbom = g.id("sbom", "audit");
    let mut members: Vec<String> = g.elements.keys().cloned().collect();
    g.add(
        &sbom,
        json!({
            "type": "software_Sbom",
            "name": "zoo audit AI-BOM",
            "software_sbomType": ["analyzed"],
            "profileConformance": PROFILES,
            "rootElement": roots,
            "element": members,
        }),
    );
    members.push(sbom.clone());
    let cc0 = g.license("CC0-1.0", None);
    let doc = g.id("document", "audit");
    g.add(
        &doc,
        json!({
            "type": "SpdxDocument",
            "name": "zoo audit",
            "dataLicense": cc0,
            "profileConformance": PROFILES,
            "rootElement": [sbom],
            "element": members,
        }),
    );
    let mut graph = vec![json!({
        "@id": CREATION_INFO,
        "type": "CreationInfo",
        "specVersion": "3.0.1",
        "created": created,
        "createdBy": [agent],
        "createdUsing": [tool],
    })];
    graph.extend(g.elements.into_values());
    json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": graph,
    })
}

const PROFILES: [&str; 5] = ["core", "software", "simpleLicensing", "ai", "dataset"];

struct Graph {
    base: String,
    /// Keyed by spdxId, so that a license or dataset shared by models is one element.
    elements: BTreeMap<String, Value>,
    relationships: usize,
}

impl Graph {
    fn id(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{}", self.base, slug(name))
    }

    fn add(&mut self, id: &str, mut v: Value) {
        v["spdxId"] = json!(id);
        v["creationInfo"] = json!(CREATION_INFO);
        self.elements.entry(id.to_owned()).or_insert(v);
    }

    fn relate(&mut self, from: &str, kind: &str, to: &[String]) {
        if to.is_empty() {
            return;
        }
        self.relationships += 1;
        let id = self.id("relationship", &self.relationships.to_string());
        self.add(
            &id,
            json!({"type": "Relationship", "from": from, "relationshipType": kind, "to": to}),
        );
    }

    fn license(&mut self, expr: &str, url: Option<&str>) -> String {
        let id = self.id("license", expr);
        let mut v = json!({
            "type": "simplelicensing_LicenseExpression",
            "simplelicensing_licenseExpression": expr,
        });
        if let (Some(u), true) = (url, expr.starts_with("LicenseRef-")) {
            v["simplelicensing_customIdToUri"] =
                json!([{"type": "DictionaryEntry", "key": expr, "value": u}]);
        }
        self.add(&id, v);
        id
    }

    fn annotate(&mut self, subject: &str, kind: &str, statement: String) {
        let id = self.id("annotation", &format!("{}-{}", self.elements.len(), kind));
        self.add(
            &id,
            json!({"type": "Annotation", "annotationType": kind, "subject": subject, "statement": statement}),
        );
    }

    fn model(&mut self, m: &ModelAudit) -> String {
        let id = self.id("model", &m.name);
        let mut v = json!({
            "type": "ai_AIPackage",
            "name": m.name,
            "software_primaryPurpose": "model",
        });
        if let Some(ver) = &m.version {
            v["software_packageVersion"] = json!(ver);
        }
        if let Some(card) = &m.card {
            self.describe(&mut v, card);
        }
        self.add(&id, v);
        let lic = self.license(&m.license.id, m.license.url.as_deref());
        self.relate(&id, "hasDeclaredLicense", &[lic]);
        let files = self.files(m);
        self.relate(&id, "contains", &files);
        let task = m.card.as_ref().map(|c| c.task);
        self.lineage(&id, &m.name, task, &m.lineage);
        for o in m.license.obligations.iter().chain(&m.license.inherited) {
            self.annotate(&id, "other", format!("obligation: {o}"));
        }
        if let Some(mof) = &m.mof {
            let class = mof
                .class
                .map_or("none".to_owned(), |c| c.label().to_owned());
            self.annotate(
                &id,
                "review",
                format!("Model Openness Framework class: {class}"),
            );
        }
        // SPDX 3 has no property for a signature of a package's files (its
        // integrity methods are hashes, and no external reference type names a
        // signature): an Annotation is the Core model's statement about an
        // element by the document's creator, so each fact is one, `review`
        // as zoo checked it.
        if let Some(line) = super::signature::summary(m) {
            self.annotate(&id, "review", line);
        }
        for (name, value) in super::signature::facts(m) {
            self.annotate(&id, "other", format!("{name}: {value}"));
        }
        for f in &m.findings {
            self.annotate(
                &id,
                "review",
                format!("{} {} {}: {}", f.severity, f.kind, f.subject, f.message),
            );
        }
        id
    }

    /// AI-profile fields that the card answers.
    fn describe(&mut self, v: &mut Value, card: &Card) {
        v["description"] = json!(one_line(&card.description));
        v["ai_typeOfModel"] = json!([card.architecture]);
        v["ai_domain"] = json!([card.task.as_str()]);
        if let Some(up) = &card.provenance.upstream {
            v["software_downloadLocation"] = json!(up);
        }
        if let Some(org) = &card.provenance.organization {
            let oid = self.id("organization", org);
            self.add(&oid, json!({"type": "Organization", "name": org}));
            v["suppliedBy"] = json!(oid);
        }
        let metrics: Vec<Value> = card
            .metrics
            .iter()
            .map(|m| {
                json!({"type": "DictionaryEntry", "key": format!("{} ({})", m.metric, m.dataset), "value": m.value.to_string()})
            })
            .collect();
        if !metrics.is_empty() {
            v["ai_metric"] = json!(metrics);
        }
        if let Some(l) = &card.lineage {
            let hp: Vec<Value> = l
                .hyperparameters
                .iter()
                .map(|(k, val)| json!({"type": "DictionaryEntry", "key": k, "value": val}))
                .collect();
            if !hp.is_empty() {
                v["ai_hyperparameter"] = json!(hp);
            }
            v["ai_informationAboutTraining"] = json!(format!(
                "fine-tuned by zoo {} at {} from {} on {} items of {}",
                l.zoo_version, l.created_at, l.base_model, l.dataset.items, l.dataset.source
            ));
        }
    }

    fn files(&mut self, m: &ModelAudit) -> Vec<String> {
        let card_role = |path: &str| m.card.as_ref().and_then(|c| c.file(path)).map(|f| f.role);
        let mut rows: Vec<(String, Option<String>)> = m
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect();
        if rows.is_empty()
            && let Some(card) = &m.card
        {
            rows = card
                .files
                .iter()
                .map(|f| {
                    (
                        f.path.to_string(),
                        f.sha256.as_ref().map(ToString::to_string),
                    )
                })
                .collect();
        }
        rows.into_iter()
            .map(|(path, sha)| {
                let id = self.id("file", &format!("{}/{path}", m.name));
                let mut v = json!({
                    "type": "software_File",
                    "name": path,
                    "software_fileKind": "file",
                    "software_primaryPurpose": purpose(card_role(&path)),
                });
                if let Some(sha) = sha {
                    v["verifiedUsing"] =
                        json!([{"type": "Hash", "algorithm": "sha256", "hashValue": sha}]);
                }
                self.add(&id, v);
                id
            })
            .collect()
    }

    /// Base models (`ancestorOf` the model made from them) and data (`trainedOn`).
    fn lineage(&mut self, id: &str, name: &str, task: Option<Task>, lineage: &[Ancestor]) {
        let mut data = Vec::new();
        for a in lineage.iter().filter(|a| a.of == name) {
            match a.relation {
                Relation::BaseModel => {
                    let base = self.id("model", &a.name);
                    let mut v = json!({"type": "ai_AIPackage", "name": a.name, "software_primaryPurpose": "model"});
                    if let Some(card) = &a.card {
                        v["software_packageVersion"] = json!(card.version);
                        self.describe(&mut v, card);
                    }
                    self.add(&base, v);
                    if let Some(l) = &a.license {
                        let url = a.card.as_ref().and_then(|c| c.license.url.as_deref());
                        let lic = self.license(l, url);
                        self.relate(&base, "hasDeclaredLicense", &[lic]);
                    }
                    self.relate(&base, "ancestorOf", &[id.to_owned()]);
                    let base_task = a.card.as_ref().map(|c| c.task);
                    self.lineage(&base, &a.name, base_task, lineage);
                }
                Relation::TrainingData | Relation::FineTuningData => {
                    data.push(self.dataset(a, task));
                }
            }
        }
        self.relate(id, "trainedOn", &data);
    }

    /// A dataset, typed by the task of the model trained on it.
    fn dataset(&mut self, a: &Ancestor, task: Option<Task>) -> String {
        let id = self.id("dataset", &a.name);
        let mut v = json!({
            "type": "dataset_DatasetPackage",
            "name": a.name,
            "software_primaryPurpose": "data",
            "dataset_datasetType": dataset_types(task),
        });
        if let Some(url) = &a.url {
            v["software_downloadLocation"] = json!(url);
        }
        if let Some(t) = &a.terms_text {
            v["description"] = json!(one_line(t));
        }
        let commercial = a
            .commercial_use
            .or_else(|| a.terms.as_ref().map(|t| t.commercial_use));
        if commercial == Some(false) {
            v["dataset_intendedUse"] = json!("non-commercial research and education only");
        }
        self.add(&id, v);
        if let Some(l) = &a.license {
            let lic = self.license(l, None);
            self.relate(&id, "hasDeclaredLicense", &[lic]);
        }
        id
    }
}

/// What kind of data a model of this task was trained on; `noAssertion` when the
/// task (or the model) is unknown.
fn dataset_types(task: Option<Task>) -> Vec<&'static str> {
    match task {
        Some(Task::ImageClassification | Task::ObjectDetection) => vec!["image"],
        Some(Task::TextToImage) => vec!["image", "text"],
        Some(_) => vec!["text"],
        None => vec!["noAssertion"],
    }
}

fn purpose(role: Option<FileRole>) -> &'static str {
    match role {
        Some(FileRole::Model | FileRole::Weights) => "model",
        Some(FileRole::Tokenizer | FileRole::Config | FileRole::Vocabulary | FileRole::Labels) => {
            "configuration"
        }
        Some(FileRole::Documentation) => "documentation",
        Some(FileRole::Other) | None => "file",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
