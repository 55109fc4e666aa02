//! Hugging Face checkpoints to ONNX, built in Rust: no Python, no PyTorch.
//!
//! [`convert_checkpoint`] reads `config.json` into a validated
//! [`ModelConfig`] (a BERT-family [`TextConfig`] or a [`ResNetConfig`]), opens
//! `model.safetensors` (header validated, tensors read one at a time by name
//! with the shape the config implies), builds the graph (opset 17; text
//! encoders with `LayerNormalization` and exact GELU through `Erf`; ResNets
//! with BatchNorm folded into the convolutions) and writes it, streaming the
//! weights, with external data past [`EXTERNAL_DATA_ABOVE`]. [`derived`] keeps
//! conversions of pulled models in the store and gives the commands a runnable
//! view of them. docs/convert.md is the user's side of this.

mod builder;
mod checkpoint;
mod config;
pub mod derived;
mod error;
mod image;
mod resnet;
mod sentence;
mod text;
mod weights;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;
use zoo_onnx::proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto};

pub use checkpoint::Checkpoint;
pub use config::{Activation, Family, ModelConfig, SUPPORTED_MODEL_TYPES, TextConfig};
pub use error::{ConvertError, Result};
pub use resnet::{FEATURES, LOGITS, Naming, PIXEL_VALUES, ResNetConfig};
pub use sentence::unsupported_module;
pub use text::{ATTENTION_MASK, INPUT_IDS, LAST_HIDDEN_STATE, TOKEN_TYPE_IDS, input_names};
pub use write::{EXTERNAL_DATA_ABOVE, data_file_name};

/// Bumped whenever the graphs built change, so cached conversions are rebuilt.
pub const BUILDER_VERSION: u32 = 1;
/// The ONNX opset of the graphs built.
pub const OPSET: i64 = 17;
/// IR version 8 goes with opset 17.
const IR_VERSION: i64 = 8;

/// What a conversion produced.
#[derive(Debug, Clone, Serialize)]
pub struct Conversion {
    /// `bert`, `roberta`, ..., or `resnet` for both ResNet layouts.
    pub model_type: String,
    pub architecture: String,
    pub builder_version: u32,
    pub opset: i64,
    pub parameters: u64,
    /// Width of `last_hidden_state` (text) or of `features` (images).
    pub dim: usize,
    /// Image classifiers: the number of classes `logits` scores.
    pub classes: Option<usize>,
    /// Text encoders: the longest token sequence the position embeddings allow.
    pub max_sequence: Option<usize>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub onnx: PathBuf,
    pub external_data: Option<PathBuf>,
}

/// Builds the ONNX graph for the checkpoint `weights` described by `config`
/// and writes it to `out` (plus `out.data` when the weights are larger than
/// `external_above` bytes). `metadata` goes into the model's metadata_props.
/// Nothing is written unless the whole conversion succeeds.
pub fn convert_checkpoint(
    config: &Path,
    weights: &Path,
    out: &Path,
    metadata: &[(String, String)],
    external_above: u64,
) -> Result<Conversion> {
    let config = ModelConfig::read(config)?;
    let checkpoint = Checkpoint::open(weights)?;
    let (graph, parameters, mut conversion) = match &config {
        ModelConfig::Text(c) => {
            let weights = weights::Weights::new(&checkpoint, c.family.root());
            let (graph, parameters) = text::build(c, &weights)?;
            let conversion = Conversion {
                model_type: c.model_type.clone(),
                architecture: format!("{} encoder, {} layers", c.model_type, c.num_layers),
                dim: c.hidden_size,
                classes: None,
                max_sequence: Some(c.max_sequence()),
                inputs: input_names(c.family)
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                outputs: vec![LAST_HIDDEN_STATE.to_owned()],
                ..Conversion::empty()
            };
            (graph, parameters, conversion)
        }
        ModelConfig::ResNet(c) => {
            let root = match c.naming {
                Naming::Torchvision => "model",
                Naming::Transformers => "resnet",
            };
            let weights = weights::Weights::new(&checkpoint, root);
            let (graph, parameters) = resnet::build(c, &weights)?;
            let conversion = Conversion {
                model_type: "resnet".into(),
                architecture: c.architecture.clone(),
                dim: c.feature_dim(),
                classes: Some(c.classes),
                max_sequence: None,
                inputs: vec![PIXEL_VALUES.to_owned()],
                outputs: vec![LOGITS.to_owned(), FEATURES.to_owned()],
                ..Conversion::empty()
            };
            (graph, parameters, conversion)
        }
    };
    let mut props = vec![
        (
            "zoo.converter".to_owned(),
            format!("zoo-convert {BUILDER_VERSION}"),
        ),
        ("zoo.model_type".to_owned(), conversion.model_type.clone()),
    ];
    props.extend(metadata.iter().cloned());
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("zoo-convert".into()),
        producer_version: Some(BUILDER_VERSION.to_string()),
        doc_string: Some(format!(
            "{} converted from safetensors by zoo-convert {BUILDER_VERSION}",
            conversion.architecture
        )),
        graph: Some(graph),
        metadata_props: props
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k),
                value: Some(v),
            })
            .collect(),
        ..Default::default()
    };
    let written = write::write_model(model, out, external_above)?;
    conversion.parameters = parameters;
    conversion.onnx = written.onnx;
    conversion.external_data = written.external_data;
    Ok(conversion)
}

impl Conversion {
    fn empty() -> Conversion {
        Conversion {
            model_type: String::new(),
            architecture: String::new(),
            builder_version: BUILDER_VERSION,
            opset: OPSET,
            parameters: 0,
            dim: 0,
            classes: None,
            max_sequence: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            onnx: PathBuf::new(),
            external_data: None,
        }
    }
}
