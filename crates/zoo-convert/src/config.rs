//! config.json of a Hugging Face text encoder, read into a validated
//! [`TextConfig`]: every field the graph depends on is present, of the right
//! type and within bounds, or the error names the field and what it should be.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ConvertError, Result};
use crate::resnet::ResNetConfig;

/// config.json files are a few KiB; anything near this is not a config.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// model_type values zoo builds graphs for.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &[
    "bert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "distilbert",
    "mpnet",
    "resnet",
];
/// Known text encoders zoo cannot build yet: a "not supported yet" error.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "deberta",
    "deberta-v2",
    "electra",
    "albert",
    "xlnet",
    "modernbert",
    "nomic_bert",
];

/// The naming and embedding scheme of an encoder family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// BERT, MiniLM, BGE, E5: absolute positions 0.., token type embeddings.
    Bert,
    /// RoBERTa, XLM-RoBERTa, CamemBERT: positions start after padding_idx and
    /// skip padding; a single token type.
    Roberta,
    /// DistilBERT: no token types, its own weight names.
    DistilBert,
    /// MPNet (all-mpnet-base-v2): RoBERTa's positions, no token types, and a
    /// bucketed relative position bias shared by every layer's attention.
    MpNet,
}

impl Family {
    /// The model prefix checkpoints of this family may carry (`bert.` ...).
    pub fn root(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::DistilBert => "distilbert",
            Family::MpNet => "mpnet",
        }
    }

    /// Whether positions count from `pad_token_id + 1`, skipping padding.
    pub fn padding_aware_positions(self) -> bool {
        matches!(self, Family::Roberta | Family::MpNet)
    }

    pub fn has_token_types(self) -> bool {
        self == Family::Bert
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` through `Erf`.
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
    Silu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextConfig {
    pub model_type: String,
    pub family: Family,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_heads: usize,
    pub num_layers: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
    pub layer_norm_eps: f32,
    pub max_positions: usize,
    /// Rows of the token type embedding (BERT, RoBERTa; 0 for DistilBERT and MPNet).
    pub type_vocab_size: usize,
    pub pad_token_id: i64,
    /// MPNet: buckets of the relative position bias.
    pub relative_buckets: usize,
}

impl TextConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// The longest input the position embeddings allow (RoBERTa's start after
    /// the padding index).
    pub fn max_sequence(&self) -> usize {
        match self.family {
            Family::Roberta | Family::MpNet => self
                .max_positions
                .saturating_sub(self.pad_token_id as usize + 1),
            _ => self.max_positions,
        }
    }

    pub fn read(path: &Path) -> Result<TextConfig> {
        match ModelConfig::read(path)? {
            ModelConfig::Text(c) => Ok(c),
            ModelConfig::ResNet(_) => Err(ConvertError::Config {
                path: path.to_owned(),
                field: "model_type".into(),
                message: "describes an image model, not a text encoder".into(),
            }),
        }
    }
}

/// What config.json describes.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    Text(TextConfig),
    ResNet(ResNetConfig),
}

impl ModelConfig {
    pub fn read(path: &Path) -> Result<ModelConfig> {
        let bytes = zoo_fs::read_bounded(path, MAX_CONFIG_BYTES).map_err(ConvertError::io(path))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ConvertError::Config {
            path: path.to_owned(),
            field: "(file)".into(),
            message: format!("not valid JSON: {e}"),
        })?;
        let Value::Object(map) = value else {
            return Err(ConvertError::Config {
                path: path.to_owned(),
                field: "(file)".into(),
                message: "not a JSON object".into(),
            });
        };
        let fields = Fields { path, map: &map };
        let timm = fields
            .string("architecture")?
            .is_some_and(|a| a.starts_with("resnet"));
        match fields.string("model_type")? {
            Some("resnet") => Ok(ModelConfig::ResNet(ResNetConfig::from_transformers(
                &fields, &map,
            )?)),
            None if timm => Ok(ModelConfig::ResNet(ResNetConfig::from_timm(&fields, &map)?)),
            _ => Ok(ModelConfig::Text(fields.text_config()?)),
        }
    }
}

pub(crate) struct Fields<'a> {
    path: &'a Path,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    pub(crate) fn bad(&self, field: &str, message: impl Into<String>) -> ConvertError {
        ConvertError::Config {
            path: self.path.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn string(&self, field: &str) -> Result<Option<&str>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.bad(field, format!("expected a string, found {other}"))),
        }
    }

    /// An integer in `min..=max`, or `default` when absent (`None`: required).
    pub(crate) fn int(&self, field: &str, min: i64, max: i64, default: Option<i64>) -> Result<i64> {
        let value = match self.map.get(field) {
            None | Some(Value::Null) => {
                return default.ok_or_else(|| self.bad(field, "missing; it is required"));
            }
            Some(v) => v,
        };
        let n = value
            .as_i64()
            .ok_or_else(|| self.bad(field, format!("expected an integer, found {value}")))?;
        if !(min..=max).contains(&n) {
            return Err(self.bad(field, format!("{n} is outside {min}..={max}")));
        }
        Ok(n)
    }

    /// A list of exactly `count` integers in `1..=max`.
    pub(crate) fn sizes(&self, field: &str, count: usize, max: i64) -> Result<Vec<usize>> {
        let values = match self.map.get(field) {
            Some(Value::Array(values)) => values,
            Some(other) => return Err(self.bad(field, format!("expected a list, found {other}"))),
            None => return Err(self.bad(field, "missing; it is required")),
        };
        if values.len() != count {
            return Err(self.bad(
                field,
                format!("has {} entries; expected {count}", values.len()),
            ));
        }
        values
            .iter()
            .map(|v| match v.as_i64() {
                Some(n) if (1..=max).contains(&n) => Ok(n as usize),
                _ => Err(self.bad(field, format!("{v} is not an integer in 1..={max}"))),
            })
            .collect()
    }

    fn size(&self, field: &str, max: i64) -> Result<usize> {
        Ok(self.int(field, 1, max, None)? as usize)
    }

    fn text_config(&self) -> Result<TextConfig> {
        let model_type = self
            .string("model_type")?
            .ok_or_else(|| {
                self.bad(
                    "model_type",
                    "missing; zoo needs it to pick the architecture",
                )
            })?
            .to_owned();
        let family = match model_type.as_str() {
            "bert" => Family::Bert,
            "roberta" | "xlm-roberta" | "camembert" => Family::Roberta,
            "distilbert" => Family::DistilBert,
            "mpnet" => Family::MpNet,
            other => {
                return Err(ConvertError::UnsupportedModelType {
                    path: self.path.to_owned(),
                    found: other.to_owned(),
                    known: KNOWN_UNSUPPORTED.contains(&other),
                    supported: SUPPORTED_MODEL_TYPES
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                });
            }
        };
        if family == Family::DistilBert {
            return self.distilbert(model_type);
        }
        if let Some(kind) = self.string("position_embedding_type")?
            && kind != "absolute"
        {
            return Err(self.bad(
                "position_embedding_type",
                format!("`{kind}` is not supported; zoo builds `absolute` position embeddings"),
            ));
        }
        let hidden_size = self.size("hidden_size", 1 << 16)?;
        let num_heads = self.size("num_attention_heads", 1024)?;
        let config = TextConfig {
            model_type,
            family,
            vocab_size: self.size("vocab_size", 10_000_000)?,
            hidden_size,
            num_heads,
            num_layers: self.size("num_hidden_layers", 1024)?,
            intermediate_size: self.size("intermediate_size", 1 << 20)?,
            activation: self.activation("hidden_act")?,
            layer_norm_eps: self.eps("layer_norm_eps", 1e-12)?,
            max_positions: self.size("max_position_embeddings", 1 << 20)?,
            type_vocab_size: match family {
                Family::MpNet => 0,
                _ => self.size("type_vocab_size", 1024)?,
            },
            pad_token_id: self.int(
                "pad_token_id",
                0,
                10_000_000,
                Some(if family.padding_aware_positions() {
                    1
                } else {
                    0
                }),
            )?,
            relative_buckets: match family {
                // Halved twice by the bucketing: at least 4.
                Family::MpNet => {
                    self.int("relative_attention_num_buckets", 4, 1024, Some(32))? as usize
                }
                _ => 0,
            },
        };
        self.check_shape(&config, "num_attention_heads")
    }

    fn distilbert(&self, model_type: String) -> Result<TextConfig> {
        let config = TextConfig {
            model_type,
            family: Family::DistilBert,
            vocab_size: self.size("vocab_size", 10_000_000)?,
            hidden_size: self.size("dim", 1 << 16)?,
            num_heads: self.size("n_heads", 1024)?,
            num_layers: self.size("n_layers", 1024)?,
            intermediate_size: self.size("hidden_dim", 1 << 20)?,
            activation: self.activation("activation")?,
            // DistilBERT's LayerNorms are built with a fixed epsilon.
            layer_norm_eps: 1e-12,
            max_positions: self.size("max_position_embeddings", 1 << 20)?,
            type_vocab_size: 0,
            pad_token_id: self.int("pad_token_id", 0, 10_000_000, Some(0))?,
            relative_buckets: 0,
        };
        self.check_shape(&config, "n_heads")
    }

    fn check_shape(&self, config: &TextConfig, heads_field: &str) -> Result<TextConfig> {
        if !config.hidden_size.is_multiple_of(config.num_heads) {
            return Err(self.bad(
                heads_field,
                format!(
                    "the hidden size {} is not divisible by {} heads",
                    config.hidden_size, config.num_heads
                ),
            ));
        }
        if config.pad_token_id as usize >= config.vocab_size {
            return Err(self.bad(
                "pad_token_id",
                format!(
                    "{} is not below vocab_size {}",
                    config.pad_token_id, config.vocab_size
                ),
            ));
        }
        if config.family.padding_aware_positions() && config.max_sequence() == 0 {
            return Err(self.bad(
                "max_position_embeddings",
                "leaves no positions after the padding index",
            ));
        }
        Ok(config.clone())
    }

    fn activation(&self, field: &str) -> Result<Activation> {
        Ok(match self.string(field)?.unwrap_or("gelu") {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            other => {
                return Err(self.bad(
                    field,
                    format!(
                        "activation `{other}` is not supported; expected gelu, gelu_new, \
                         gelu_pytorch_tanh, gelu_fast, relu, silu or swish"
                    ),
                ));
            }
        })
    }

    fn eps(&self, field: &str, default: f32) -> Result<f32> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_f64() {
                Some(e) if e > 0.0 && e < 1.0 => Ok(e as f32),
                _ => Err(self.bad(field, format!("expected a number in (0, 1), found {v}"))),
            },
        }
    }
}
