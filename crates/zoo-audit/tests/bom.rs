//! The AI-BOMs validate against the official schemas, vendored under
//! tests/schemas/ (see the README there for where each came from).

mod common;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::{Env, RESNET50_SHA256};
use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use zoo_audit::{AuditReport, Policy, Selection, audit, bom};

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Serves the CycloneDX schema's `$ref`s from the vendored files; refuses the rest,
/// so that validation never reaches for the network.
struct Vendored;

impl Retrieve for Vendored {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        match uri.as_str() {
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json" => {
                Ok(schema("spdx.SNAPSHOT.schema.json"))
            }
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json" => {
                Ok(schema("jsf-0.82.SNAPSHOT.schema.json"))
            }
            other => Err(format!("not vendored: {other}").into()),
        }
    }
}

fn errors(schema_file: &str, doc: &Value, formats: bool) -> Vec<String> {
    let validator = jsonschema::options()
        .with_retriever(Vendored)
        .should_validate_formats(formats)
        .build(&schema(schema_file))
        .expect("schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(20)
        .collect()
}

#[track_caller]
fn assert_valid(schema_file: &str, doc: &Value) {
    let errors = errors(schema_file, doc, true);
    assert!(
        errors.is_empty(),
        "{schema_file}: {} errors:\n{}\n\ndocument:\n{}",
        errors.len(),
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}

/// A bit of everything: a fine-tuned model with a lineage two deep, a gated pulled
/// model, and every card of the catalog (closed models included).
fn report() -> AuditReport {
    let env = Env::new();
    env.finetuned(
        "pets",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("CC-BY-4.0"),
    );
    env.finetuned(
        "pets-minilm",
        "all-minilm-l6-v2-int8",
        &"ab".repeat(32),
        "Apache-2.0",
        None,
    );
    env.fake_pull(
        "llama-3.1-8b",
        "LicenseRef-Llama-3.1-Community",
        true,
        &[("config.json", b"{}")],
    );
    let report = audit(
        &env.catalog(),
        &env.store(),
        &Policy::default(),
        &Selection::All { catalog: true },
    );
    report.expect("audit runs")
}

fn created() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

#[test]
fn cyclonedx_validates_against_the_1_6_schema() {
    let report = report();
    let doc = bom::cyclonedx(&report, created());
    assert_valid("bom-1.6.SNAPSHOT.schema.json", &doc);
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["timestamp"], "2026-01-01T00:00:00Z");

    let comps = doc["components"].as_array().unwrap();
    let find = |name: &str| {
        comps
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let pets = find("pets");
    assert_eq!(pets["type"], "machine-learning-model");
    assert_eq!(
        pets["modelCard"]["modelParameters"]["task"],
        "image-classification"
    );
    assert_eq!(pets["hashes"][0]["alg"], "SHA-256");
    assert_eq!(pets["licenses"][0]["license"]["id"], "Apache-2.0");
    let base = &pets["pedigree"]["ancestors"][0];
    assert_eq!(base["name"], "resnet50-v1-7");
    assert_eq!(base["hashes"][0]["content"], RESNET50_SHA256);
    let imagenet = base["modelCard"]["modelParameters"]["datasets"][0]["ref"]
        .as_str()
        .unwrap();
    let data = comps
        .iter()
        .find(|c| c["bom-ref"] == imagenet)
        .expect("dataset component");
    assert_eq!(data["type"], "data");
    assert!(
        data["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["value"] == "false")
    );
    // Two levels of lineage: pets-minilm → all-minilm-l6-v2-int8 → all-minilm-l6-v2.
    let nested = &find("pets-minilm")["pedigree"]["ancestors"][0]["pedigree"]["ancestors"][0];
    assert_eq!(nested["name"], "all-minilm-l6-v2");
    let resnet = find("resnet50-v1-7");
    assert_eq!(
        resnet["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0]["value"],
        "74.93"
    );
    assert_eq!(
        find("llama-3.1-8b")["licenses"][0]["license"]["name"],
        "Llama 3.1 Community License"
    );

    // The same report at the same time gives the same BOM.
    assert_eq!(doc, bom::cyclonedx(&report, created()));
}

#[test]
fn spdx_validates_against_the_3_0_1_schema() {
    let report = report();
    let doc = bom::spdx(&report, created());
    assert_valid("spdx-3.0.1-json-schema.json", &doc);

    let graph = doc["@graph"].as_array().unwrap();
    let of_type = |t: &'static str| graph.iter().filter(move |e| e["type"] == t);
    let pets = of_type("ai_AIPackage")
        .find(|e| e["name"] == "pets")
        .expect("pets");
    let rel = |kind: &str, to: &Value| {
        of_type("Relationship")
            .any(|r| r["relationshipType"] == kind && r["to"].as_array().unwrap().contains(to))
    };
    assert!(rel("ancestorOf", &pets["spdxId"]), "base model linked");
    assert!(of_type("dataset_DatasetPackage").any(|d| d["dataset_datasetType"][0] == "image"));
    assert!(of_type("software_File").any(|f| f["verifiedUsing"][0]["algorithm"] == "sha256"));
    let doc_el = of_type("SpdxDocument").next().unwrap();
    for p in ["ai", "dataset"] {
        assert!(
            doc_el["profileConformance"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == p)
        );
    }
    let llama = of_type("simplelicensing_LicenseExpression")
        .find(|l| l["simplelicensing_licenseExpression"] == "LicenseRef-Llama-3.1-Community")
        .unwrap();
    assert_eq!(
        llama["simplelicensing_customIdToUri"][0]["value"],
        "https://llama.meta.com/llama3_1/license/"
    );
}

#[test]
fn a_broken_document_fails_validation() {
    // Guards the guard: the validator must actually reject bad documents.
    let report = report();
    let mut cdx = bom::cyclonedx(&report, created());
    cdx["components"][0]["type"] = "neural-net".into();
    assert!(!errors("bom-1.6.SNAPSHOT.schema.json", &cdx, true).is_empty());
    let mut spdx = bom::spdx(&report, created());
    spdx["@graph"][1]["spdxId"] = "_:not-an-iri".into();
    assert!(!errors("spdx-3.0.1-json-schema.json", &spdx, true).is_empty());
}

/// `report()` with each signature state on one model and a base signer on a
/// fine-tune: what `zoo audit` attaches from the signature checks.
fn signed_report() -> AuditReport {
    use zoo_registry::card::{BaseSigner, SignerKind};
    use zoo_sign::{FileDiff, SignatureStatus, SignerInfo};
    let mut report = report();
    let key = format!("sha256:{}", "cd".repeat(32));
    let states = [
        SignatureStatus::Unsigned,
        SignatureStatus::Verified {
            signer: SignerInfo::Certificate {
                subject: "CN=release,O=Zoo Tests".into(),
                issuer: "CN=Zoo Test CA".into(),
                fingerprint: key.clone(),
            },
            trusted: true,
            untrusted_because: None,
            files: 3,
        },
        SignatureStatus::Failed {
            failure: "files",
            reason: "the files do not match the signature: changed: config.json".into(),
            diff: FileDiff::default(),
        },
        SignatureStatus::Keyless {
            identity: "someone@example.com".into(),
            issuer: "https://accounts.example.com".into(),
        },
    ];
    for (m, s) in report.models.iter_mut().zip(states.into_iter().cycle()) {
        m.signature = Some(s);
    }
    let pets = report.models.iter_mut().find(|m| m.name == "pets").unwrap();
    pets.signature = Some(SignatureStatus::Verified {
        signer: SignerInfo::Key {
            fingerprint: key,
            curve: "P-256".into(),
        },
        trusted: false,
        untrusted_because: Some("not listed in trusted_keys".into()),
        files: 3,
    });
    pets.base_signer = Some(BaseSigner {
        kind: SignerKind::Key,
        key_sha256: zoo_types::Sha256Hex::parse(&"ef".repeat(32)).unwrap(),
        subject: None,
        issuer: None,
        trusted: true,
    });
    report
}

#[test]
fn signature_states_validate_in_both_boms() {
    let report = signed_report();
    let cdx = bom::cyclonedx(&report, created());
    assert_valid("bom-1.6.SNAPSHOT.schema.json", &cdx);
    let pets = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pets")
        .unwrap();
    let prop = |name: &str| {
        pets["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(prop("zoo:signature:state").as_deref(), Some("verified"));
    assert_eq!(prop("zoo:signature:trusted").as_deref(), Some("false"));
    assert_eq!(prop("zoo:signature:method").as_deref(), Some("key"));
    assert!(prop("zoo:base-signer").unwrap().contains(&"ef".repeat(32)));
    assert!(
        pets["externalReferences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "digital-signature" && r["url"] == "model.sig")
    );
    let states: Vec<String> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["properties"].as_array().into_iter().flatten())
        .filter(|p| p["name"] == "zoo:signature:state")
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect();
    for s in ["unsigned", "verified", "failed", "keyless"] {
        assert!(states.iter().any(|x| x == s), "{s} in {states:?}");
    }

    let spdx = bom::spdx(&report, created());
    assert_valid("spdx-3.0.1-json-schema.json", &spdx);
    let graph = spdx["@graph"].as_array().unwrap();
    let pets_id = graph
        .iter()
        .find(|e| e["type"] == "ai_AIPackage" && e["name"] == "pets")
        .unwrap()["spdxId"]
        .clone();
    let statements: Vec<&str> = graph
        .iter()
        .filter(|e| e["type"] == "Annotation" && e["subject"] == pets_id)
        .map(|e| e["statement"].as_str().unwrap())
        .collect();
    assert!(
        statements.contains(&"zoo:signature:state: verified"),
        "{statements:?}"
    );
    assert!(
        statements
            .iter()
            .any(|s| s.starts_with("signature: verified (3 files)"))
    );
    assert!(
        statements
            .iter()
            .any(|s| s.starts_with("zoo:base-signer: key sha256:efef"))
    );
}
