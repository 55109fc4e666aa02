//! CycloneDX 1.6: each model a `machine-learning-model` component with its model
//! card, file hashes, license and the pedigree of its base models; each dataset a
//! `data` component the model cards reference.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};
use zoo_registry::Card;
use zoo_registry::card::{Io, Preprocessing};

use super::{document_uuid, rfc3339, slug};
use crate::lineage::{Ancestor, Relation};
use crate::report::{AuditReport, ModelAudit};
use zoo_types::Sha256Hex;

/// The report as a CycloneDX 1.6 JSON BOM.
pub fn cyclonedx(report: &AuditReport, created: SystemTime) -> Value {
    let timestamp = rfc3339(created);
    let mut data: BTreeMap<String, Value> = BTreeMap::new();
    let mut components = Vec::new();
    for m in &report.models {
        for a in m
            .lineage
            .iter()
            .filter(|a| a.relation != Relation::BaseModel)
        {
            data.entry(data_ref(&a.name))
                .or_insert_with(|| data_component(a));
        }
        components.push(model_component(m));
    }
    components.extend(data.into_values());
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", document_uuid(report, &timestamp)),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "zoo",
                "version": report.zoo_version,
                "description": "zoo audit: license, lineage, openness and integrity of local models",
            }]},
        },
        "components": components,
    })
}

fn data_ref(name: &str) -> String {
    format!("data:{}", slug(name))
}

fn model_component(m: &ModelAudit) -> Value {
    let mut c = json!({
        "type": "machine-learning-model",
        "bom-ref": format!("model:{}", slug(&m.name)),
        "name": m.name,
        "licenses": licenses(&m.license.id, m.license.name.as_deref(), m.license.url.as_deref()),
    });
    if let Some(v) = &m.version {
        c["version"] = json!(v);
    }
    let (files, hashes) = files(m);
    if !hashes.is_empty() {
        c["hashes"] = json!(hashes);
    }
    if !files.is_empty() {
        c["components"] = json!(files);
    }
    if let Some(card) = &m.card {
        describe_card(&mut c, card);
        c["modelCard"] = model_card(card, &datasets_of(&m.lineage, &m.name));
    }
    let ancestors = pedigree(&m.lineage, &m.name);
    if !ancestors.is_empty() {
        c["pedigree"] = json!({"ancestors": ancestors});
    }
    c["properties"] = json!(properties(m));
    signature_reference(&mut c, m);
    c
}

/// The signature file as an external reference of type `digital-signature`
/// (CycloneDX 1.6): the component's own `signature` field is a JSF signature
/// over the BOM's JSON, not a signature of the model's files, so the model
/// signature is referenced, and its state given in `zoo:signature:*`
/// properties.
fn signature_reference(c: &mut Value, m: &ModelAudit) {
    let Some(status) = &m.signature else { return };
    if *status == zoo_sign::SignatureStatus::Unsigned {
        return;
    }
    let reference = json!({
        "type": "digital-signature",
        "url": zoo_sign::SIGNATURE_FILE,
        "comment": format!(
            "OpenSSF model signature (Sigstore bundle) beside the model's files: {}",
            super::signature::summary(m).unwrap_or_default()
        ),
    });
    match c["externalReferences"].as_array_mut() {
        Some(refs) => refs.push(reference),
        None => c["externalReferences"] = json!([reference]),
    }
}

/// Description, supplier, authors and links from the card.
fn describe_card(c: &mut Value, card: &Card) {
    c["description"] = json!(one_line(&card.description));
    let p = &card.provenance;
    if let Some(org) = &p.organization {
        c["supplier"] = json!({"name": org});
    }
    if !p.authors.is_empty() {
        let authors: Vec<Value> = p.authors.iter().map(|a| json!({"name": a})).collect();
        c["authors"] = json!(authors);
    }
    let mut refs = Vec::new();
    if let Some(up) = &p.upstream {
        refs.push(json!({"type": "distribution", "url": up}));
    }
    if let Some(paper) = &p.paper {
        refs.push(json!({"type": "documentation", "url": paper.url, "comment": paper.title}));
    }
    if let Some(url) = &card.license.url {
        refs.push(json!({"type": "license", "url": url}));
    }
    if let Some(api) = &card.api {
        refs.push(json!({"type": "documentation", "url": api.docs_url, "comment": format!("{} API", api.provider)}));
    }
    if !refs.is_empty() {
        c["externalReferences"] = json!(refs);
    }
}

fn model_card(card: &Card, datasets: &[String]) -> Value {
    let mut params = json!({
        "task": card.task.as_str(),
        "architectureFamily": card.family,
        "modelArchitecture": card.architecture,
    });
    if !datasets.is_empty() {
        let refs: Vec<Value> = datasets.iter().map(|d| json!({"ref": d})).collect();
        params["datasets"] = json!(refs);
    }
    if let Some(io) = &card.io {
        let (inputs, outputs) = io_formats(io);
        if !inputs.is_empty() {
            params["inputs"] = json!(inputs);
        }
        if !outputs.is_empty() {
            params["outputs"] = json!(outputs);
        }
    }
    let mut mc = json!({"modelParameters": params});
    if !card.metrics.is_empty() {
        let metrics: Vec<Value> = card
            .metrics
            .iter()
            .map(|m| json!({"type": m.metric, "value": m.value.to_string(), "slice": m.dataset}))
            .collect();
        mc["quantitativeAnalysis"] = json!({"performanceMetrics": metrics});
    }
    mc
}

fn io_formats(io: &Io) -> (Vec<Value>, Vec<Value>) {
    let mut inputs: Vec<Value> = io
        .inputs
        .iter()
        .map(|t| {
            let shape: Vec<String> = t.shape.iter().map(ToString::to_string).collect();
            json!({"format": format!("{} {:?} [{}]", t.name, t.dtype, shape.join(", ")).to_lowercase()})
        })
        .collect();
    if inputs.is_empty() {
        match &io.preprocessing {
            Some(Preprocessing::Image(_)) => inputs.push(json!({"format": "image"})),
            Some(Preprocessing::Text(_)) => inputs.push(json!({"format": "text"})),
            None => {}
        }
    }
    let outputs = io
        .outputs
        .iter()
        .map(|o| {
            let dim = o.dim.map(|d| format!(" ({d})")).unwrap_or_default();
            json!({"format": format!("{} {:?}{dim}", o.name, o.kind).to_lowercase()})
        })
        .collect();
    (inputs, outputs)
}

/// Nested `file` components, and the model's hashes (one per distinct digest).
fn files(m: &ModelAudit) -> (Vec<Value>, Vec<Value>) {
    let mut rows: Vec<(String, Option<String>, String)> = m
        .files
        .iter()
        .map(|f| {
            let state = serde_json::to_value(f.state).ok();
            let state = state
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned();
            (f.path.clone(), f.sha256.clone(), state)
        })
        .collect();
    if rows.is_empty()
        && let Some(card) = &m.card
    {
        rows = card
            .files
            .iter()
            .map(|f| {
                let sha = f.sha256.as_ref().map(ToString::to_string);
                (f.path.to_string(), sha, "published".to_owned())
            })
            .collect();
    }
    let mut hashes: Vec<Value> = Vec::new();
    let files = rows
        .into_iter()
        .map(|(path, sha, state)| {
            let mut f = json!({
                "type": "file",
                "name": path,
                "properties": [{"name": "zoo:integrity", "value": state}],
            });
            if let Some(sha) = sha.filter(|s| Sha256Hex::parse(s).is_ok()) {
                let h = json!({"alg": "SHA-256", "content": sha});
                if !hashes.contains(&h) {
                    hashes.push(h.clone());
                }
                f["hashes"] = json!([h]);
            }
            f
        })
        .collect();
    (files, hashes)
}

/// Base models as pedigree ancestors, each with its own base nested inside.
fn pedigree(lineage: &[Ancestor], of: &str) -> Vec<Value> {
    lineage
        .iter()
        .filter(|a| a.relation == Relation::BaseModel && a.of == of)
        .map(|a| {
            let mut c = json!({
                "type": "machine-learning-model",
                "name": a.name,
            });
            if let Some(id) = &a.license {
                let (name, url) = a.card.as_ref().map_or((None, None), |c| {
                    (c.license.name.as_deref(), c.license.url.as_deref())
                });
                c["licenses"] = licenses(id, name, url);
            }
            if let Some(sha) = a.sha256.as_ref().filter(|s| Sha256Hex::parse(s).is_ok()) {
                c["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
            }
            if let Some(url) = &a.url {
                c["externalReferences"] = json!([{"type": "distribution", "url": url}]);
            }
            if let Some(card) = &a.card {
                c["version"] = json!(card.version);
                c["modelCard"] = model_card(card, &datasets_of(lineage, &a.name));
            }
            let nested = pedigree(lineage, &a.name);
            if !nested.is_empty() {
                c["pedigree"] = json!({"ancestors": nested});
            }
            c
        })
        .collect()
}

fn datasets_of(lineage: &[Ancestor], of: &str) -> Vec<String> {
    lineage
        .iter()
        .filter(|a| a.relation != Relation::BaseModel && a.of == of)
        .map(|a| data_ref(&a.name))
        .collect()
}

fn data_component(a: &Ancestor) -> Value {
    let mut data = json!({"type": "dataset", "name": a.name});
    let mut c = json!({
        "type": "data",
        "bom-ref": data_ref(&a.name),
        "name": a.name,
    });
    if let Some(url) = &a.url {
        data["contents"] = json!({"url": url});
        c["externalReferences"] = json!([{"type": "distribution", "url": url}]);
    }
    c["data"] = json!([data]);
    if let Some(id) = &a.license {
        c["licenses"] = licenses(id, None, None);
    }
    if let Some(t) = &a.terms_text {
        c["description"] = json!(one_line(t));
    }
    let mut props = Vec::new();
    let commercial = a
        .commercial_use
        .or_else(|| a.terms.as_ref().map(|t| t.commercial_use));
    props.push(json!({
        "name": "zoo:commercial-use",
        "value": commercial.map_or("unknown".to_owned(), |c| c.to_string()),
    }));
    if a.relation == Relation::FineTuningData
        && let Some(fp) = &a.sha256
    {
        props.push(json!({"name": "zoo:dataset-fingerprint", "value": fp}));
    }
    c["properties"] = json!(props);
    c
}

/// A single SPDX id as `license.id`, a LicenseRef by name and URL, anything else
/// (compound or unknown) as an expression, the three forms CycloneDX accepts.
fn licenses(id: &str, name: Option<&str>, url: Option<&str>) -> Value {
    let single = !id.contains(char::is_whitespace);
    if single && id.starts_with("LicenseRef-") {
        let mut l = json!({"name": name.unwrap_or(id)});
        if let Some(u) = url {
            l["url"] = json!(u);
        }
        return json!([{"license": l}]);
    }
    let known = single
        && zoo_registry::License {
            id: id.to_owned(),
            name: None,
            url: None,
            terms: None,
        }
        .class()
            != zoo_registry::LicenseClass::Unknown;
    if known {
        json!([{"license": {"id": id}}])
    } else {
        json!([{"expression": id}])
    }
}

fn properties(m: &ModelAudit) -> Vec<Value> {
    let mut p = vec![json!({"name": "zoo:scope", "value": m.scope.as_str()})];
    if let Some(o) = m.openness {
        p.push(json!({"name": "zoo:openness", "value": o.as_str()}));
    }
    if let Some(mof) = &m.mof {
        let class = mof
            .class
            .map_or("none".to_owned(), |c| c.label().to_owned());
        p.push(json!({"name": "zoo:mof-class", "value": class}));
        for g in &mof.missing {
            p.push(json!({"name": "zoo:mof-missing", "value": format!("{}: {}", g.component.as_str(), g.reason)}));
        }
    }
    if let Some(accepted) = m.license.accepted {
        p.push(json!({"name": "zoo:license-accepted", "value": accepted.to_string()}));
    }
    for o in m.license.obligations.iter().chain(&m.license.inherited) {
        p.push(json!({"name": "zoo:obligation", "value": o}));
    }
    for (name, value) in super::signature::facts(m) {
        p.push(json!({"name": name, "value": value}));
    }
    for f in &m.findings {
        p.push(json!({
            "name": format!("zoo:finding:{}", f.severity),
            "value": format!("{} {}: {}", f.kind, f.subject, f.message),
        }));
    }
    p
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
