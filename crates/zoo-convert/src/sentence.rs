//! Text preprocessing for a converted encoder whose card has none: the
//! sentence-transformers files say how token states become one embedding
//! (`1_Pooling/config.json`, a `Normalize` module in `modules.json`) and how
//! long inputs may be (`sentence_bert_config.json`).

use std::path::Path;

use serde_json::Value;
use zoo_registry::Card;
use zoo_registry::card::{FileRole, Pooling, TextPreprocessing};

const MAX_JSON_BYTES: u64 = 1 << 20;

fn read_json(path: &Path) -> Option<Value> {
    let bytes = zoo_fs::read_bounded(path, MAX_JSON_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Preprocessing from the model's own files, or `None` when it has no
/// tokenizer.json (then nothing can feed it text).
pub fn text_preprocessing(
    card: &Card,
    dir: &Path,
    max_sequence: usize,
) -> Option<TextPreprocessing> {
    let tokenizer = card
        .files
        .iter()
        .find(|f| f.role == FileRole::Tokenizer && f.path.ends_with("tokenizer.json"))
        .or_else(|| card.files.iter().find(|f| f.path == "tokenizer.json"))?;
    let pooling_config = read_json(&dir.join("1_Pooling/config.json"));
    let flag = |key: &str| {
        pooling_config
            .as_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let pooling = if flag("pooling_mode_cls_token") {
        Pooling::Cls
    } else if flag("pooling_mode_max_tokens") {
        Pooling::Max
    } else {
        Pooling::Mean
    };
    let normalize = read_json(&dir.join("modules.json"))
        .and_then(|m| m.as_array().cloned())
        .is_some_and(|modules| {
            modules.iter().any(|m| {
                m.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with(".Normalize"))
            })
        });
    let declared = read_json(&dir.join("sentence_bert_config.json"))
        .and_then(|c| c.get("max_seq_length").and_then(Value::as_u64));
    let max_length = declared
        .unwrap_or(512)
        .min(max_sequence as u64)
        .clamp(1, u64::from(u32::MAX));
    Some(TextPreprocessing {
        tokenizer: tokenizer.path.clone(),
        max_length: max_length as u32,
        pooling: Some(pooling),
        normalize,
    })
}

/// The first sentence-transformers module in `modules.json` that zoo's text
/// pipeline does not reproduce (anything but the encoder, pooling and
/// normalisation, e.g. `Dense`), by its type's last name.
pub fn unsupported_module(dir: &Path) -> Option<String> {
    let modules = read_json(&dir.join("modules.json"))?;
    modules.as_array()?.iter().find_map(|m| {
        let ty = m.get("type")?.as_str()?;
        let name = ty.rsplit('.').next().unwrap_or(ty);
        (!matches!(name, "Transformer" | "Pooling" | "Normalize")).then(|| name.to_owned())
    })
}
