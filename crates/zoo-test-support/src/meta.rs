//! What the Hub derives from a repo's files and README front matter: `tags`,
//! `config`, `safetensors` parameter counts, `cardData`, a dataset's
//! `description`. Computed once, when a fixture is added.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use serde_json::{Map, Value, json};

use crate::catalog::{Entry, Source};

/// The safetensors format's own bound on its JSON header (the `safetensors`
/// crate's `MAX_HEADER_SIZE`): a larger claimed length is a broken file.
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;
/// `config.json`, `tokenizer_config.json` and `README.md` are only read up to this size.
const MAX_SMALL_FILE: u64 = 8 << 20;
/// A dataset's `description`: at most this many characters of its README text.
const DESCRIPTION_CHARS: usize = 300;
/// Special tokens the Hub copies from `tokenizer_config.json` into `config.tokenizer_config`.
const TOKENIZER_KEYS: &[&str] = &[
    "bos_token",
    "eos_token",
    "unk_token",
    "pad_token",
    "sep_token",
    "cls_token",
    "mask_token",
    "chat_template",
];
/// `base_model_relation` values the Hub knows.
const RELATIONS: &[&str] = &["adapter", "merge", "quantized", "finetune"];

/// Metadata of one repo, as served in its info.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    /// `cardData`: the declared card data, else a README front matter written as JSON.
    pub card_data: Option<Value>,
    pub pipeline_tag: Option<String>,
    pub library_name: Option<String>,
    pub tags: Vec<String>,
    /// `{architectures, model_type, tokenizer_config?}` from config.json.
    pub config: Option<Value>,
    /// `{parameters: {DTYPE: n}, total: n}` from the safetensors headers.
    pub safetensors: Option<Value>,
    /// Sum of the file sizes (`usedStorage`).
    pub used_storage: u64,
    pub downloads: u64,
    pub likes: u64,
    /// Datasets only.
    pub description: Option<String>,
}

/// What a fixture declares besides its files.
#[derive(Debug)]
pub(crate) struct Declared {
    pub card_data: Option<Value>,
    pub pipeline_tag: Option<String>,
    pub library_name: Option<String>,
    pub tags: Vec<String>,
    pub downloads: u64,
    pub likes: u64,
    pub description: Option<String>,
}

/// The README a repo with card data gets when it has none: the card data as
/// YAML front matter (JSON is YAML's flow style) and a title (the card's
/// `pretty_name` or `model_name`, else the repo's name).
pub(crate) fn generated_readme(id: &str, card: &Value) -> String {
    let title = ["pretty_name", "model_name"]
        .iter()
        .find_map(|k| card.get(*k).and_then(Value::as_str))
        .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
    format!("---\n{card}\n---\n\n# {title}\n")
}

/// The front matter of a README: between a first line `---` and the next `---` line.
pub(crate) fn front_matter(readme: &str) -> Option<&str> {
    split_front_matter(readme).map(|(fm, _)| fm)
}

fn split_front_matter(readme: &str) -> Option<(&str, &str)> {
    let rest = readme.strip_prefix("---")?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut pos = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..pos], &rest[pos + line.len()..]));
        }
        pos += line.len();
    }
    None
}

/// Model metadata, derived as the Hub does.
pub(crate) fn model_meta(declared: Declared, files: &[Entry]) -> Meta {
    let card_data = declared
        .card_data
        .or_else(|| readme(files).as_deref().and_then(card_from_readme));
    let card = card_data.as_ref().and_then(Value::as_object);
    let card_str = |key: &str| card.and_then(|c| c.get(key)).and_then(Value::as_str);
    let pipeline_tag = declared
        .pipeline_tag
        .or_else(|| card_str("pipeline_tag").map(str::to_string));
    let library_name = declared
        .library_name
        .or_else(|| card_str("library_name").map(str::to_string));
    let config = model_config(files);
    let model_type = config
        .as_ref()
        .and_then(|c| c.get("model_type"))
        .and_then(Value::as_str);
    let paths: Vec<&str> = files.iter().map(|e| e.path.as_str()).collect();
    let tags = model_tags(&TagInputs {
        card,
        library: library_name.as_deref(),
        pipeline: pipeline_tag.as_deref(),
        model_type,
        paths: &paths,
        extra: &declared.tags,
    });
    Meta {
        card_data,
        pipeline_tag,
        library_name,
        tags,
        safetensors: safetensors_info(files),
        config,
        used_storage: files.iter().map(|e| e.size).sum(),
        downloads: declared.downloads,
        likes: declared.likes,
        description: None,
    }
}

/// Dataset metadata: `key:value` tags from the card, `description` from the README.
pub(crate) fn dataset_meta(declared: Declared, files: &[Entry]) -> Meta {
    let readme = readme(files);
    let card_data = declared
        .card_data
        .or_else(|| readme.as_deref().and_then(card_from_readme));
    let description = declared
        .description
        .or_else(|| readme.as_deref().and_then(description_of));
    let tags = dataset_tags(
        card_data.as_ref().and_then(Value::as_object),
        &declared.tags,
    );
    Meta {
        card_data,
        tags,
        used_storage: files.iter().map(|e| e.size).sum(),
        downloads: declared.downloads,
        likes: declared.likes,
        description,
        ..Meta::default()
    }
}

fn readme(files: &[Entry]) -> Option<String> {
    let e = files.iter().find(|e| e.path == "README.md")?;
    String::from_utf8(read_small(e)?).ok()
}

/// Front matter written in JSON (flow-style YAML), as generated READMEs have it.
/// Block-style YAML is not parsed: such a repo has no `cardData` unless declared.
fn card_from_readme(readme: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(front_matter(readme)?.trim()).ok()?;
    v.is_object().then_some(v)
}

/// The README's text after the front matter, headings unmarked, whitespace
/// collapsed, cut to [`DESCRIPTION_CHARS`].
fn description_of(readme: &str) -> Option<String> {
    let body = split_front_matter(readme).map_or(readme, |(_, body)| body);
    let text = body
        .lines()
        .flat_map(|l| l.trim().trim_start_matches('#').split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = text.chars().take(DESCRIPTION_CHARS).collect();
    (!text.is_empty()).then_some(text)
}

/// A card value that may be one string or a list of strings.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug)]
pub(crate) struct TagInputs<'a> {
    pub card: Option<&'a Map<String, Value>>,
    pub library: Option<&'a str>,
    pub pipeline: Option<&'a str>,
    pub model_type: Option<&'a str>,
    pub paths: &'a [&'a str],
    pub extra: &'a [String],
}

/// A model's `tags`, in the Hub's order: library, file formats (`pytorch` for
/// `.bin`, `onnx`, `safetensors`, `gguf`), model type, pipeline tag, the card's
/// tags, the extra tags, languages, `dataset:<id>`, `base_model:<id>` then
/// `base_model:<relation>:<id>`, `license:<id>`, `region:us`; no duplicates.
pub(crate) fn model_tags(t: &TagInputs<'_>) -> Vec<String> {
    let card = |key: &str| strings(t.card.and_then(|c| c.get(key)));
    let has_ext = |ext: &str| {
        t.paths
            .iter()
            .any(|p| p.to_ascii_lowercase().ends_with(ext))
    };
    let mut tags: Vec<String> = Vec::new();
    tags.extend(t.library.map(str::to_string));
    for (ext, tag) in [
        (".bin", "pytorch"),
        (".onnx", "onnx"),
        (".safetensors", "safetensors"),
        (".gguf", "gguf"),
    ] {
        if has_ext(ext) {
            tags.push(tag.to_string());
        }
    }
    tags.extend(t.model_type.map(str::to_string));
    tags.extend(t.pipeline.map(str::to_string));
    tags.extend(card("tags"));
    tags.extend(t.extra.iter().cloned());
    tags.extend(card("language"));
    tags.extend(card("datasets").into_iter().map(|d| format!("dataset:{d}")));
    let bases = card("base_model");
    if !bases.is_empty() {
        let declared = t
            .card
            .and_then(|c| c.get("base_model_relation"))
            .and_then(Value::as_str)
            .filter(|r| RELATIONS.contains(r));
        let relation = declared.unwrap_or(if t.paths.contains(&"adapter_config.json") {
            "adapter"
        } else if has_ext(".gguf") {
            "quantized"
        } else if bases.len() > 1 {
            "merge"
        } else {
            "finetune"
        });
        tags.extend(bases.iter().map(|b| format!("base_model:{b}")));
        tags.extend(bases.iter().map(|b| format!("base_model:{relation}:{b}")));
    }
    tags.extend(card("license").into_iter().map(|l| format!("license:{l}")));
    tags.push("region:us".to_string());
    dedup(tags)
}

/// A dataset's `tags`: the card's classification fields as `key:value` (in
/// the Hub's order), the card's tags, the extra tags, `region:us`.
pub(crate) fn dataset_tags(card: Option<&Map<String, Value>>, extra: &[String]) -> Vec<String> {
    let mut tags = Vec::new();
    for key in [
        "task_categories",
        "task_ids",
        "annotations_creators",
        "language_creators",
        "multilinguality",
        "source_datasets",
        "language",
        "license",
        "size_categories",
    ] {
        let values = strings(card.and_then(|c| c.get(key)));
        tags.extend(values.into_iter().map(|v| format!("{key}:{v}")));
    }
    tags.extend(strings(card.and_then(|c| c.get("tags"))));
    tags.extend(extra.iter().cloned());
    tags.push("region:us".to_string());
    dedup(tags)
}

fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// `config`: `architectures` and `model_type` of the root config.json, plus the
/// special tokens of tokenizer_config.json as `tokenizer_config`. `None`
/// without a config.json holding a JSON object.
fn model_config(files: &[Entry]) -> Option<Value> {
    let json_of = |path: &str| -> Option<Map<String, Value>> {
        let e = files.iter().find(|e| e.path == path)?;
        match serde_json::from_slice(&read_small(e)?).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    let config = json_of("config.json")?;
    let mut out = Map::new();
    for key in ["architectures", "model_type"] {
        if let Some(v) = config.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if let Some(tok) = json_of("tokenizer_config.json") {
        let mut special = Map::new();
        for &key in TOKENIZER_KEYS {
            // Either a plain string or an AddedToken object with `content`.
            let text = match tok.get(key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => {
                    o.get("content").and_then(Value::as_str).map(String::from)
                }
                _ => None,
            };
            if let Some(text) = text {
                special.insert(key.to_string(), Value::String(text));
            }
        }
        out.insert("tokenizer_config".to_string(), Value::Object(special));
    }
    Some(Value::Object(out))
}

/// `safetensors`: element counts per dtype over every `.safetensors` file
/// whose header parses; `None` if there is none.
fn safetensors_info(files: &[Entry]) -> Option<Value> {
    let mut parameters: BTreeMap<String, u64> = BTreeMap::new();
    let mut found = false;
    for e in files
        .iter()
        .filter(|e| e.path.to_ascii_lowercase().ends_with(".safetensors"))
    {
        let Some(counts) = safetensors_header(&e.source, e.size)
            .as_deref()
            .and_then(count_parameters)
        else {
            continue;
        };
        found = true;
        for (dtype, n) in counts {
            let slot = parameters.entry(dtype).or_default();
            *slot = slot.saturating_add(n);
        }
    }
    if !found {
        return None;
    }
    let total = parameters.values().fold(0u64, |a, n| a.saturating_add(*n));
    Some(json!({ "parameters": parameters, "total": total }))
}

/// The JSON header of a safetensors file: an 8-byte little-endian length, then
/// that many bytes; `None` when the length is out of bounds. Reads nothing else.
pub(crate) fn safetensors_header(source: &Source, size: u64) -> Option<Vec<u8>> {
    if size < 8 {
        return None;
    }
    let len_bytes: [u8; 8] = read_at(source, 0, 8).ok()?.try_into().ok()?;
    let len = u64::from_le_bytes(len_bytes);
    if len > MAX_SAFETENSORS_HEADER || len > size - 8 {
        return None;
    }
    read_at(source, 8, len).ok()
}

/// Elements per dtype in a safetensors header (`__metadata__` skipped); `None`
/// if any tensor entry lacks a dtype or a shape of non-negative integers, or a
/// count overflows.
pub(crate) fn count_parameters(header: &[u8]) -> Option<BTreeMap<String, u64>> {
    let Value::Object(tensors) = serde_json::from_slice(header).ok()? else {
        return None;
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (name, t) in &tensors {
        if name == "__metadata__" {
            continue;
        }
        let dtype = t.get("dtype")?.as_str()?;
        let mut n = 1u64;
        for dim in t.get("shape")?.as_array()? {
            n = n.checked_mul(dim.as_u64()?)?;
        }
        let slot = counts.entry(dtype.to_string()).or_default();
        *slot = slot.checked_add(n)?;
    }
    Some(counts)
}

fn read_small(e: &Entry) -> Option<Vec<u8>> {
    if e.size > MAX_SMALL_FILE {
        return None;
    }
    read_at(&e.source, 0, e.size).ok()
}

/// `len` bytes of `source` from `start` (fewer if it ends first).
fn read_at(source: &Source, start: u64, len: u64) -> io::Result<Vec<u8>> {
    match source {
        Source::Mem(bytes) => {
            let start = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            Ok(bytes[start..end.min(bytes.len())].to_vec())
        }
        Source::Disk(path) => {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(start))?;
            let mut out = Vec::new();
            file.take(len).read_to_end(&mut out)?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests;
