//! After a pull, the rest of a hub card is read from the model's own files:
//! the sha256 of each small file pinned by its git blob id, and, when the
//! repository holds an ONNX graph zoo can feed, the inputs, outputs and
//! preprocessing that `zoo predict`, `zoo embed` and `zoo finetune` need,
//! from `config.json`, `preprocessor_config.json`, `tokenizer_config.json`,
//! sentence-transformers' module configs and the graph's signature; or, for a
//! safetensors checkpoint zoo converts, when it is converted.

use std::path::Path;

use serde_json::Value;
use zoo_fetch::PullReport;
use zoo_onnx::{Dim as OnnxDim, Signature, TensorSignature};
use zoo_registry::card::{
    ChannelOrder, DType, Dim, FieldOrigin, FileFormat, FileRole, ImagePreprocessing, Io, Layout,
    OutputKind, OutputSpec, Pooling, Preprocessing, ResizeMode, TensorSpec, TextPreprocessing,
};
use zoo_registry::{Card, Task};
use zoo_types::{ClassName, RelPath, Sha256Hex};

use crate::error::HubError;

/// Config files are small (a tokenizer config with thousands of added tokens
/// is a few MiB); a larger one is not a config.
const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Token sequences longer than this are not fed whatever a config claims.
const MAX_SEQUENCE: u64 = 8192;

/// The completed card, and the class names for its labels file.
#[derive(Debug, Clone)]
pub struct Completed {
    pub card: Card,
    pub labels: Option<Vec<ClassName>>,
}

/// Fill in what the pulled files of `card` (the pull's report, and its
/// files in `pulled.dir`) say.
pub fn complete(card: &Card, pulled: &PullReport) -> Result<Completed, HubError> {
    let dir = pulled.dir.as_path();
    let mut card = card.clone();
    for f in &mut card.files {
        if f.sha256.is_none() && f.git_blob.is_some() {
            // The digest of the bytes the pull checked against the git blob
            // id, not of the file in the store read again now: a concurrent
            // pull of another commit may have replaced it since.
            let sha = pulled
                .files
                .iter()
                .find(|r| r.path == f.path.as_str())
                .ok_or_else(|| {
                    HubError::Invalid(format!("the pull did not report '{}'", f.path))
                })?;
            f.sha256 =
                Some(Sha256Hex::parse(&sha.sha256).map_err(|e| HubError::Invalid(e.to_string()))?);
        }
    }
    let configs = Configs::read(&card, dir);
    let outcome = describe_io(&card, dir, &configs)
        .or_else(|why| convertible(&card, dir, &configs).ok_or(why));
    let hub = card
        .hub
        .as_mut()
        .ok_or_else(|| HubError::Invalid(format!("'{}' was not made from the hub", card.name)))?;
    let labels = match outcome {
        Ok(found) => {
            for (field, origin) in found.origins {
                hub.fields.insert(field.to_owned(), origin);
            }
            hub.runnable = true;
            hub.not_runnable_because = None;
            if found.labels.is_some() {
                card.io = Some(Io {
                    labels: Some(card.name.to_string()),
                    ..found.io
                });
            } else {
                card.io = Some(found.io);
            }
            found.labels
        }
        Err(why) => {
            hub.runnable = false;
            hub.not_runnable_because = Some(why);
            card.io = None;
            None
        }
    };
    Ok(Completed { card, labels })
}

/// The JSON configs a repository may carry, each read bounded and parsed.
struct Configs {
    config: Option<Value>,
    preprocessor: Option<Value>,
    tokenizer: Option<Value>,
    sentence_bert: Option<Value>,
    modules: Option<Value>,
    pooling: Option<Value>,
}

impl Configs {
    fn read(card: &Card, dir: &Path) -> Configs {
        let read = |name: &str| -> Option<Value> {
            card.file(name)?;
            let path = RelPath::parse(name).ok()?.join_to(dir);
            let text = zoo_fs::read_to_string_bounded(&path, MAX_CONFIG_BYTES).ok()?;
            serde_json::from_str(&text).ok()
        };
        let modules = read("modules.json");
        // The pooling module's folder, as modules.json names it (`1_Pooling`).
        let pooling_dir = modules.as_ref().and_then(|m| {
            m.as_array()?.iter().find_map(|module| {
                let ty = module.get("type")?.as_str()?;
                ty.ends_with("models.Pooling")
                    .then(|| module.get("path")?.as_str().map(str::to_owned))?
            })
        });
        let pooling = pooling_dir
            .and_then(|d| read(&format!("{d}/config.json")))
            .or_else(|| read("1_Pooling/config.json"));
        Configs {
            config: read("config.json"),
            preprocessor: read("preprocessor_config.json"),
            tokenizer: read("tokenizer_config.json"),
            sentence_bert: read("sentence_bert_config.json"),
            modules,
            pooling,
        }
    }
}

struct Found {
    io: Io,
    labels: Option<Vec<ClassName>>,
    origins: Vec<(&'static str, FieldOrigin)>,
}

/// A repository without an ONNX export whose safetensors checkpoint zoo
/// converts on first use (docs/convert.md): an encoder for text embedding, a
/// ResNet for image classification (class names from `id2label`). The rest of
/// its io section is filled in from its files when it is converted.
fn convertible(card: &Card, dir: &Path, configs: &Configs) -> Option<Found> {
    if !zoo_convert::derived::is_convertible(card) || zoo_convert::unsupported_module(dir).is_some()
    {
        return None;
    }
    let config = zoo_convert::ModelConfig::read(&dir.join("config.json")).ok()?;
    let labels = match (card.task, config) {
        (Task::TextEmbedding, zoo_convert::ModelConfig::Text(_)) => None,
        (Task::ImageClassification, zoo_convert::ModelConfig::ResNet(_)) => {
            Some(labels_from(configs).ok()?)
        }
        _ => return None,
    };
    Some(Found {
        io: Io {
            inputs: Vec::new(),
            outputs: Vec::new(),
            preprocessing: None,
            labels: None,
        },
        labels,
        origins: Vec::new(),
    })
}

/// The io section for a model zoo can run, or why it cannot.
fn describe_io(card: &Card, dir: &Path, configs: &Configs) -> Result<Found, String> {
    let onnx = card
        .files
        .iter()
        .find(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
        .ok_or_else(|| {
            "the repository has no ONNX export among the pulled files, and no single-file \
             safetensors checkpoint of an architecture zoo converts (docs/convert.md): it can \
             be pulled and audited, not run"
                .to_owned()
        })?;
    let signature = zoo_onnx::signature(onnx.path.join_to(dir))
        .map_err(|e| format!("its ONNX graph could not be read: {e}"))?;
    for t in signature.inputs.iter().chain(&signature.outputs) {
        if t.name.is_empty() || t.name.len() > 200 || t.name.chars().any(zoo_types::is_unsafe_char)
        {
            return Err("its ONNX graph has unprintable input or output names".to_owned());
        }
    }
    match card.task {
        Task::TextEmbedding => text_embedding(card, &signature, configs),
        Task::TextClassification => text_classification(card, &signature, configs),
        Task::ImageClassification => image_classification(&signature, configs),
        other => Err(format!(
            "zoo has no pipeline for the task '{}' yet: it can be pulled and audited, not run",
            card.hub
                .as_ref()
                .and_then(|h| h.pipeline_tag.clone())
                .unwrap_or_else(|| other.to_string())
        )),
    }
}

fn text_embedding(card: &Card, sig: &Signature, configs: &Configs) -> Result<Found, String> {
    let (inputs, text, mut origins) = text_inputs(card, sig, configs)?;
    let out = ["token_embeddings", "last_hidden_state"]
        .iter()
        .find_map(|n| sig.outputs.iter().find(|o| o.name == *n))
        .map(|o| (o, OutputKind::TokenEmbeddings))
        .or_else(|| {
            sig.outputs
                .iter()
                .find(|o| o.name == "sentence_embedding")
                .map(|o| (o, OutputKind::Embedding))
        })
        .ok_or_else(|| {
            "its ONNX graph has no last_hidden_state, token_embeddings or sentence_embedding \
             output to embed with"
                .to_owned()
        })?;
    let dim = last_fixed(out.0).or_else(|| int(configs.config.as_ref(), "hidden_size"));
    origins.push(("io.outputs", FieldOrigin::OnnxGraph));
    Ok(Found {
        io: Io {
            inputs,
            outputs: vec![OutputSpec {
                name: out.0.name.clone(),
                kind: out.1,
                dim,
            }],
            preprocessing: Some(Preprocessing::Text(text)),
            labels: None,
        },
        labels: None,
        origins,
    })
}

fn text_classification(card: &Card, sig: &Signature, configs: &Configs) -> Result<Found, String> {
    let (inputs, mut text, mut origins) = text_inputs(card, sig, configs)?;
    text.pooling = None;
    text.normalize = false;
    let out = sig
        .outputs
        .iter()
        .find(|o| o.name == "logits")
        .ok_or_else(|| "its ONNX graph has no logits output".to_owned())?;
    let labels = labels_from(configs)?;
    origins.push(("io.outputs", FieldOrigin::OnnxGraph));
    origins.push(("io.labels", FieldOrigin::ConfigJson));
    Ok(Found {
        io: Io {
            inputs,
            outputs: vec![OutputSpec {
                name: out.name.clone(),
                kind: OutputKind::Logits,
                dim: Some(labels.len() as u64),
            }],
            preprocessing: Some(Preprocessing::Text(text)),
            labels: None,
        },
        labels: Some(labels),
        origins,
    })
}

type TextParts = (
    Vec<TensorSpec>,
    TextPreprocessing,
    Vec<(&'static str, FieldOrigin)>,
);

/// Token inputs and the tokenizer settings shared by the text tasks.
fn text_inputs(card: &Card, sig: &Signature, configs: &Configs) -> Result<TextParts, String> {
    let tokenizer = card
        .files
        .iter()
        .find(|f| f.path.file_name() == "tokenizer.json" && f.path.depth() == 1)
        .ok_or_else(|| "the repository has no tokenizer.json for zoo's tokenizer".to_owned())?;
    let mut inputs: Vec<TensorSpec> = Vec::new();
    for i in &sig.inputs {
        // A graph may declare a name any number of times; the card gets each once.
        if inputs.iter().any(|t| t.name == i.name) {
            return Err(format!(
                "its ONNX graph declares the input '{}' twice",
                i.name
            ));
        }
        if !matches!(
            i.name.as_str(),
            "input_ids" | "attention_mask" | "token_type_ids"
        ) {
            return Err(format!(
                "its ONNX graph takes an input zoo cannot feed: '{}'",
                i.name
            ));
        }
        let dtype = match i.elem_type {
            Some(7) => DType::Int64,
            Some(6) => DType::Int32,
            _ => return Err(format!("input '{}' is not int64 or int32", i.name)),
        };
        inputs.push(TensorSpec {
            name: i.name.clone(),
            dtype,
            shape: vec![
                Dim::Symbolic("batch".into()),
                Dim::Symbolic("sequence".into()),
            ],
            layout: Some(Layout::Ns),
        });
    }
    if !inputs.iter().any(|i| i.name == "input_ids") {
        return Err("its ONNX graph has no input_ids input".to_owned());
    }
    let mut origins = vec![("io.inputs", FieldOrigin::OnnxGraph)];
    // A length of 0 would feed empty sequences: a config saying so says nothing.
    let length = |v: Option<&Value>, key: &str| int(v, key).filter(|n| *n > 0);
    let positions = length(configs.config.as_ref(), "max_position_embeddings");
    let (max_length, origin) = match length(configs.sentence_bert.as_ref(), "max_seq_length") {
        Some(n) => (n, FieldOrigin::SentenceTransformers),
        None => match length(configs.tokenizer.as_ref(), "model_max_length")
            .filter(|n| *n <= MAX_SEQUENCE)
        {
            Some(n) => (n, FieldOrigin::TokenizerConfig),
            None => (positions.unwrap_or(512), FieldOrigin::ConfigJson),
        },
    };
    let max_length = max_length
        .min(positions.unwrap_or(MAX_SEQUENCE))
        .min(MAX_SEQUENCE);
    origins.push(("io.preprocessing.max_length", origin));
    let pooling = match &configs.pooling {
        Some(p) => {
            origins.push((
                "io.preprocessing.pooling",
                FieldOrigin::SentenceTransformers,
            ));
            if flag(p, "pooling_mode_cls_token") {
                Pooling::Cls
            } else if flag(p, "pooling_mode_max_tokens") {
                Pooling::Max
            } else {
                Pooling::Mean
            }
        }
        None => {
            // Mean pooling over the attention mask is what sentence-transformers
            // does when a model names no pooling; the card records zoo chose it.
            origins.push(("io.preprocessing.pooling", FieldOrigin::Zoo));
            Pooling::Mean
        }
    };
    let normalize = configs
        .modules
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|m| {
            m.iter().any(|module| {
                module
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("models.Normalize"))
            })
        });
    origins.push((
        "io.preprocessing.normalize",
        FieldOrigin::SentenceTransformers,
    ));
    Ok((
        inputs,
        TextPreprocessing {
            tokenizer: tokenizer.path.clone(),
            max_length: max_length as u32,
            pooling: Some(pooling),
            normalize,
        },
        origins,
    ))
}

fn image_classification(sig: &Signature, configs: &Configs) -> Result<Found, String> {
    let pre = configs.preprocessor.as_ref().ok_or_else(|| {
        "the repository has no preprocessor_config.json to prepare images with".to_owned()
    })?;
    let [input] = sig.inputs.as_slice() else {
        return Err(
            "its ONNX graph takes more than one input; zoo feeds one image tensor".to_owned(),
        );
    };
    if input.elem_type != Some(1) || input.dims.len() != 4 {
        return Err(format!(
            "input '{}' is not a float32 image batch [N, C, H, W] or [N, H, W, C]",
            input.name
        ));
    }
    // Transformers exports are [N, 3, H, W]; TensorFlow-born graphs [N, H, W, 3].
    let layout = match input.dims.as_slice() {
        [_, _, _, OnnxDim::Fixed(3)] => Layout::Nhwc,
        _ => Layout::Nchw,
    };
    let out = sig
        .outputs
        .iter()
        .find(|o| o.name == "logits")
        .or(sig.outputs.first())
        .ok_or_else(|| "its ONNX graph has no output".to_owned())?;
    let size = pre.get("size");
    let edge = size.and_then(|s| int(Some(s), "shortest_edge"));
    let (h, w) = (
        size.and_then(|s| int(Some(s), "height")),
        size.and_then(|s| int(Some(s), "width")),
    );
    let (resize, mode) = match (edge, h, w, size.and_then(Value::as_u64)) {
        (Some(e), _, _, _) => (e, ResizeMode::ShorterSide),
        (None, Some(h), Some(w), _) if h == w => (h, ResizeMode::Exact),
        (None, None, None, Some(n)) => (n, ResizeMode::Exact),
        _ => return Err("preprocessor_config.json gives no square size zoo can use".to_owned()),
    };
    let crop = if pre
        .get("do_center_crop")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        let c = pre.get("crop_size");
        c.and_then(|c| int(Some(c), "height"))
            .or_else(|| c.and_then(Value::as_u64))
            .unwrap_or(resize)
    } else {
        resize
    };
    // Checked as u32 values, not truncated to them: 2^32 + 224 is not 224.
    let side = |n: u64| {
        u32::try_from(n).map_err(|_| {
            format!("preprocessor_config.json: the image size {n} is not one zoo can use")
        })
    };
    let (resize, crop) = (side(resize)?, side(crop)?);
    zoo_registry::check_image_sizes(resize, crop)?;
    let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3], String> {
        match pre.get(key) {
            None => Ok(default),
            Some(Value::Array(v)) if v.len() == 3 => {
                let mut out = [0f32; 3];
                for (o, x) in out.iter_mut().zip(v) {
                    *o = x
                        .as_f64()
                        .map(|x| x as f32)
                        .filter(|x| x.is_finite())
                        .ok_or(format!("{key} must be numbers"))?;
                }
                Ok(out)
            }
            Some(_) => Err(format!(
                "preprocessor_config.json: {key} must be three numbers"
            )),
        }
    };
    let normalize = pre
        .get("do_normalize")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let (mean, std) = if normalize {
        (
            triple("image_mean", [0.5; 3])?,
            triple("image_std", [0.5; 3])?,
        )
    } else {
        ([0.0; 3], [1.0; 3])
    };
    if std.iter().any(|s| !s.is_normal()) {
        return Err("preprocessor_config.json: image_std must be non-zero".to_owned());
    }
    let scale = if pre
        .get("do_rescale")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        pre.get("rescale_factor")
            .and_then(Value::as_f64)
            .unwrap_or(1.0 / 255.0) as f32
    } else {
        1.0
    };
    if !scale.is_finite() {
        return Err("preprocessor_config.json: rescale_factor is out of range".to_owned());
    }
    let labels = labels_from(configs)?;
    let channel_axis = if layout == Layout::Nchw { 1 } else { 3 };
    let shape = input
        .dims
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            OnnxDim::Fixed(n) => Dim::Fixed(*n),
            // The graph's own name for the batch axis, when it is a plain
            // token: the card check refuses control characters, and a pull
            // must not fail on how a graph names an axis.
            OnnxDim::Symbolic(s) if i == 0 && crate::info::token(s).is_some() => {
                Dim::Symbolic(s.clone())
            }
            _ if i == 0 => Dim::Symbolic("batch".into()),
            _ if i == channel_axis => Dim::Fixed(3),
            _ => Dim::Fixed(i64::from(crop)),
        })
        .collect();
    Ok(Found {
        io: Io {
            inputs: vec![TensorSpec {
                name: input.name.clone(),
                dtype: DType::Float32,
                shape,
                layout: Some(layout),
            }],
            outputs: vec![OutputSpec {
                name: out.name.clone(),
                kind: scores_kind(out),
                dim: Some(labels.len() as u64),
            }],
            preprocessing: Some(Preprocessing::Image(ImagePreprocessing {
                resize,
                resize_mode: mode,
                crop,
                mean,
                std,
                scale,
                channel_order: ChannelOrder::Rgb,
                layout,
            })),
            labels: None,
        },
        labels: Some(labels),
        origins: vec![
            ("io.inputs", FieldOrigin::OnnxGraph),
            ("io.outputs", FieldOrigin::OnnxGraph),
            ("io.preprocessing", FieldOrigin::PreprocessorConfig),
            ("io.labels", FieldOrigin::ConfigJson),
        ],
    })
}

/// `id2label` of config.json in index order, each a valid class name.
fn labels_from(configs: &Configs) -> Result<Vec<ClassName>, String> {
    let map = configs
        .config
        .as_ref()
        .and_then(|c| c.get("id2label"))
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| "config.json has no id2label to name the classes".to_owned())?;
    let mut out = Vec::with_capacity(map.len());
    for i in 0..map.len() {
        let label = map
            .get(&i.to_string())
            .and_then(Value::as_str)
            .ok_or_else(|| format!("config.json id2label has no label for class {i}"))?;
        out.push(ClassName::parse(label).map_err(|e| format!("config.json id2label: {e}"))?);
    }
    Ok(out)
}

/// Probabilities when the graph ends in a softmax, else logits (softmaxed by
/// zoo at prediction time).
fn scores_kind(out: &TensorSignature) -> OutputKind {
    match out.producer.as_deref() {
        Some("Softmax") => OutputKind::Probabilities,
        _ => OutputKind::Logits,
    }
}

fn int(v: Option<&Value>, key: &str) -> Option<u64> {
    v?.get(key)?.as_u64()
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn last_fixed(t: &TensorSignature) -> Option<u64> {
    match t.dims.last()? {
        OnnxDim::Fixed(n) if *n > 0 => Some(*n as u64),
        _ => None,
    }
}
