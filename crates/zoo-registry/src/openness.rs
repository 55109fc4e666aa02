//! Openness: the coarse class a user filters on (open, open weights with
//! restrictions, closed), and the per-component availability that the Model
//! Openness Framework (MOF) counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Openness {
    /// Declared class; `registry check` verifies it against license and files.
    pub class: OpennessClass,
    /// MOF components that are publicly available, each with its own license.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<Component, ComponentInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpennessClass {
    /// Weights downloadable under a license without use, field or commercial limits.
    Open,
    /// Weights downloadable, but the license restricts use, users or redistribution.
    OpenWeightsRestricted,
    /// No weights: reachable only through the provider's API.
    Closed,
}

impl OpennessClass {
    pub const ALL: [OpennessClass; 3] = [
        OpennessClass::Open,
        OpennessClass::OpenWeightsRestricted,
        OpennessClass::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpennessClass::Open => "open",
            OpennessClass::OpenWeightsRestricted => "open-weights-restricted",
            OpennessClass::Closed => "closed",
        }
    }
}

impl std::fmt::Display for OpennessClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OpennessClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OpennessClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown openness '{s}'; expected open, open-weights-restricted or closed")
            })
    }
}

/// The seventeen components of the Model Openness Framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    ModelArchitecture,
    DataPreprocessingCode,
    TrainingCode,
    InferenceCode,
    EvaluationCode,
    SupportingLibraries,
    ModelParametersFinal,
    ModelParametersIntermediate,
    Datasets,
    EvaluationData,
    ModelMetadata,
    SampleModelOutputs,
    ModelCard,
    DataCard,
    TechnicalReport,
    ResearchPaper,
    EvaluationResults,
}

/// What kind of artefact a component is, which decides the license type it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Code,
    Data,
    Document,
}

impl Component {
    pub fn kind(self) -> ComponentKind {
        use Component::*;
        match self {
            ModelArchitecture
            | DataPreprocessingCode
            | TrainingCode
            | InferenceCode
            | EvaluationCode
            | SupportingLibraries => ComponentKind::Code,
            ModelParametersFinal
            | ModelParametersIntermediate
            | Datasets
            | EvaluationData
            | ModelMetadata
            | SampleModelOutputs => ComponentKind::Data,
            ModelCard | DataCard | TechnicalReport | ResearchPaper | EvaluationResults => {
                ComponentKind::Document
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        use Component::*;
        match self {
            ModelArchitecture => "model-architecture",
            DataPreprocessingCode => "data-preprocessing-code",
            TrainingCode => "training-code",
            InferenceCode => "inference-code",
            EvaluationCode => "evaluation-code",
            SupportingLibraries => "supporting-libraries",
            ModelParametersFinal => "model-parameters-final",
            ModelParametersIntermediate => "model-parameters-intermediate",
            Datasets => "datasets",
            EvaluationData => "evaluation-data",
            ModelMetadata => "model-metadata",
            SampleModelOutputs => "sample-model-outputs",
            ModelCard => "model-card",
            DataCard => "data-card",
            TechnicalReport => "technical-report",
            ResearchPaper => "research-paper",
            EvaluationResults => "evaluation-results",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentInfo {
    /// SPDX id or LicenseRef the component is released under; absent when the
    /// component is public but carries no license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
