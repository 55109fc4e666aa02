//! Conversions of pulled models, kept in the store as derived files.
//!
//! A model whose card lists `model.safetensors` and `config.json` but no ONNX
//! graph is converted on first use. The result lives in
//! `ZOO_HOME/store/derived/onnx/<key>/`, where the key is a digest of the
//! builder version, the model name, and the sha256 of the checkpoint and of its
//! config: a new checkpoint or a new builder gives a new folder, never a stale
//! graph. The folder holds `model.onnx` (and `model.onnx.data` for large
//! models), `conversion.json` (the record below) and a link to each of the
//! model's files, so that it can be used exactly like a pulled model's folder
//! by the card [`ConvertedModel::card`] describes. Folders are built under a
//! temporary name and renamed into place: a reader sees a whole one or none.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zoo_registry::Card;
use zoo_registry::card::{
    DType, Dim, FileEntry, FileFormat, FileRole, Io, Layout, OutputKind, OutputSpec, Preprocessing,
    TensorSpec,
};
use zoo_types::{RelPath, Sha256Hex};

use crate::BUILDER_VERSION;
use crate::error::{ConvertError, Result};

const ONNX_FILE: &str = "model.onnx";
const RECORD_FILE: &str = "conversion.json";
const CONFIG_FILE: &str = "config.json";

/// What was converted, from what, by which builder: `conversion.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionRecord {
    pub model: String,
    pub builder_version: u32,
    pub zoo_convert: String,
    /// Card path of the checkpoint and its sha256.
    pub source: String,
    pub source_sha256: String,
    pub config_sha256: String,
    pub model_type: String,
    pub parameters: u64,
    /// Width of the text encoder's token states or of the image features.
    pub dim: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sequence: Option<usize>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub onnx: String,
    pub onnx_sha256: String,
    pub onnx_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_data: Option<String>,
    /// The external-data file's sha256: its bytes are part of the model, so
    /// caches that key on the graph (ONNX Runtime's optimized models) need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_data_sha256: Option<String>,
    pub seconds: f64,
}

/// A converted model, ready to run: `card` describes the files in `dir`.
#[derive(Debug, Clone)]
pub struct ConvertedModel {
    pub card: Card,
    pub dir: PathBuf,
    pub record: ConversionRecord,
    /// Whether the conversion was found in the store rather than made now.
    pub cached: bool,
}

/// The checkpoint and config entries of a card that zoo can convert: it has
/// no ONNX model, one `*.safetensors` weights file and a `config.json`.
fn sources(card: &Card) -> Option<(&FileEntry, &FileEntry)> {
    let has_onnx = card
        .files
        .iter()
        .any(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model);
    let weights = root_checkpoints(card);
    let config = card.files.iter().find(|f| f.path == CONFIG_FILE)?;
    match weights.as_slice() {
        [one] if !has_onnx => Some((one, config)),
        _ => None,
    }
}

/// The model's own checkpoint files: safetensors at the top of the repository
/// (those in folders belong to other modules, such as a sentence-transformers
/// `2_Dense/`).
fn root_checkpoints(card: &Card) -> Vec<&FileEntry> {
    (card.files.iter())
        .filter(|f| f.format == FileFormat::Safetensors && !f.path.contains('/'))
        .collect()
}

/// Whether `card` runs through a conversion (no ONNX, a checkpoint and config).
pub fn is_convertible(card: &Card) -> bool {
    sources(card).is_some()
}

/// Why `card` cannot be converted, for `zoo convert` on such a model.
fn why_not(card: &Card) -> String {
    if card
        .files
        .iter()
        .any(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
    {
        return "it already has an ONNX model; zoo runs that one".into();
    }
    match root_checkpoints(card).len() {
        0 => "its card lists no safetensors checkpoint".into(),
        1 => "its card lists no config.json".into(),
        n => format!(
            "its checkpoint is sharded into {n} safetensors files; zoo converts single-file checkpoints only"
        ),
    }
}

/// The store folder for the conversion of `card`'s checkpoint.
fn folder_key(card: &Card, source_sha256: &str, config_sha256: &str) -> String {
    let key = format!(
        "zoo-convert {BUILDER_VERSION}\n{}\n{source_sha256}\n{config_sha256}\n",
        card.name
    );
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn sha256_of(path: &Path) -> Result<String> {
    zoo_fetch::sha256_file(path)
        .map(|(digest, _)| digest)
        .map_err(|e| ConvertError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// `card` (pulled into `dir`) converted to ONNX, from the store when it was
/// converted before (unless `force`). `starting` is called when a conversion
/// actually starts (to tell the user why the command takes longer). Errors when
/// it cannot be converted.
pub fn convert_pulled(
    card: &Card,
    dir: &Path,
    force: bool,
    starting: &mut dyn FnMut(),
) -> Result<ConvertedModel> {
    let (weights, config) = sources(card).ok_or_else(|| ConvertError::NotConvertible {
        model: card.name.to_string(),
        reason: why_not(card),
    })?;
    if let Some(module) = crate::sentence::unsupported_module(dir) {
        return Err(ConvertError::NotConvertible {
            model: card.name.to_string(),
            reason: format!(
                "its sentence-transformers modules.json has a `{module}` module after the \
                 encoder, which zoo does not run: its embeddings would be wrong"
            ),
        });
    }
    let weights_path = weights.path.join_to(dir);
    let config_path = config.path.join_to(dir);
    // The pull verified the checkpoint against the card's digest.
    let source_sha256 = match &weights.sha256 {
        Some(d) => d.to_string(),
        None => sha256_of(&weights_path)?,
    };
    let config_sha256 = sha256_of(&config_path)?;
    let root = zoo_env::converted_dir();
    let folder = root.join(folder_key(card, &source_sha256, &config_sha256));
    if !force && let Some(record) = read_record(&folder) {
        return Ok(view(card, dir, folder, record, true));
    }

    starting();
    std::fs::create_dir_all(&root).map_err(ConvertError::io(&root))?;
    let tmp = tempdir_in(&root)?;
    let started = Instant::now();
    let metadata = vec![
        ("zoo.source".to_owned(), weights.path.to_string()),
        ("zoo.source_sha256".to_owned(), source_sha256.clone()),
        ("zoo.model".to_owned(), card.name.to_string()),
    ];
    let built = crate::convert_checkpoint(
        &config_path,
        &weights_path,
        &tmp.join(ONNX_FILE),
        &metadata,
        crate::EXTERNAL_DATA_ABOVE,
    );
    let conversion = match built {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let finish = || -> Result<ConversionRecord> {
        let (onnx_sha256, onnx_size) =
            zoo_fetch::sha256_file(&conversion.onnx).map_err(|e| ConvertError::Io {
                path: conversion.onnx.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let external_data_sha256 = match &conversion.external_data {
            Some(data) => Some(
                zoo_fetch::sha256_file(data)
                    .map_err(|e| ConvertError::Io {
                        path: data.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })?
                    .0,
            ),
            None => None,
        };
        let record = ConversionRecord {
            model: card.name.to_string(),
            builder_version: BUILDER_VERSION,
            zoo_convert: env!("CARGO_PKG_VERSION").to_owned(),
            source: weights.path.to_string(),
            source_sha256: source_sha256.clone(),
            config_sha256: config_sha256.clone(),
            model_type: conversion.model_type.clone(),
            parameters: conversion.parameters,
            dim: conversion.dim,
            classes: conversion.classes,
            max_sequence: conversion.max_sequence,
            inputs: conversion.inputs.clone(),
            outputs: conversion.outputs.clone(),
            onnx: ONNX_FILE.to_owned(),
            onnx_sha256,
            onnx_size,
            external_data: conversion
                .external_data
                .as_ref()
                .map(|_| crate::data_file_name(Path::new(ONNX_FILE))),
            external_data_sha256,
            seconds: started.elapsed().as_secs_f64(),
        };
        link_files(card, dir, &tmp)?;
        let json = serde_json::to_vec_pretty(&record).expect("a record serializes");
        let record_path = tmp.join(RECORD_FILE);
        std::fs::write(&record_path, json).map_err(ConvertError::io(&record_path))?;
        if !force && let Some(theirs) = read_record(&folder) {
            // Another process finished the same conversion first: keep its
            // folder (a reader may be opening it), drop ours.
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(theirs);
        }
        if folder.exists() {
            // --force: replace it whole.
            let old = root.join(format!(".old-{}", std::process::id()));
            std::fs::rename(&folder, &old).map_err(ConvertError::io(&folder))?;
            let _ = std::fs::remove_dir_all(&old);
        }
        std::fs::rename(&tmp, &folder).map_err(ConvertError::io(&folder))?;
        Ok(record)
    };
    match finish() {
        Ok(record) => Ok(view(card, dir, folder, record, false)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn read_record(folder: &Path) -> Option<ConversionRecord> {
    let bytes = zoo_fs::read_bounded(&folder.join(RECORD_FILE), 1 << 20).ok()?;
    let record: ConversionRecord = serde_json::from_slice(&bytes).ok()?;
    // A record that does not describe the folder's graph (another builder, a
    // file of another size) is no conversion: it is built again.
    let size = std::fs::metadata(folder.join(ONNX_FILE))
        .ok()
        .map(|m| m.len());
    (record.builder_version == BUILDER_VERSION
        && record.onnx == ONNX_FILE
        && size == Some(record.onnx_size))
    .then_some(record)
}

fn tempdir_in(root: &Path) -> Result<PathBuf> {
    for n in 0..1000u32 {
        let path = root.join(format!(".tmp-{}-{n}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ConvertError::io(&path)(e)),
        }
    }
    Err(ConvertError::io(root)(std::io::Error::other(
        "no free temporary folder name",
    )))
}

/// Links each of the model's files into `folder` at its card path.
fn link_files(card: &Card, dir: &Path, folder: &Path) -> Result<()> {
    for f in &card.files {
        if f.path == ONNX_FILE || f.path == RECORD_FILE {
            return Err(ConvertError::NotConvertible {
                model: card.name.to_string(),
                reason: format!(
                    "its card already has a file at `{}`, where the conversion goes",
                    f.path
                ),
            });
        }
        let target = std::path::absolute(f.path.join_to(dir)).map_err(ConvertError::io(dir))?;
        let link = f.path.join_to(folder);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(ConvertError::io(parent))?;
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).map_err(ConvertError::io(&link))?;
        #[cfg(not(unix))]
        std::fs::copy(&target, &link).map_err(ConvertError::io(&link))?;
    }
    Ok(())
}

/// The card of the converted model: the ONNX file added, its inputs and
/// output declared, text preprocessing from the sentence-transformers files
/// when the card has none, and the conversion in its provenance.
fn view(
    card: &Card,
    dir: &Path,
    folder: PathBuf,
    record: ConversionRecord,
    cached: bool,
) -> ConvertedModel {
    let mut card = card.clone();
    card.files.push(FileEntry {
        path: RelPath::parse(&record.onnx).expect("a constant relative path"),
        sha256: Sha256Hex::parse(&record.onnx_sha256).ok(),
        git_blob: None,
        size: Some(record.onnx_size),
        format: FileFormat::Onnx,
        role: FileRole::Model,
    });
    if let Some(data) = &record.external_data {
        card.files.push(FileEntry {
            path: RelPath::parse(data).expect("a constant relative path"),
            // Recorded with every conversion that writes external data.
            sha256: (record.external_data_sha256.as_deref()).and_then(|d| Sha256Hex::parse(d).ok()),
            git_blob: None,
            size: None,
            format: FileFormat::OnnxData,
            role: FileRole::Weights,
        });
    }
    let io = card.io.get_or_insert_with(|| Io {
        inputs: Vec::new(),
        outputs: Vec::new(),
        preprocessing: None,
        labels: None,
    });
    let image = record.classes.is_some();
    if io.inputs.is_empty() {
        io.inputs = record
            .inputs
            .iter()
            .map(|name| match image {
                true => TensorSpec {
                    name: name.clone(),
                    dtype: DType::Float32,
                    shape: ["batch", "3", "height", "width"]
                        .iter()
                        .map(|d| match d.parse() {
                            Ok(n) => Dim::Fixed(n),
                            Err(_) => Dim::Symbolic((*d).into()),
                        })
                        .collect(),
                    layout: Some(Layout::Nchw),
                },
                false => TensorSpec {
                    name: name.clone(),
                    dtype: DType::Int64,
                    shape: vec![
                        Dim::Symbolic("batch".into()),
                        Dim::Symbolic("sequence".into()),
                    ],
                    layout: Some(Layout::Ns),
                },
            })
            .collect();
    }
    if io.outputs.is_empty() {
        io.outputs = match record.classes {
            Some(classes) => vec![
                OutputSpec {
                    name: crate::LOGITS.into(),
                    kind: OutputKind::Logits,
                    dim: Some(classes as u64),
                },
                OutputSpec {
                    name: crate::FEATURES.into(),
                    kind: OutputKind::Features,
                    dim: Some(record.dim as u64),
                },
            ],
            None => vec![OutputSpec {
                name: crate::LAST_HIDDEN_STATE.into(),
                kind: OutputKind::TokenEmbeddings,
                dim: Some(record.dim as u64),
            }],
        };
    }
    if io.preprocessing.is_none() {
        let derived = match record.max_sequence {
            Some(max_sequence) => crate::sentence::text_preprocessing(&card, dir, max_sequence)
                .map(Preprocessing::Text),
            None => crate::image::image_preprocessing(dir).map(Preprocessing::Image),
        };
        card.io.as_mut().expect("set above").preprocessing = derived;
    }
    card.provenance.converted_from = Some(describe(&record));
    ConvertedModel {
        card,
        dir: folder,
        record,
        cached,
    }
}

/// One line for the card's provenance and `zoo audit`.
pub fn describe(record: &ConversionRecord) -> String {
    format!(
        "{} (sha256 {}) converted to ONNX by zoo-convert builder {}",
        record.source, record.source_sha256, record.builder_version
    )
}

/// The conversion record of `card`'s checkpoint when one is in the store.
pub fn find_record(card: &Card, dir: &Path) -> Option<ConversionRecord> {
    let (weights, config) = sources(card)?;
    let source_sha256 = weights.sha256.as_ref()?.to_string();
    let config_sha256 = sha256_of(&config.path.join_to(dir)).ok()?;
    read_record(&zoo_env::converted_dir().join(folder_key(card, &source_sha256, &config_sha256)))
}

/// What [`collect_garbage`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Collected {
    pub removed_conversions: usize,
    pub freed_bytes: u64,
}

/// Removes conversions nothing can use any more: of a model no longer pulled,
/// of a checkpoint the model no longer has (pulled again with new weights), or
/// made by another builder version; and folders a killed `--force` left.
/// Conversions in progress (temporary folders) are left alone.
pub fn collect_garbage(store: &zoo_fetch::Store) -> Collected {
    let root = zoo_env::converted_dir();
    let mut out = Collected::default();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") || !path.is_dir() {
            continue;
        }
        let stale = name.starts_with(".old-")
            || match read_record(&path) {
                None => true,
                Some(record) => !still_used(store, &record),
            };
        if stale {
            let bytes = folder_bytes(&path);
            if std::fs::remove_dir_all(&path).is_ok() {
                out.removed_conversions += 1;
                out.freed_bytes += bytes;
            }
        }
    }
    out
}

fn still_used(store: &zoo_fetch::Store, record: &ConversionRecord) -> bool {
    let Ok(model) = zoo_types::ModelName::parse(&record.model) else {
        return false;
    };
    let Ok(Some(manifest)) = store.manifest(&model) else {
        return false;
    };
    manifest
        .files
        .iter()
        .any(|f| f.path == record.source.as_str() && f.sha256 == record.source_sha256)
}

/// Bytes of the regular files directly in `dir` (links to the model's files
/// are not counted: they stay).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::symlink_metadata(e.path()).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
