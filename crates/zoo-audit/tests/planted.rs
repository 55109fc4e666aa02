//! One planted problem per test, each with the finding (kind, severity, subject)
//! it must produce. The CLI test (tests/audit.rs at the workspace root) checks the
//! matching exit codes.

mod common;

use common::{Env, RESNET50_SHA256, sha256_hex};
use zoo_audit::{
    AuditReport, Finding, FindingKind, IntendedUse, ModelAudit, Policy, Scope, Selection, Severity,
    audit,
};

fn run(env: &Env, policy: &Policy, selection: Selection) -> AuditReport {
    audit(&env.catalog(), &env.store(), policy, &selection).expect("audit runs")
}

fn model<'a>(report: &'a AuditReport, name: &str) -> &'a ModelAudit {
    report
        .models
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} not audited: {:#?}", report.models))
}

#[track_caller]
fn finding<'a>(m: &'a ModelAudit, kind: FindingKind, subject: &str) -> &'a Finding {
    m.findings
        .iter()
        .find(|f| f.kind == kind && f.subject == subject)
        .unwrap_or_else(|| panic!("no {kind} finding about '{subject}' in {:#?}", m.findings))
}

fn commercial() -> Policy {
    Policy {
        intended_use: Some(IntendedUse::Commercial),
        ..Policy::default()
    }
}

/// A pulled model on a user card, fetched by zoo_fetch from a `file` source.
fn pull_tiny(env: &Env, files: &[(&str, &[u8])]) {
    env.tiny_card(files);
    let catalog = env.catalog();
    let card = &catalog.resolve("tiny").unwrap().card;
    let opts = zoo_fetch::PullOptions {
        jobs: 1,
        allow_pickle: true,
        ..Default::default()
    };
    zoo_fetch::pull(&env.store(), card, &opts, &zoo_fetch::Silent).expect("pull from file source");
}

#[test]
fn non_commercial_terms_in_lineage_conflict_with_commercial_use() {
    let env = Env::new();
    env.finetuned(
        "pets",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("CC-BY-4.0"),
    );
    let subject = "training data ImageNet-1k (ILSVRC 2012) of resnet50-v1-7";

    let report = run(&env, &commercial(), Selection::All { catalog: false });
    let m = model(&report, "pets");
    assert_eq!(m.scope, Scope::FineTuned);
    let f = finding(m, FindingKind::NonCommercial, subject);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("non-commercial research"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("intended use (commercial)"),
        "{}",
        f.message
    );
    assert!(report.fails(Severity::Error));
    assert!(
        m.license
            .inherited
            .iter()
            .any(|o| o.starts_with(subject) && o.contains("Non-commercial")),
        "{:?}",
        m.license.inherited
    );

    // Without a policy the same terms are a warning: a fact to review, not a failure.
    let report = run(&env, &Policy::default(), Selection::All { catalog: false });
    let f = finding(model(&report, "pets"), FindingKind::NonCommercial, subject);
    assert_eq!(f.severity, Severity::Warning);
    assert!(!report.fails(Severity::Error));
}

#[test]
fn modified_file_is_reported() {
    let env = Env::new();
    pull_tiny(&env, &[("model.onnx", b"tiny model bytes")]);
    let clean = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["tiny".into()]),
    );
    assert!(
        !clean.fails(Severity::Warning),
        "{:#?}",
        clean.models[0].findings
    );

    // Change the bytes behind the store's link, as a stray write would.
    let path = env
        .store()
        .model_dir(&"tiny".parse().unwrap())
        .join("model.onnx");
    std::fs::write(&path, b"tampered bytes").unwrap();
    let report = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["tiny".into()]),
    );
    let m = model(&report, "tiny");
    let f = finding(m, FindingKind::FileModified, "file model.onnx");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains(&sha256_hex(b"tampered bytes")),
        "{}",
        f.message
    );
    assert!(report.fails(Severity::Error));
}

/// `FileCheck::Recorded` (the AI-BOM `zoo push` sends): digests are not
/// re-read, so a same-size change is the upload's to catch, but a file of
/// another size or a missing one is still a finding.
#[test]
fn recorded_check_trusts_the_pull_digests_and_compares_sizes() {
    let env = Env::new();
    pull_tiny(
        &env,
        &[("model.onnx", b"tiny model bytes"), ("config.json", b"{}")],
    );
    let recorded = |env: &Env| {
        zoo_audit::audit_with(
            &env.catalog(),
            &env.store(),
            &Policy::default(),
            &Selection::Names(vec!["tiny".into()]),
            zoo_audit::Checks {
                signatures: None,
                files: zoo_audit::FileCheck::Recorded,
            },
        )
        .expect("audit runs")
    };
    let report = recorded(&env);
    let m = model(&report, "tiny");
    assert!(
        m.files
            .iter()
            .all(|f| f.state == zoo_audit::FileState::Recorded),
        "{:?}",
        m.files
    );
    assert!(!report.fails(Severity::Warning), "{:#?}", m.findings);

    let dir = env.store().model_dir(&"tiny".parse().unwrap());
    std::fs::write(dir.join("model.onnx"), b"same size, other").unwrap();
    let m = model(&recorded(&env), "tiny").clone();
    assert_eq!(m.files[0].state, zoo_audit::FileState::Recorded);
    // The full check sees it.
    let full = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["tiny".into()]),
    );
    finding(
        model(&full, "tiny"),
        FindingKind::FileModified,
        "file model.onnx",
    );

    std::fs::write(dir.join("model.onnx"), b"shorter").unwrap();
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let report = recorded(&env);
    let m = model(&report, "tiny");
    let f = finding(m, FindingKind::FileModified, "file model.onnx");
    assert!(
        f.message.contains("16 bytes recorded at pull"),
        "{}",
        f.message
    );
    let record = m.files.iter().find(|f| f.path == "model.onnx").unwrap();
    assert_eq!(
        record.sha256, None,
        "no digest claimed for a file not hashed"
    );
    finding(m, FindingKind::FileMissing, "file config.json");
    assert!(report.fails(Severity::Error));
}

#[test]
fn missing_unexpected_and_pickle_files_are_reported() {
    let env = Env::new();
    pull_tiny(
        &env,
        &[
            ("model.onnx", b"onnx"),
            ("extra/weights.pt", b"\x80\x04pickle."),
        ],
    );
    let dir = env.store().model_dir(&"tiny".parse().unwrap());
    std::fs::remove_file(dir.join("model.onnx")).unwrap();
    std::fs::write(dir.join("notes.bin"), b"dropped here").unwrap();
    let report = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["tiny".into()]),
    );
    let m = model(&report, "tiny");
    assert_eq!(
        finding(m, FindingKind::FileMissing, "file model.onnx").severity,
        Severity::Error
    );
    assert_eq!(
        finding(m, FindingKind::FileUnexpected, "file notes.bin").severity,
        Severity::Warning
    );
    assert_eq!(
        finding(m, FindingKind::PickleFile, "file extra/weights.pt").severity,
        Severity::Warning
    );
    // .bin is a pickle extension, so the stray file is flagged as one too.
    finding(m, FindingKind::PickleFile, "file notes.bin");
}

#[test]
fn unknown_license_is_a_finding_not_a_crash() {
    let env = Env::new();
    env.add_card(
        "acme",
        "schema: 1\nname: acme-net\nversion: \"2\"\nfamily: acme\ntask: image-classification\n\
         architecture: AcmeNet\ndescription: A model under a license zoo has never seen.\n\
         files:\n  - path: acme.onnx\n    format: onnx\n    role: model\n\
         sources:\n  - hf:\n      repo: acme/acme-net\n\
         license:\n  id: LicenseRef-Acme-Model-License\n  name: Acme Model License\n  url: https://acme.invalid/license\n\
         openness:\n  class: open-weights-restricted\nprovenance:\n  organization: Acme\n",
    );
    let names = Selection::Names(vec!["acme-net".into()]);
    let report = run(&env, &Policy::default(), names.clone());
    let m = model(&report, "acme-net");
    assert_eq!(m.scope, Scope::Catalog);
    let f = finding(m, FindingKind::LicenseUnknown, "license");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("LicenseRef-Acme-Model-License"));
    assert!(!report.fails(Severity::Error));

    let strict = Policy {
        allow_unknown_licenses: false,
        ..Policy::default()
    };
    let report = run(&env, &strict, names);
    let f = finding(
        model(&report, "acme-net"),
        FindingKind::LicenseUnknown,
        "license",
    );
    assert_eq!(f.severity, Severity::Error);

    // An id that is not even SPDX syntax, recorded in a lineage, is read the same way.
    env.finetuned(
        "odd",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("Pets Data License v1"),
    );
    let report = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["odd".into()]),
    );
    let f = finding(
        model(&report, "odd"),
        FindingKind::LicenseUnknown,
        "fine-tuning data /data/pets",
    );
    assert!(f.message.contains("Pets Data License v1"), "{}", f.message);
}

#[test]
fn closed_model_in_the_collection() {
    let env = Env::new();
    let report = run(&env, &Policy::default(), Selection::All { catalog: true });
    for name in ["gpt-4o", "claude-sonnet-4", "gemini-1.5-pro"] {
        let m = model(&report, name);
        assert_eq!(m.scope, Scope::Catalog);
        assert_eq!(
            finding(m, FindingKind::ClosedModel, "openness").severity,
            Severity::Warning
        );
        assert!(m.files.is_empty());
    }
    assert!(!report.fails(Severity::Error), "closed alone is a warning");

    let policy = Policy {
        min_openness: Some(zoo_registry::OpennessClass::OpenWeightsRestricted),
        ..Policy::default()
    };
    let report = run(&env, &policy, Selection::All { catalog: true });
    let f = finding(
        model(&report, "gpt-4o"),
        FindingKind::OpennessBelowPolicy,
        "openness",
    );
    assert_eq!(f.severity, Severity::Error);
    assert!(report.fails(Severity::Error));
    assert!(
        model(&report, "llama-3.1-8b")
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::OpennessBelowPolicy)
    );
}

#[test]
fn gated_model_pulled_without_recorded_acceptance() {
    let env = Env::new();
    let files: &[(&str, &[u8])] = &[
        ("config.json", b"{}"),
        ("LICENSE", b"Llama 3.1 Community License"),
    ];
    env.fake_pull(
        "llama-3.1-8b",
        "LicenseRef-Llama-3.1-Community",
        false,
        files,
    );
    let report = run(&env, &Policy::default(), Selection::All { catalog: false });
    let m = model(&report, "llama-3.1-8b");
    assert_eq!(m.scope, Scope::Pulled);
    assert!(m.license.needs_acceptance);
    assert_eq!(m.license.accepted, Some(false));
    let f = finding(m, FindingKind::AcceptanceNotRecorded, "license");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("gated"), "{}", f.message);
    assert!(report.fails(Severity::Error));

    // Accepted at pull: recorded, and no finding.
    let env = Env::new();
    env.fake_pull(
        "llama-3.1-8b",
        "LicenseRef-Llama-3.1-Community",
        true,
        files,
    );
    let report = run(&env, &Policy::default(), Selection::All { catalog: false });
    let m = model(&report, "llama-3.1-8b");
    assert_eq!(m.license.accepted, Some(true));
    assert!(m.license.accepted_at.is_some());
    assert!(
        m.findings
            .iter()
            .all(|f| f.kind != FindingKind::AcceptanceNotRecorded)
    );
}

#[test]
fn finetuned_model_carries_its_base_attribution() {
    let env = Env::new();
    env.finetuned(
        "pets",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("CC-BY-4.0"),
    );
    let report = run(
        &env,
        &Policy::default(),
        Selection::Names(vec!["pets".into()]),
    );
    let m = model(&report, "pets");
    let f = finding(
        m,
        FindingKind::AttributionRequired,
        "base model resnet50-v1-7",
    );
    assert_eq!(f.severity, Severity::Info);
    assert!(f.message.contains("Apache-2.0"));
    assert!(
        m.license
            .inherited
            .iter()
            .any(|o| o == "base model resnet50-v1-7: Give attribution: keep the copyright and license notices."),
        "{:?}",
        m.license.inherited
    );
    // The lineage reaches the backbone and its data, and the files check out.
    let base = m
        .lineage
        .iter()
        .find(|a| a.name == "resnet50-v1-7")
        .expect("base in lineage");
    assert!(base.in_catalog);
    assert_eq!(base.sha256.as_deref(), Some(RESNET50_SHA256));
    assert!(
        m.lineage
            .iter()
            .any(|a| a.name.starts_with("ImageNet-1k") && a.of == "resnet50-v1-7")
    );
    assert!(
        m.findings
            .iter()
            .all(|f| f.kind != FindingKind::BaseDigestMismatch)
    );
    assert!(
        m.files.iter().all(|f| f.state == zoo_audit::FileState::Ok),
        "{:?}",
        m.files
    );
    assert!(!report.fails(Severity::Error), "{:#?}", m.findings);
}

#[test]
fn unregistered_finetuned_model_is_checked_against_its_card() {
    let env = Env::new();
    env.finetuned("pets", "resnet50-v1-7", RESNET50_SHA256, "Apache-2.0", None);
    std::fs::remove_dir_all(env.store().model_dir(&"pets".parse().unwrap())).unwrap();
    let report = run(&env, &Policy::default(), Selection::All { catalog: false });
    let m = model(&report, "pets");
    assert_eq!(m.scope, Scope::FineTuned);
    assert_eq!(m.license.accepted, None);
    assert!(
        m.files.iter().all(|f| f.state == zoo_audit::FileState::Ok),
        "{:?}",
        m.files
    );

    std::fs::write(
        env.local_models().join("pets/model.onnx"),
        b"retrained by hand",
    )
    .unwrap();
    let report = run(&env, &Policy::default(), Selection::All { catalog: false });
    let f = finding(
        model(&report, "pets"),
        FindingKind::FileModified,
        "file model.onnx",
    );
    assert_eq!(f.severity, Severity::Error);
}
