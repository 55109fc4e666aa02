//! Model Openness Framework (MOF) classification of a card's components.
//!
//! The rules follow the framework (arXiv 2403.13784, LF AI & Data's MOF
//! specification) as its reference implementation, the Model Openness Tool,
//! applies them:
//! - classes are cumulative: Class II needs everything Class III needs, Class I
//!   everything Class II needs;
//! - a required component counts only when it is published under an open license:
//!   OSI-approved or FSF free for code, open-data or open-content (CC-BY, CC0,
//!   CDLA, ODbL ...) for data and documents. A component with no license does not
//!   count. An open license of another type (Apache-2.0 on a model card) still
//!   counts but earns a note, as the tool's "should be type-appropriate" warning;
//! - a research paper may stand in for the technical report;
//! - model metadata, supporting libraries and sample outputs are optional.

use serde::{Deserialize, Serialize};
use zoo_registry::openness::{ComponentKind, Openness};
use zoo_registry::{Component, License, LicenseClass};

/// The three MOF classes, ordered from the entry bar up: `OpenModel < OpenScience`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MofClass {
    /// Class III: the model itself (architecture, final weights, basic documentation).
    OpenModel,
    /// Class II: plus the code to train, run and evaluate it, and evaluation data.
    OpenTooling,
    /// Class I: plus the training data, preprocessing code, checkpoints and paper.
    OpenScience,
}

impl MofClass {
    pub const ALL: [MofClass; 3] = [
        MofClass::OpenModel,
        MofClass::OpenTooling,
        MofClass::OpenScience,
    ];

    /// `III`, `II` or `I`.
    pub fn roman(self) -> &'static str {
        match self {
            MofClass::OpenModel => "III",
            MofClass::OpenTooling => "II",
            MofClass::OpenScience => "I",
        }
    }

    /// The framework's name, e.g. `Class III Open Model`.
    pub fn label(self) -> &'static str {
        match self {
            MofClass::OpenModel => "Class III Open Model",
            MofClass::OpenTooling => "Class II Open Tooling",
            MofClass::OpenScience => "Class I Open Science",
        }
    }

    /// The class above this one, if any.
    pub fn next(self) -> Option<MofClass> {
        match self {
            MofClass::OpenModel => Some(MofClass::OpenTooling),
            MofClass::OpenTooling => Some(MofClass::OpenScience),
            MofClass::OpenScience => None,
        }
    }

    /// Components this class adds to the ones below it.
    pub fn adds(self) -> &'static [Component] {
        use Component::*;
        match self {
            MofClass::OpenModel => &[
                ModelArchitecture,
                ModelParametersFinal,
                TechnicalReport,
                EvaluationResults,
                ModelCard,
                DataCard,
            ],
            MofClass::OpenTooling => &[TrainingCode, InferenceCode, EvaluationCode, EvaluationData],
            MofClass::OpenScience => &[
                Datasets,
                DataPreprocessingCode,
                ModelParametersIntermediate,
                ResearchPaper,
            ],
        }
    }

    /// Everything this class requires, its own components and those of lower classes.
    pub fn requires(self) -> Vec<Component> {
        MofClass::ALL
            .into_iter()
            .filter(|c| *c <= self)
            .flat_map(|c| c.adds().iter().copied())
            .collect()
    }
}

impl std::fmt::Display for MofClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.roman())
    }
}

impl std::str::FromStr for MofClass {
    type Err = String;
    /// Accepts `III`, `3`, `class-iii`, `Class III` or `open-model` (and the same for II, I).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .to_ascii_lowercase()
            .replace(['-', '_'], " ")
            .split_whitespace()
            .filter(|w| *w != "class")
            .collect::<Vec<_>>()
            .join(" ");
        match norm.as_str() {
            "iii" | "3" | "open model" => Ok(MofClass::OpenModel),
            "ii" | "2" | "open tooling" => Ok(MofClass::OpenTooling),
            "i" | "1" | "open science" => Ok(MofClass::OpenScience),
            _ => Err(format!(
                "unknown MOF class '{s}'; expected III (Open Model), II (Open Tooling) or I (Open Science)"
            )),
        }
    }
}

impl Serialize for MofClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.roman())
    }
}

impl<'de> Deserialize<'de> for MofClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `zoo list --mof`: models reaching a class or better, or models reaching none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MofFilter {
    AtLeast(MofClass),
    Unclassified,
}

impl MofFilter {
    pub fn matches(self, class: Option<MofClass>) -> bool {
        match self {
            MofFilter::AtLeast(want) => class.is_some_and(|c| c >= want),
            MofFilter::Unclassified => class.is_none(),
        }
    }
}

impl std::str::FromStr for MofFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(MofFilter::Unclassified);
        }
        s.parse()
            .map(MofFilter::AtLeast)
            .map_err(|e| format!("{e}, or none"))
    }
}

/// How one component stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentState {
    /// Published under an open license of the type that fits it.
    Open,
    /// Published under an open license of another type: counts, with a note.
    OpenOtherType,
    /// Published without a license: does not count.
    Unlicensed,
    /// Published under a license that is not open (restrictive or unknown).
    NotOpen,
    /// Not published.
    Absent,
}

impl ComponentState {
    pub fn counts(self) -> bool {
        matches!(self, ComponentState::Open | ComponentState::OpenOtherType)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentCheck {
    pub component: Component,
    pub state: ComponentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// A required component that is not satisfied, and why, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub component: Component,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MofEvaluation {
    /// The highest class reached; `None` when not even Class III is.
    pub class: Option<MofClass>,
    /// All seventeen components, in the framework's order.
    pub components: Vec<ComponentCheck>,
    /// The class above `class` (Class III when none is reached); `None` at Class I.
    pub next: Option<MofClass>,
    /// What keeps the model from `next`.
    pub missing: Vec<Gap>,
    /// Components that count but should carry a license of their own type.
    pub notes: Vec<Gap>,
}

/// Classify a card's declared components.
pub fn evaluate(openness: &Openness) -> MofEvaluation {
    let components: Vec<ComponentCheck> = ALL_COMPONENTS
        .iter()
        .map(|&c| check_component(openness, c))
        .collect();
    let state = |c: Component| {
        components
            .iter()
            .find(|k| k.component == c)
            .map_or(ComponentState::Absent, |k| k.state)
    };
    let class = MofClass::ALL
        .into_iter()
        .take_while(|cls| cls.adds().iter().all(|&c| satisfied(&state, c)))
        .last();
    let next = match class {
        None => Some(MofClass::OpenModel),
        Some(c) => c.next(),
    };
    let missing = next.map(|n| gaps(&state, n)).unwrap_or_default();
    let notes = components
        .iter()
        .filter(|k| k.state == ComponentState::OpenOtherType)
        .map(|k| Gap {
            component: k.component,
            reason: format!(
                "{} is open but not {}; the framework asks for {}",
                k.license.as_deref().unwrap_or_default(),
                fitting(k.component),
                fitting(k.component)
            ),
        })
        .collect();
    MofEvaluation {
        class,
        components,
        next,
        missing,
        notes,
    }
}

impl MofEvaluation {
    /// What keeps the model from `target` (empty when it is reached).
    pub fn missing_for(&self, target: MofClass) -> Vec<Gap> {
        let state = |c: Component| {
            self.components
                .iter()
                .find(|k| k.component == c)
                .map_or(ComponentState::Absent, |k| k.state)
        };
        gaps(&state, target)
    }
}

fn gaps(state: &dyn Fn(Component) -> ComponentState, target: MofClass) -> Vec<Gap> {
    target
        .requires()
        .into_iter()
        .filter(|&c| !satisfied(state, c))
        .map(|c| Gap {
            component: c,
            reason: why_missing(state, c),
        })
        .collect()
}

/// A requirement is met by the component itself, or for the technical report by
/// an open research paper, which the framework lets stand in for it.
fn satisfied(state: &dyn Fn(Component) -> ComponentState, c: Component) -> bool {
    state(c).counts()
        || (c == Component::TechnicalReport && state(Component::ResearchPaper).counts())
}

fn why_missing(state: &dyn Fn(Component) -> ComponentState, c: Component) -> String {
    let own = describe(state(c));
    if c == Component::TechnicalReport && state(Component::ResearchPaper) != ComponentState::Absent
    {
        return format!(
            "{own}; the research paper may stand in for it but is {}",
            describe(state(Component::ResearchPaper))
        );
    }
    own
}

fn describe(s: ComponentState) -> String {
    match s {
        ComponentState::Absent => "not published".to_owned(),
        ComponentState::Unlicensed => "published without a license".to_owned(),
        ComponentState::NotOpen => "published under a license that is not open".to_owned(),
        ComponentState::Open | ComponentState::OpenOtherType => "open".to_owned(),
    }
}

fn check_component(openness: &Openness, c: Component) -> ComponentCheck {
    let Some(info) = openness.components.get(&c) else {
        return ComponentCheck {
            component: c,
            state: ComponentState::Absent,
            license: None,
        };
    };
    let Some(id) = info.license.clone() else {
        return ComponentCheck {
            component: c,
            state: ComponentState::Unlicensed,
            license: None,
        };
    };
    let class = License {
        id: id.clone(),
        name: None,
        url: None,
        terms: None,
    }
    .class();
    let state = match class {
        LicenseClass::Restrictive | LicenseClass::Unknown => ComponentState::NotOpen,
        open if fits(c, open) => ComponentState::Open,
        _ => ComponentState::OpenOtherType,
    };
    ComponentCheck {
        component: c,
        state,
        license: Some(id),
    }
}

/// Weights are both data and a program's parameters: the framework accepts an
/// open-source or an open-data license for them.
fn fits(c: Component, class: LicenseClass) -> bool {
    if matches!(
        c,
        Component::ModelParametersFinal | Component::ModelParametersIntermediate
    ) {
        return true;
    }
    match c.kind() {
        ComponentKind::Code => class == LicenseClass::OpenSource,
        ComponentKind::Data | ComponentKind::Document => class == LicenseClass::OpenContent,
    }
}

fn fitting(c: Component) -> &'static str {
    match c.kind() {
        ComponentKind::Code => "an OSI- or FSF-approved code license",
        ComponentKind::Data => "an open-data license (CDLA, CC-BY, CC0, ODbL ...)",
        ComponentKind::Document => "an open-content license (e.g. CC-BY-4.0)",
    }
}

/// The seventeen components in the framework's order (code, data, documents).
const ALL_COMPONENTS: [Component; 17] = [
    Component::ModelArchitecture,
    Component::DataPreprocessingCode,
    Component::TrainingCode,
    Component::InferenceCode,
    Component::EvaluationCode,
    Component::SupportingLibraries,
    Component::ModelParametersFinal,
    Component::ModelParametersIntermediate,
    Component::Datasets,
    Component::EvaluationData,
    Component::ModelMetadata,
    Component::SampleModelOutputs,
    Component::ModelCard,
    Component::DataCard,
    Component::TechnicalReport,
    Component::ResearchPaper,
    Component::EvaluationResults,
];
