//! Policy files: the documented examples parse, mistakes are `file:line` errors,
//! and each field has the effect docs/audit.md describes.

mod common;

use std::path::Path;

use common::{Env, RESNET50_SHA256};
use zoo_audit::{
    AuditError, FindingKind, IntendedUse, MofClass, Policy, ProvenanceField, Selection, Severity,
    audit,
};

/// The ```yaml blocks of docs/audit.md.
fn documented_policies() -> Vec<String> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md");
    let text = std::fs::read_to_string(doc).unwrap();
    text.split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_owned())
        .collect()
}

#[test]
fn documented_examples_parse() {
    let examples = documented_policies();
    assert_eq!(examples.len(), 4);
    let p = Policy::parse(&examples[0], "docs").unwrap();
    assert_eq!(p.intended_use, Some(IntendedUse::Commercial));
    assert!(!p.allow_unknown_licenses);
    assert_eq!(
        p.require_provenance,
        [
            ProvenanceField::Organization,
            ProvenanceField::Upstream,
            ProvenanceField::Digests
        ]
    );
    let p = Policy::parse(&examples[1], "docs").unwrap();
    assert_eq!(p.min_mof_class, Some(MofClass::OpenModel));
    let p = Policy::parse(&examples[2], "docs").unwrap();
    assert!(p.require_signature);
    assert_eq!(p.trusted_keys, ["keys/release.pub.pem"]);
    let p = Policy::parse(&examples[3], "docs").unwrap();
    assert_eq!(p.allowed_sources, ["hf onnxmodelzoo/*"]);
}

#[test]
fn empty_and_comment_only_files_are_the_default_policy() {
    assert_eq!(Policy::parse("", "p").unwrap(), Policy::default());
    assert_eq!(
        Policy::parse("# nothing yet\n---\n", "p").unwrap(),
        Policy::default()
    );
    assert!(Policy::default().allow_unknown_licenses);
}

#[test]
fn mistakes_name_file_and_line() {
    let cases = [
        (
            "intended_use: research\nmin_openess: open\n",
            2,
            "unknown field `min_openess`",
        ),
        (
            "deny_licenses:\n  - MIT\nintended_use: commerce\n",
            3,
            "unknown variant `commerce`",
        ),
        ("min_mof_class: IV\n", 1, "unknown MOF class 'IV'"),
        ("require_provenance: [organisation]\n", 1, "organisation"),
        ("allow_licenses: [MIT, \"\"]\n", 1, "empty pattern"),
    ];
    for (text, line, needle) in cases {
        match Policy::parse(text, "policy.yaml") {
            Err(e @ AuditError::Policy { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("policy.yaml:{line}: ")), "{msg}");
                assert!(msg.contains(needle), "{msg}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    let missing = Policy::load(Path::new("/nonexistent/policy.yaml")).unwrap_err();
    assert!(matches!(missing, AuditError::ReadPolicy { .. }));
}

fn findings(env: &Env, policy: &str, name: &str) -> Vec<(FindingKind, Severity, String)> {
    let policy = Policy::parse(policy, "policy.yaml").unwrap();
    let report = audit(
        &env.catalog(),
        &env.store(),
        &policy,
        &Selection::Names(vec![name.into()]),
    )
    .unwrap();
    report.models[0]
        .findings
        .iter()
        .map(|f| (f.kind, f.severity, f.subject.clone()))
        .collect()
}

fn has(found: &[(FindingKind, Severity, String)], kind: FindingKind, subject: &str) -> bool {
    found
        .iter()
        .any(|(k, s, subj)| *k == kind && *s == Severity::Error && subj == subject)
}

#[test]
fn license_patterns_reach_base_models() {
    let env = Env::new();
    // Relicensed as Apache-2.0, but the base's RAIL license still binds it.
    env.finetuned(
        "sd-pets",
        "stable-diffusion-v1-5",
        &"cd".repeat(32),
        "Apache-2.0",
        None,
    );
    let found = findings(
        &env,
        "deny_licenses: [\"LicenseRef-CreativeML-*\"]\n",
        "sd-pets",
    );
    assert!(
        !has(&found, FindingKind::LicenseDenied, "license"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            FindingKind::LicenseDenied,
            "base model stable-diffusion-v1-5"
        ),
        "{found:?}"
    );
    let found = findings(&env, "allow_licenses: [Apache-2.0, MIT]\n", "resnet50");
    assert!(
        !found.iter().any(|f| f.0 == FindingKind::LicenseNotAllowed),
        "{found:?}"
    );
    let found = findings(&env, "allow_licenses: [MIT]\n", "resnet50");
    assert!(
        has(&found, FindingKind::LicenseNotAllowed, "license"),
        "{found:?}"
    );
}

#[test]
fn provenance_openness_mof_and_sources() {
    let env = Env::new();
    // llama: no file digests published, nothing converted, a paper cited.
    let found = findings(
        &env,
        "require_provenance: [digests, converted_from, paper]\n",
        "llama-3.1-8b",
    );
    assert!(
        has(&found, FindingKind::ProvenanceMissing, "provenance digests"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            FindingKind::ProvenanceMissing,
            "provenance converted_from"
        ),
        "{found:?}"
    );
    assert!(
        !has(&found, FindingKind::ProvenanceMissing, "provenance paper"),
        "{found:?}"
    );

    let found = findings(&env, "min_openness: open\n", "llama-3.1-8b");
    assert!(
        has(&found, FindingKind::OpennessBelowPolicy, "openness"),
        "{found:?}"
    );
    let found = findings(&env, "min_mof_class: III\n", "resnet50");
    assert!(
        has(&found, FindingKind::MofBelowPolicy, "openness"),
        "{found:?}"
    );

    let found = findings(&env, "allowed_sources: [pypi]\n", "resnet50");
    assert!(
        has(&found, FindingKind::SourceNotAllowed, "sources"),
        "{found:?}"
    );
    let found = findings(
        &env,
        "allowed_sources: [\"hf onnxmodelzoo/*\"]\n",
        "resnet50",
    );
    assert!(
        !found.iter().any(|f| f.0 == FindingKind::SourceNotAllowed),
        "{found:?}"
    );
    // A pulled model is judged by where its files actually came from.
    env.fake_pull(
        "llama-3.1-8b",
        "LicenseRef-Llama-3.1-Community",
        true,
        &[("config.json", b"{}")],
    );
    let found = findings(
        &env,
        "allowed_sources: [\"hf meta-llama/*\"]\n",
        "llama-3.1-8b",
    );
    assert!(
        has(&found, FindingKind::SourceNotAllowed, "file config.json"),
        "{found:?}"
    );
    // A fine-tuned model is judged by its base's sources.
    env.finetuned("pets", "resnet50-v1-7", RESNET50_SHA256, "Apache-2.0", None);
    let found = findings(&env, "allowed_sources: [url]\n", "pets");
    assert!(
        has(
            &found,
            FindingKind::SourceNotAllowed,
            "base model resnet50-v1-7"
        ),
        "{found:?}"
    );
}

#[test]
fn recorded_lineage_is_checked_against_the_catalog() {
    let env = Env::new();
    env.finetuned("pets", "resnet50-v1-7", &"00".repeat(32), "MIT", None);
    let report = audit(
        &env.catalog(),
        &env.store(),
        &Policy::default(),
        &Selection::Names(vec!["pets".into()]),
    )
    .unwrap();
    let kinds: Vec<(FindingKind, &str)> = report.models[0]
        .findings
        .iter()
        .map(|f| (f.kind, f.subject.as_str()))
        .collect();
    assert!(
        kinds.contains(&(FindingKind::BaseDigestMismatch, "base model resnet50-v1-7")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(FindingKind::LicenseChanged, "base model resnet50-v1-7")),
        "{kinds:?}"
    );
    // An ONNX conversion that carries its upstream's name as an alias is not its own ancestor.
    let report = audit(
        &env.catalog(),
        &env.store(),
        &Policy::default(),
        &Selection::Names(vec!["roberta-base-11".into()]),
    )
    .unwrap();
    let m = &report.models[0];
    let base = m
        .lineage
        .iter()
        .find(|a| a.name == "roberta-base")
        .expect("base listed");
    assert!(!base.in_catalog);
    assert!(
        m.findings
            .iter()
            .any(|f| f.kind == FindingKind::AncestorNotInCatalog)
    );
}
