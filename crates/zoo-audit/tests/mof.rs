//! MOF classes of the built-in catalog, worked out by hand from each card's
//! `openness.components` and the framework's rules (see docs/audit.md):
//!
//! - Class III needs model-architecture, model-parameters-final, technical-report
//!   (or a research paper standing in for it), evaluation-results, model-card and
//!   data-card, each under an open license;
//! - no built-in card publishes a data card, and every research paper on them
//!   carries no license, so none reaches Class III; what is missing differs.

use std::collections::BTreeMap;

use zoo_audit::mof::{self, ComponentState};
use zoo_audit::{MofClass, MofFilter};
use zoo_registry::openness::ComponentInfo;
use zoo_registry::{Catalog, Component, Openness, OpennessClass};

/// Model → the Class III components it lacks, in the framework's order.
fn expected() -> BTreeMap<&'static str, &'static [&'static str]> {
    const ONNX_ZOO: &[&str] = &["technical-report", "data-card"];
    const NO_EVAL: &[&str] = &["technical-report", "evaluation-results", "data-card"];
    const NO_ARCH: &[&str] = &[
        "model-architecture",
        "technical-report",
        "evaluation-results",
        "data-card",
    ];
    const NOTHING_OPEN: &[&str] = &[
        "model-architecture",
        "model-parameters-final",
        "technical-report",
        "evaluation-results",
        "model-card",
        "data-card",
    ];
    BTreeMap::from([
        ("all-minilm-l6-v2", NO_ARCH),
        ("all-minilm-l6-v2-int8", NO_ARCH),
        (
            "bertsquad-12",
            &["model-architecture", "technical-report", "data-card"][..],
        ),
        ("claude-sonnet-4", NOTHING_OPEN),
        ("densenet-12", NO_EVAL),
        ("efficientnet-lite4-11", NO_EVAL),
        ("gemini-1.5-pro", NOTHING_OPEN),
        (
            "gemma-2-2b",
            &[
                "model-parameters-final",
                "technical-report",
                "evaluation-results",
                "model-card",
                "data-card",
            ][..],
        ),
        ("gpt-4o", NOTHING_OPEN),
        ("llama-3.1-8b", NOTHING_OPEN),
        ("mobilenetv2-7", ONNX_ZOO),
        ("open-nsfw", NO_EVAL),
        ("resnet101-v1-7", ONNX_ZOO),
        ("resnet101-v2-7", ONNX_ZOO),
        ("resnet152-v1-7", ONNX_ZOO),
        ("resnet152-v2-7", ONNX_ZOO),
        ("resnet18-v1-7", ONNX_ZOO),
        ("resnet18-v2-7", ONNX_ZOO),
        ("resnet34-v1-7", ONNX_ZOO),
        ("resnet34-v2-7", ONNX_ZOO),
        ("resnet50-v1-7", ONNX_ZOO),
        ("resnet50-v2-7", ONNX_ZOO),
        ("roberta-base-11", NO_ARCH),
        ("squeezenet1.1-7", ONNX_ZOO),
        (
            "stable-diffusion-v1-5",
            &[
                "model-parameters-final",
                "technical-report",
                "evaluation-results",
                "model-card",
                "data-card",
            ][..],
        ),
        ("vgg16-7", ONNX_ZOO),
    ])
}

#[test]
fn catalog_mof_classes_match_hand_worked_table() {
    let catalog = Catalog::embedded().unwrap();
    let expected = expected();
    let names: Vec<&str> = catalog
        .entries()
        .iter()
        .map(|e| e.card.name.as_str())
        .collect();
    assert_eq!(
        names,
        expected.keys().copied().collect::<Vec<_>>(),
        "catalog changed: update the table"
    );
    for e in catalog.entries() {
        let eval = mof::evaluate(&e.card.openness);
        let missing: Vec<&str> = eval.missing.iter().map(|g| g.component.as_str()).collect();
        assert_eq!(eval.class, None, "{}", e.card.name);
        assert_eq!(eval.next, Some(MofClass::OpenModel), "{}", e.card.name);
        assert_eq!(missing, expected[e.card.name.as_str()], "{}", e.card.name);
    }
}

#[test]
fn reasons_name_the_fallback_and_the_license() {
    let catalog = Catalog::embedded().unwrap();
    let eval = mof::evaluate(&catalog.resolve("resnet50-v1-7").unwrap().card.openness);
    let reason = |c: Component| {
        eval.missing
            .iter()
            .find(|g| g.component == c)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason(Component::TechnicalReport),
        "not published; the research paper may stand in for it but is published without a license"
    );
    assert_eq!(reason(Component::DataCard), "not published");
    // Apache-2.0 on the model card is open but not a documentation license: it counts, with a note.
    let card = eval
        .components
        .iter()
        .find(|c| c.component == Component::ModelCard)
        .unwrap();
    assert_eq!(card.state, ComponentState::OpenOtherType);
    assert!(
        eval.notes
            .iter()
            .any(|n| n.component == Component::ModelCard)
    );

    let sd = mof::evaluate(
        &catalog
            .resolve("stable-diffusion-v1-5")
            .unwrap()
            .card
            .openness,
    );
    let params = sd
        .missing
        .iter()
        .find(|g| g.component == Component::ModelParametersFinal)
        .unwrap();
    assert_eq!(params.reason, "published under a license that is not open");
}

fn openness(components: &[(Component, Option<&str>)]) -> Openness {
    Openness {
        class: OpennessClass::Open,
        components: components
            .iter()
            .map(|(c, l)| {
                (
                    *c,
                    ComponentInfo {
                        license: l.map(str::to_owned),
                        url: None,
                    },
                )
            })
            .collect(),
    }
}

/// Class III complete, with the research paper standing in for the report.
fn class_three() -> Vec<(Component, Option<&'static str>)> {
    vec![
        (Component::ModelArchitecture, Some("Apache-2.0")),
        (Component::ModelParametersFinal, Some("CDLA-Permissive-2.0")),
        (Component::ResearchPaper, Some("CC-BY-4.0")),
        (Component::EvaluationResults, Some("CC-BY-4.0")),
        (Component::ModelCard, Some("CC-BY-4.0")),
        (Component::DataCard, Some("CC-BY-4.0")),
    ]
}

#[test]
fn classes_are_cumulative_with_the_paper_fallback() {
    let mut comps = class_three();
    let eval = mof::evaluate(&openness(&comps));
    assert_eq!(eval.class, Some(MofClass::OpenModel));
    assert!(eval.notes.is_empty(), "{:?}", eval.notes);
    let next: Vec<&str> = eval.missing.iter().map(|g| g.component.as_str()).collect();
    assert_eq!(
        next,
        [
            "training-code",
            "inference-code",
            "evaluation-code",
            "evaluation-data"
        ]
    );

    comps.extend([
        (Component::TrainingCode, Some("MIT")),
        (Component::InferenceCode, Some("MIT")),
        (Component::EvaluationCode, Some("BSD-3-Clause")),
        (Component::EvaluationData, Some("CC-BY-4.0")),
    ]);
    assert_eq!(
        mof::evaluate(&openness(&comps)).class,
        Some(MofClass::OpenTooling)
    );

    comps.extend([
        (Component::Datasets, Some("CC0-1.0")),
        (Component::DataPreprocessingCode, Some("Apache-2.0")),
        (Component::ModelParametersIntermediate, Some("Apache-2.0")),
    ]);
    let eval = mof::evaluate(&openness(&comps));
    assert_eq!(eval.class, Some(MofClass::OpenScience));
    assert_eq!(eval.next, None);
    assert!(eval.missing.is_empty());

    // Class I without Class III is no class at all: classes are cumulative.
    comps.retain(|(c, _)| *c != Component::DataCard);
    let eval = mof::evaluate(&openness(&comps));
    assert_eq!(eval.class, None);
    assert_eq!(eval.missing.len(), 1);
    // A non-commercial license is not open; an unlicensed component does not count.
    let mut nc = class_three();
    nc[1].1 = Some("CC-BY-NC-4.0");
    assert_eq!(mof::evaluate(&openness(&nc)).class, None);
    let mut bare = class_three();
    bare[4].1 = None;
    assert_eq!(mof::evaluate(&openness(&bare)).class, None);
}

#[test]
fn classes_parse_and_filter() {
    for (s, c) in [
        ("III", MofClass::OpenModel),
        ("class-ii", MofClass::OpenTooling),
        ("Class I", MofClass::OpenScience),
        ("open-model", MofClass::OpenModel),
        ("2", MofClass::OpenTooling),
    ] {
        assert_eq!(s.parse::<MofClass>(), Ok(c), "{s}");
    }
    assert!("IV".parse::<MofClass>().is_err());
    let at_least_two: MofFilter = "II".parse().unwrap();
    assert!(at_least_two.matches(Some(MofClass::OpenScience)));
    assert!(at_least_two.matches(Some(MofClass::OpenTooling)));
    assert!(!at_least_two.matches(Some(MofClass::OpenModel)));
    assert!(!at_least_two.matches(None));
    assert!("none".parse::<MofFilter>().unwrap().matches(None));
}
