//! Hugging Face checkpoints to ONNX, built in Rust: no Python, no PyTorch.
//!
//! [`convert_checkpoint`] reads `config.json` into a validated [`TextConfig`],
//! opens `model.safetensors` (header validated, tensors read one at a time),
//! builds the encoder graph (opset 17, `LayerNormalization`, exact GELU through
//! `Erf`) and writes it, streaming the weights, with external data past
//! [`EXTERNAL_DATA_ABOVE`]. [`derived`] keeps such conversions of pulled models
//! in the store and gives the commands a runnable view of them.

mod builder;
mod checkpoint;
mod config;
pub mod derived;
mod error;
mod sentence;
mod text;
mod weights;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;
use zoo_onnx::proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto};

pub use checkpoint::Checkpoint;
pub use config::{Activation, Family, SUPPORTED_MODEL_TYPES, TextConfig};
pub use error::{ConvertError, Result};
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
    pub model_type: String,
    pub builder_version: u32,
    pub opset: i64,
    pub parameters: u64,
    pub hidden_size: usize,
    pub layers: usize,
    /// The longest token sequence the position embeddings allow.
    pub max_sequence: usize,
    pub inputs: Vec<String>,
    pub output: String,
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
    let config = TextConfig::read(config)?;
    let checkpoint = Checkpoint::open(weights)?;
    let weights = weights::Weights::new(&checkpoint, config.family.root());
    let (graph, parameters) = text::build(&config, &weights)?;
    let mut props = vec![
        (
            "zoo.converter".to_owned(),
            format!("zoo-convert {BUILDER_VERSION}"),
        ),
        ("zoo.model_type".to_owned(), config.model_type.clone()),
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
            "{} encoder converted from safetensors by zoo-convert {BUILDER_VERSION}",
            config.model_type
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
    Ok(Conversion {
        model_type: config.model_type.clone(),
        builder_version: BUILDER_VERSION,
        opset: OPSET,
        parameters,
        hidden_size: config.hidden_size,
        layers: config.num_layers,
        max_sequence: config.max_sequence(),
        inputs: input_names(config.family)
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        output: LAST_HIDDEN_STATE.to_owned(),
        onnx: written.onnx,
        external_data: written.external_data,
    })
}
