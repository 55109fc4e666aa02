//! Writing a fine-tuned model: one standalone ONNX graph (backbone, pooling for
//! text, head), the head's weights, the labels, the tokenizer for text models,
//! and a card with the model's lineage; then registering it in the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use zoo_fetch::lock::Mode;
use zoo_registry::Card;
use zoo_registry::card::{
    Dataset, DatasetRecord, FileEntry, FileFormat, FileRole, FileSource, Io, Lineage, Metric,
    OutputKind, OutputSpec, Provenance, Source, Task,
};

use crate::backbone::Backbone;
use crate::data::Modality;
use crate::error::{FinetuneError, Result};
use crate::st::{self, Tensor};
use crate::train::{HeadSpec, TrainedHead};

pub const MODEL_FILE: &str = "model.onnx";
pub const HEAD_FILE: &str = "head.safetensors";
pub const LABELS_FILE: &str = "labels.txt";
pub const CARD_FILE: &str = "card.yaml";
/// The backbone's weights as ONNX external data of [`MODEL_FILE`]: identical
/// bytes in every fine-tune of one base (cut at the same tensor), so the store,
/// a registry and the network hold them once and a fine-tune costs its head.
pub const BACKBONE_DATA_FILE: &str = "backbone.onnx.data";
/// Metadata key in [`MODEL_FILE`] holding [`BACKBONE_DATA_FILE`]'s sha256, so
/// the model file's own digest (which caches key on) covers the weights too.
pub const BACKBONE_DATA_SHA256: &str = "zoo.backbone_data_sha256";

/// Everything the exported model and its card record.
#[derive(Debug, Clone)]
pub struct ModelSpec<'a> {
    pub name: &'a str,
    pub backbone: &'a Backbone,
    pub head: &'a TrainedHead,
    pub classes: &'a [String],
    pub dataset: DatasetRecord,
    pub hyperparameters: BTreeMap<String, String>,
    /// Validation accuracy, and on how many items.
    pub val_accuracy: Option<(f64, usize)>,
    pub base_signer: Option<zoo_registry::card::BaseSigner>,
    /// Signs the staged folder before it is moved into place.
    pub signer: Option<&'a dyn crate::finetune::ModelSigner>,
}

/// Names that the catalog accepts (the card check's rule).
pub fn check_name(name: &str) -> Result<()> {
    model_name(name).map(drop)
}

fn model_name(name: &str) -> Result<zoo_types::ModelName> {
    zoo_types::ModelName::parse(name).map_err(|e| FinetuneError::Config(format!("--out: {e}")))
}

/// The temporary folders `write_model_dir` makes beside the model's folder:
/// `.<name>.staging-<pid>` and `.<name>.old-<pid>`.
const TEMP_KINDS: [&str; 2] = ["staging", "old"];

/// The lock held while a local model's folder is written and moved into place;
/// a temporary folder of that model seen under it belongs to a dead process.
fn local_lock(models_dir: &Path, name: &str) -> PathBuf {
    models_dir.join(".locks").join(format!("{name}.lock"))
}

/// Writes `models_dir/<name>/` and returns its path and card. The files are
/// written into a staging directory first and moved into place together, so a
/// failed export never leaves a half-written model in the catalog. A kill
/// between the renames leaves only hidden folders, which the catalog skips and
/// the next command removes (see [`remove_stale_dirs`]).
pub fn write_model_dir(
    models_dir: &Path,
    spec: &ModelSpec,
    replace: bool,
) -> Result<(PathBuf, Card)> {
    check_name(spec.name)?;
    let _lock = zoo_fetch::lock::acquire(&local_lock(models_dir, spec.name), Mode::Exclusive)?;
    zoo_fetch::lock::remove_stale_temp_dirs(models_dir, Some(spec.name), &TEMP_KINDS);
    let dir = models_dir.join(spec.name);
    if dir.exists() && !replace {
        return Err(FinetuneError::Config(format!(
            "{} already exists; pass --force to replace it",
            dir.display()
        )));
    }
    let stage = models_dir.join(format!(".{}.staging-{}", spec.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).map_err(FinetuneError::io(&stage))?;
    let result = write_files(&stage, &dir, spec);
    let card = match result {
        Ok(card) => card,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    zoo_env::failpoint("finetune-before-rename");
    if dir.exists() {
        let old = models_dir.join(format!(".{}.old-{}", spec.name, std::process::id()));
        std::fs::rename(&dir, &old).map_err(FinetuneError::io(&dir))?;
        zoo_env::failpoint("finetune-between-renames");
        std::fs::rename(&stage, &dir).map_err(FinetuneError::io(&dir))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&stage, &dir).map_err(FinetuneError::io(&dir))?;
    }
    Ok((dir, card))
}

/// Removes the staging and old folders that killed `zoo finetune` runs left in
/// `models_dir`: those whose process is gone, each under its model's lock (a
/// model whose lock is busy is being written now and is left alone). Returns
/// the folders removed.
pub fn remove_stale_dirs(models_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(models_dir) else {
        return Vec::new();
    };
    let names: std::collections::BTreeSet<String> = rd
        .flatten()
        .filter_map(|e| {
            let file_name = e.file_name().to_string_lossy().into_owned();
            let (name, pid) = zoo_fetch::lock::temp_dir_owner(&file_name, &TEMP_KINDS)?;
            (!zoo_fetch::lock::process_alive(pid)).then(|| name.to_owned())
        })
        .collect();
    let mut removed = Vec::new();
    for name in names {
        let lock = local_lock(models_dir, &name);
        if let Ok(Some(_held)) = zoo_fetch::lock::try_acquire(&lock, Mode::Exclusive) {
            removed.extend(zoo_fetch::lock::remove_stale_temp_dirs(
                models_dir,
                Some(&name),
                &TEMP_KINDS,
            ));
        }
    }
    removed
}

fn write_files(stage: &Path, final_dir: &Path, spec: &ModelSpec) -> Result<Card> {
    let b = spec.backbone;
    let lineage = lineage(spec);
    let (graph, feature) = b.feature_graph()?;
    let metadata = vec![
        ("zoo.base_model".to_owned(), b.card.name.to_string()),
        ("zoo.base_sha256".to_owned(), b.model_sha256.clone()),
        (
            "zoo.labels".to_owned(),
            serde_json::to_string(spec.classes).unwrap_or_default(),
        ),
        (
            "zoo.lineage".to_owned(),
            serde_json::to_string(&lineage).unwrap_or_default(),
        ),
    ];
    let mut model = zoo_onnx::append_head(&graph, &feature, &spec.head.to_onnx(), &metadata)?;
    let backbone_tensors: HashSet<String> = (graph.graph.iter())
        .flat_map(|g| &g.initializer)
        .map(|t| t.name().to_owned())
        .collect();
    drop(graph);
    let weights = zoo_onnx::externalize(&mut model, &backbone_tensors, BACKBONE_DATA_FILE)?;
    let weights_sha = write_backbone_data(&stage.join(BACKBONE_DATA_FILE), &weights)?;
    drop(weights);
    model
        .metadata_props
        .push(zoo_onnx::proto::StringStringEntryProto {
            key: Some(BACKBONE_DATA_SHA256.to_owned()),
            value: Some(weights_sha),
        });
    zoo_onnx::save(&model, stage.join(MODEL_FILE))?;
    drop(model);

    write_head(&stage.join(HEAD_FILE), spec, &feature.name)?;
    let labels: String = spec.classes.iter().map(|c| format!("{c}\n")).collect();
    st::write_atomic(&stage.join(LABELS_FILE), labels.as_bytes())?;
    let mut files = vec![
        (MODEL_FILE.to_owned(), FileFormat::Onnx, FileRole::Model),
        (
            BACKBONE_DATA_FILE.to_owned(),
            FileFormat::OnnxData,
            FileRole::Weights,
        ),
        (
            HEAD_FILE.to_owned(),
            FileFormat::Safetensors,
            FileRole::Weights,
        ),
        (LABELS_FILE.to_owned(), FileFormat::Labels, FileRole::Labels),
    ];
    if let (Some(t), Some(src)) = (&b.text, b.tokenizer_path()) {
        let dest = stage.join(&t.tokenizer);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(FinetuneError::io(parent))?;
        }
        // Copied, not linked: the store may garbage-collect the base's blobs.
        std::fs::copy(&src, &dest).map_err(FinetuneError::io(&src))?;
        files.push((
            t.tokenizer.clone(),
            FileFormat::Tokenizer,
            FileRole::Tokenizer,
        ));
    }
    let mut entries = Vec::new();
    for (path, format, role) in files {
        let (sha, size) = zoo_fetch::sha256_file(&stage.join(&path))?;
        let invalid = |e: zoo_types::InvalidValue| FinetuneError::Output(e.to_string());
        entries.push(FileEntry {
            path: zoo_types::RelPath::parse(&path).map_err(invalid)?,
            sha256: Some(zoo_types::Sha256Hex::parse(&sha).map_err(invalid)?),
            git_blob: None,
            size: Some(size),
            format,
            role,
        });
    }
    let card = build_card(spec, entries, final_dir, lineage)?;
    let yaml = serde_yaml::to_string(&card).map_err(|e| FinetuneError::Output(e.to_string()))?;
    let text = format!(
        "# Written by `zoo finetune`: a model derived from {}. Edit with care; `zoo verify` checks the files.\n{yaml}",
        b.card.name
    );
    st::write_atomic(&stage.join(CARD_FILE), text.as_bytes())?;
    // The same checks `zoo registry check` runs, before the model is visible.
    zoo_registry::check_dir(stage, &|label| label == spec.name)?;
    if let Some(signer) = spec.signer {
        signer.sign_staged(stage, &card)?;
    }
    Ok(card)
}

/// Writes the ONNX model at `model_path` (its external data read from beside
/// it, within the 2 GiB limit of one protobuf file) to `out` as one
/// self-contained file, for tools that want a single file.
pub fn write_single_file(model_path: &Path, out: &Path) -> Result<()> {
    let mut model = zoo_onnx::load(model_path)?;
    model
        .metadata_props
        .retain(|p| p.key() != BACKBONE_DATA_SHA256);
    zoo_onnx::save(&model, out)?;
    Ok(())
}

/// Writes the backbone's weights and returns their sha256. When the store
/// already holds these bytes (an earlier fine-tune of the same base), checked
/// by hashing them, the file is a hard link to that blob rather than another
/// copy, made read-only: a write through the model's folder must not change
/// the store's blob.
fn write_backbone_data(path: &Path, bytes: &[u8]) -> Result<String> {
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    let stored = zoo_types::Sha256Hex::parse(&sha)
        .ok()
        .and_then(|digest| zoo_fetch::Store::open_default().existing_blob(&digest))
        .filter(|blob| zoo_fetch::sha256_file(blob).is_ok_and(|(actual, _)| actual == sha));
    if let Some(blob) = stored
        && std::fs::hard_link(&blob, path).is_ok()
    {
        if let Ok(meta) = std::fs::metadata(path) {
            let mut read_only = meta.permissions();
            read_only.set_readonly(true);
            let _ = std::fs::set_permissions(path, read_only);
        }
        return Ok(sha);
    }
    st::write_atomic(path, bytes)?;
    Ok(sha)
}

/// The head's layers in ONNX layout (`[outputs, inputs]`), for training elsewhere
/// or inspection; model.onnx holds the same values.
fn write_head(path: &Path, spec: &ModelSpec, feature: &str) -> Result<()> {
    let layers = spec.head.onnx_layers();
    let mut tensors = Vec::new();
    for (i, (w, bias, outputs, inputs)) in layers.iter().enumerate() {
        let prefix = if layers.len() == 1 {
            "fc".to_owned()
        } else {
            format!("fc{}", i + 1)
        };
        tensors.push(Tensor::f32(
            &format!("{prefix}.weight"),
            vec![*outputs, *inputs],
            w,
        ));
        tensors.push(Tensor::f32(&format!("{prefix}.bias"), vec![*outputs], bias));
    }
    let metadata = HashMap::from([
        ("head".to_owned(), head_name(spec.head.spec)),
        (
            "classes".to_owned(),
            serde_json::to_string(spec.classes).unwrap_or_default(),
        ),
        ("base_model".to_owned(), spec.backbone.card.name.to_string()),
        ("feature_tensor".to_owned(), feature.to_owned()),
        (
            "input".to_owned(),
            "raw backbone features (standardization is folded into fc/fc1)".to_owned(),
        ),
    ]);
    st::write(path, &tensors, metadata)
}

pub fn head_name(spec: HeadSpec) -> String {
    match spec {
        HeadSpec::Linear => "linear".to_owned(),
        HeadSpec::Mlp { .. } => "mlp".to_owned(),
    }
}

fn lineage(spec: &ModelSpec) -> Lineage {
    let b = spec.backbone;
    Lineage {
        base_model: b.card.name.clone(),
        base_sha256: b.model_sha256.clone(),
        base_license: b.card.license.id.clone(),
        dataset: spec.dataset.clone(),
        hyperparameters: spec.hyperparameters.clone(),
        zoo_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: rfc3339_utc(std::time::SystemTime::now()),
        base_signer: spec.base_signer.clone(),
    }
}

fn build_card(
    spec: &ModelSpec,
    files: Vec<FileEntry>,
    dir: &Path,
    lineage: Lineage,
) -> Result<Card> {
    let base = &spec.backbone.card;
    let head = spec.head;
    let (task, kind) = match spec.backbone.modality {
        Modality::Image => (Task::ImageClassification, "image"),
        Modality::Text => (Task::TextClassification, "text"),
    };
    let head_desc = match head.spec {
        HeadSpec::Linear => "a linear (softmax regression) head".to_owned(),
        HeadSpec::Mlp { hidden, .. } => format!("an MLP head (one hidden layer of {hidden}, ReLU)"),
    };
    let classes = spec.classes.len();
    let base_io = base.io.clone().unwrap_or(Io {
        inputs: Vec::new(),
        outputs: Vec::new(),
        preprocessing: None,
        labels: None,
    });
    let output = |name: &str, kind| OutputSpec {
        name: name.to_owned(),
        kind,
        dim: Some(classes as u64),
    };
    let data = &spec.dataset;
    Ok(Card {
        schema: zoo_registry::SCHEMA_VERSION,
        name: model_name(spec.name)?,
        aliases: Vec::new(),
        version: "1".to_owned(),
        family: base.family.clone(),
        task,
        architecture: format!(
            "{} + {}",
            base.architecture,
            head_desc.trim_start_matches("a ").trim_start_matches("an ")
        ),
        parameters: base.parameters.map(|p| p + head.parameters()),
        description: format!(
            "{} {kind} classifier into {classes} classes ({}), fine-tuned by zoo from {}: {} on \
             features from `{}`, trained on {} ({} items).",
            if kind == "image" { "An" } else { "A" },
            preview(spec.classes),
            base.name,
            head_desc,
            spec.backbone.feature.name,
            data.source,
            data.items
        ),
        files,
        sources: vec![Source::File(FileSource {
            path: dir.display().to_string(),
            files: BTreeMap::new(),
            only: Vec::new(),
        })],
        license: base.license.clone(),
        openness: base.openness.clone(),
        provenance: Provenance {
            training_data: vec![Dataset {
                name: data.source.clone(),
                url: None,
                license: data.license.clone(),
                terms: None,
                commercial_use: None,
            }],
            base_model: Some(base.name.to_string()),
            ..Default::default()
        },
        io: Some(Io {
            inputs: base_io.inputs,
            outputs: vec![
                output(zoo_onnx::LOGITS, OutputKind::Logits),
                output(zoo_onnx::PROBABILITIES, OutputKind::Probabilities),
            ],
            preprocessing: base_io.preprocessing,
            labels: Some(spec.name.to_owned()),
        }),
        metrics: spec
            .val_accuracy
            .map(|(acc, n)| Metric {
                dataset: format!("validation split of {} ({n} items)", data.source),
                metric: "accuracy".to_owned(),
                value: (acc * 1e4).round() / 1e4,
                source: "zoo finetune".to_owned(),
            })
            .into_iter()
            .collect(),
        api: None,
        lineage: Some(lineage),
        hub: None,
    })
}

fn preview(classes: &[String]) -> String {
    if classes.len() <= 6 {
        classes.join(", ")
    } else {
        format!("{}, ...", classes[..5].join(", "))
    }
}

/// Registers the model directory in the store (hashing its files into blobs and
/// publishing a manifest), so `zoo predict`, `ls`, `verify` and audits see it.
/// The base's recorded license acceptance carries over: the derivative has the
/// same license.
pub fn register(
    card: &Card,
    base: &zoo_types::ModelName,
    progress: &dyn zoo_fetch::Progress,
) -> Result<zoo_fetch::PullReport> {
    let store = zoo_fetch::Store::open_default();
    let accepted = store.manifest(base)?.is_some_and(|m| m.license.accepted);
    let opts = zoo_fetch::PullOptions {
        source: Some("file".to_owned()),
        offline: true,
        accept_license: accepted,
        jobs: 2,
        ..Default::default()
    };
    Ok(zoo_fetch::pull(&store, card, &opts, progress)?)
}

pub use zoo_types::rfc3339_utc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let at = |s| rfc3339_utc(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn names() {
        assert!(check_name("my-model_2.1").is_ok());
        assert!(check_name("My").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("").is_err());
        // A leading dot would name the store itself (`.`, `..`), a hidden
        // directory, or collide with the `.NAME.staging-PID` directories.
        for name in [".", "..", ".hidden", "..a", ".a.staging-1"] {
            let err = check_name(name).unwrap_err().to_string();
            assert!(
                err.contains("must start with a lower-case letter or a digit"),
                "{name}: {err}"
            );
        }
        // Dots elsewhere are fine.
        assert!(check_name("a.").is_ok());
        assert!(check_name("a..b").is_ok());
    }
}
