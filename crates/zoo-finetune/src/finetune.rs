//! `zoo finetune` and `zoo features` end to end: data, cached features, split,
//! training, export, registration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use zoo_registry::Card;
use zoo_registry::card::DatasetRecord;

use crate::backbone::Backbone;
use crate::cache::{self, FeatureCache};
use crate::data::{Dataset, Modality, Skipped, stratified_split};
use crate::error::{FinetuneError, Result};
use crate::export::{self, ModelSpec};
use crate::extract::{ExtractProgress, ExtractStats, Extractor, ensure_cached};
use crate::train::{self, EpochStats, HeadSpec, Labelled, Matrix, TrainConfig};

/// How and where the backbone runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub device: zoo_ort::Device,
    /// Threads for ONNX Runtime and head training; all cores when `None`.
    pub threads: Option<usize>,
    /// Items per backbone run.
    pub batch: usize,
    /// Root of the feature caches (default `ZOO_HOME/cache/features`).
    pub cache_root: PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            device: zoo_ort::Device::Auto,
            threads: None,
            batch: 32,
            cache_root: cache::default_root(),
        }
    }
}

impl RunOptions {
    pub fn engine(&self) -> Result<zoo_ort::Engine> {
        Ok(zoo_ort::Engine::new(zoo_ort::EngineOptions {
            device: self.device,
            threads: self.threads,
            ..Default::default()
        })?)
    }

    fn pool(&self) -> Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads.unwrap_or(0))
            .build()
            .map_err(|e| FinetuneError::Config(format!("cannot start training threads: {e}")))
    }
}

/// Where validation data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// This fraction of each class, chosen by the seed.
    Split(f64),
    /// A separate labelled set.
    Data(PathBuf),
}

#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    pub name: String,
    pub data: PathBuf,
    pub validation: Validation,
    pub train: TrainConfig,
    pub run: RunOptions,
    /// SPDX id of the data's license, recorded in the lineage.
    pub dataset_license: Option<String>,
    /// Replace an existing local model of the same name.
    pub replace: bool,
    /// Where local models live (default `ZOO_HOME/models`).
    pub models_dir: PathBuf,
    /// Register the model in the store after writing it.
    pub register: bool,
    /// Signs the model's folder while it is still staged, so the model never
    /// appears unsigned (`zoo finetune --sign`).
    pub signer: Option<std::sync::Arc<dyn ModelSigner>>,
    /// The base model's verified signer, recorded in the lineage.
    pub base_signer: Option<zoo_registry::card::BaseSigner>,
}

/// Writes a signature of a model folder into it. zoo-finetune does not sign
/// itself: signing is zoo-sign's, and the command line holds the key.
pub trait ModelSigner: std::fmt::Debug + Send + Sync {
    /// Sign the files of `dir` (staged, not yet in the catalog) that `card`
    /// lists, writing the signature file into `dir`.
    fn sign_staged(&self, dir: &std::path::Path, card: &zoo_registry::Card) -> Result<()>;
}

/// What the command line shows while it works.
pub trait Reporter: ExtractProgress + Sync {
    fn epoch(&self, stats: &EpochStats);
    fn note(&self, message: &str);
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub load_seconds: f64,
    pub extract_seconds: f64,
    pub train_seconds: f64,
    pub export_seconds: f64,
    pub register_seconds: f64,
    pub total_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FinetuneReport {
    pub name: String,
    pub base: String,
    pub dir: PathBuf,
    pub task: String,
    pub head: String,
    pub classes: Vec<String>,
    pub train_items: usize,
    pub val_items: usize,
    pub skipped: Vec<Skipped>,
    pub extraction: ExtractStats,
    pub epochs: Vec<EpochStats>,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub val_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub majority_baseline: Option<f64>,
    pub model_sha256: String,
    pub registered: bool,
    pub timings: Timings,
}

/// Labelled features for the whole data set (after unreadable items are dropped),
/// plus everything reported about getting them.
struct Features {
    backbone: Backbone,
    data: Dataset,
    val_data: Option<Dataset>,
    x: Matrix,
    val_x: Option<Matrix>,
    stats: ExtractStats,
}

/// A data set path that is not there is the user's mistake, said plainly.
pub(crate) fn check_data_path(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    Err(FinetuneError::data(
        path,
        "does not exist; pass a folder with one subfolder per class, a CSV file or a JSON lines file",
    ))
}

fn features(
    base: &Card,
    base_dir: &Path,
    data: &Path,
    val: Option<&Path>,
    run: &RunOptions,
    progress: &dyn ExtractProgress,
) -> Result<Features> {
    check_data_path(data)?;
    if let Some(v) = val {
        check_data_path(v)?;
    }
    let backbone = Backbone::resolve(base, base_dir)?;
    let mut data = Dataset::load(data, backbone.modality)?;
    let mut val_data = match val {
        Some(v) => Some(Dataset::load_with_classes(
            v,
            backbone.modality,
            &data.classes,
        )?),
        None => None,
    };
    let mut cache = FeatureCache::open(&run.cache_root, &backbone.cache_key())?;
    let all = data
        .examples
        .iter()
        .chain(val_data.iter().flat_map(|v| &v.examples));
    let cache_dir = cache.dir().to_owned();
    let mut make = || -> Result<Box<dyn Extractor>> {
        let mut engine = run.engine()?;
        // Images are decoded on worker threads beside the session's.
        engine.set_decoders(backbone.modality == Modality::Image);
        backbone.extractor(&engine, run.batch, &cache_dir)
    };
    let (stats, failed) = ensure_cached(&mut cache, all, &mut make, progress)?;
    data.drop_failed(&failed);
    data.check_classes()?;
    let read = |d: &Dataset| {
        let shas: Vec<&str> = d.examples.iter().map(|e| e.sha256.as_str()).collect();
        cache.read(&shas)
    };
    let x = read(&data)?;
    let val_x = match val_data.as_mut() {
        Some(v) => {
            v.drop_failed(&failed);
            Some(read(v)?)
        }
        None => None,
    };
    Ok(Features {
        backbone,
        data,
        val_data,
        x,
        val_x,
        stats,
    })
}

fn labels(d: &Dataset) -> Vec<usize> {
    d.examples.iter().map(|e| e.label).collect()
}

/// Fine-tunes a head on `base` (pulled into `base_dir`) and writes, and by
/// default registers, the new model.
pub fn finetune(
    base: &Card,
    base_dir: &Path,
    opts: &FinetuneOptions,
    reporter: &dyn Reporter,
    pull_progress: &dyn zoo_fetch::Progress,
) -> Result<FinetuneReport> {
    let started = Instant::now();
    export::check_name(&opts.name)?;
    opts.train.validate()?;
    if opts.name == base.name {
        return Err(FinetuneError::Config(format!(
            "--out '{}' is the base model's own name; choose a new name",
            opts.name
        )));
    }
    if !opts.replace && opts.models_dir.join(&opts.name).exists() {
        return Err(FinetuneError::Config(format!(
            "a local model '{}' already exists ({}); pass --force to replace it",
            opts.name,
            opts.models_dir.join(&opts.name).display()
        )));
    }
    let val_path = match &opts.validation {
        Validation::Data(p) => Some(p.as_path()),
        Validation::Split(f) if !(0.0..1.0).contains(f) => {
            return Err(FinetuneError::Config(
                "--val-split must be in [0, 1)".into(),
            ));
        }
        Validation::Split(_) => None,
    };
    let f = features(base, base_dir, &opts.data, val_path, &opts.run, reporter)?;
    let mut timings = Timings {
        extract_seconds: f.stats.seconds,
        ..Default::default()
    };
    timings.load_seconds = started.elapsed().as_secs_f64() - f.stats.seconds;

    let y = labels(&f.data);
    let classes = f.data.classes.len();
    let (train_x, train_y, val_x, val_y) = match (&f.val_data, &f.val_x, &opts.validation) {
        (Some(v), Some(vx), _) => (f.x.clone(), y, Some(vx.clone()), labels(v)),
        (_, _, Validation::Split(frac)) => {
            let split = stratified_split(&y, classes, *frac, opts.train.seed);
            let pick = |idx: &[usize]| idx.iter().map(|&i| y[i]).collect::<Vec<_>>();
            let vx = (!split.val.is_empty()).then(|| f.x.gather(&split.val));
            (
                f.x.gather(&split.train),
                pick(&split.train),
                vx,
                pick(&split.val),
            )
        }
        _ => unreachable!("validation data comes with its features"),
    };
    let t0 = Instant::now();
    let outcome = opts.run.pool()?.install(|| {
        train::train(
            Labelled {
                x: &train_x,
                y: &train_y,
            },
            val_x.as_ref().map(|x| Labelled { x, y: &val_y }),
            classes,
            &opts.train,
            &mut |s| reporter.epoch(s),
        )
    })?;
    timings.train_seconds = t0.elapsed().as_secs_f64();

    let val_accuracy = val_x
        .as_ref()
        .map(|vx| train::accuracy(&outcome.head.logits(vx), &val_y));
    let val_loss = outcome
        .history
        .iter()
        .find(|e| e.epoch == outcome.best_epoch)
        .and_then(|e| e.val_loss);
    let majority_baseline = (!val_y.is_empty()).then(|| {
        let mut counts = vec![0usize; classes];
        val_y.iter().for_each(|&c| counts[c] += 1);
        *counts.iter().max().unwrap_or(&0) as f64 / val_y.len() as f64
    });

    let t0 = Instant::now();
    let dataset = DatasetRecord {
        source: std::path::absolute(&opts.data)
            .unwrap_or_else(|_| opts.data.clone())
            .display()
            .to_string(),
        fingerprint: f.data.fingerprint(),
        items: f.data.examples.len() as u64,
        classes: f.data.classes.clone(),
        license: opts.dataset_license.clone(),
    };
    let hyperparameters = hyperparameters(opts, &f.backbone, &outcome);
    let spec = ModelSpec {
        name: &opts.name,
        backbone: &f.backbone,
        head: &outcome.head,
        classes: &f.data.classes,
        dataset,
        hyperparameters,
        val_accuracy: val_accuracy.map(|a| (a, val_y.len())),
        base_signer: opts.base_signer.clone(),
        signer: opts.signer.as_deref(),
    };
    let (dir, card) = export::write_model_dir(&opts.models_dir, &spec, opts.replace)?;
    timings.export_seconds = t0.elapsed().as_secs_f64();
    let model_sha256 = card
        .file(export::MODEL_FILE)
        .and_then(|f| f.sha256.as_ref().map(ToString::to_string))
        .unwrap_or_default();
    let t0 = Instant::now();
    if opts.register
        && let Err(e) = export::register(&card, &base.name, pull_progress)
    {
        // An unregistered model directory would show in the catalog but fail
        // every command; take it away with the error.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    timings.register_seconds = t0.elapsed().as_secs_f64();
    timings.total_seconds = started.elapsed().as_secs_f64();

    let mut skipped = f.data.skipped.clone();
    skipped.extend(f.val_data.iter().flat_map(|v| v.skipped.iter().cloned()));
    Ok(FinetuneReport {
        name: opts.name.clone(),
        base: base.name.to_string(),
        dir,
        task: card.task.to_string(),
        head: export::head_name(opts.train.head),
        classes: f.data.classes.clone(),
        train_items: train_y.len(),
        val_items: val_y.len(),
        skipped,
        extraction: f.stats,
        epochs: outcome.history,
        best_epoch: outcome.best_epoch,
        stopped_early: outcome.stopped_early,
        val_accuracy,
        val_loss,
        majority_baseline,
        model_sha256,
        registered: opts.register,
        timings,
    })
}

fn hyperparameters(
    opts: &FinetuneOptions,
    backbone: &Backbone,
    outcome: &train::TrainOutcome,
) -> BTreeMap<String, String> {
    let t = &opts.train;
    let mut h = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        h.insert(k.to_owned(), v);
    };
    put("head", export::head_name(t.head));
    if let HeadSpec::Mlp { hidden, dropout } = t.head {
        put("hidden", hidden.to_string());
        put("dropout", dropout.to_string());
    }
    put("epochs", t.epochs.to_string());
    put("epochs_run", outcome.history.len().to_string());
    put("best_epoch", outcome.best_epoch.to_string());
    put("lr", t.lr.to_string());
    put(
        "lr_schedule",
        format!("linear warmup {} then cosine", t.warmup),
    );
    put("optimizer", "adamw".to_owned());
    put("batch_size", t.batch_size.to_string());
    put("weight_decay", t.weight_decay.to_string());
    put("label_smoothing", t.label_smoothing.to_string());
    put(
        "class_weights",
        format!("{:?}", t.class_weights).to_ascii_lowercase(),
    );
    // The command line turns "never stop early" into the largest patience.
    let patience = if t.patience == usize::MAX {
        "off".to_owned()
    } else {
        t.patience.to_string()
    };
    put("early_stopping_patience", patience);
    put("seed", t.seed.to_string());
    match &opts.validation {
        Validation::Split(f) => put("val_split", f.to_string()),
        Validation::Data(p) => put("val", p.display().to_string()),
    }
    put("feature_tensor", backbone.feature.name.clone());
    put(
        "feature_standardization",
        "folded into the first layer".to_owned(),
    );
    h
}

#[derive(Debug, Clone, Serialize)]
pub struct FeaturesReport {
    pub base: String,
    pub out: PathBuf,
    pub items: usize,
    pub dim: usize,
    pub classes: Vec<String>,
    pub train_items: usize,
    pub val_items: usize,
    pub skipped: Vec<Skipped>,
    pub extraction: ExtractStats,
}

/// What `zoo features` reads and writes.
#[derive(Debug, Clone)]
pub struct FeaturesOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    /// Fraction of each class marked as validation items.
    pub val_split: f64,
    pub seed: u64,
    pub run: RunOptions,
}

/// `zoo features`: the backbone features of `data` with their labels, written to
/// `out` as safetensors (`features` f32 [N, dim], `labels` i64 [N], `split` u8
/// [N]: 1 for the items `zoo finetune` with the same `val_split` and `seed` would
/// validate on), class names and provenance in the metadata.
pub fn export_features(
    base: &Card,
    base_dir: &Path,
    opts: &FeaturesOptions,
    progress: &dyn ExtractProgress,
) -> Result<FeaturesReport> {
    let FeaturesOptions {
        data,
        out,
        val_split,
        seed,
        run,
    } = opts;
    let (data, out, val_split, seed) = (data.as_path(), out.as_path(), *val_split, *seed);
    if !(0.0..1.0).contains(&val_split) {
        return Err(FinetuneError::Config(
            "--val-split must be in [0, 1)".into(),
        ));
    }
    let f = features(base, base_dir, data, None, run, progress)?;
    let y = labels(&f.data);
    let split = stratified_split(&y, f.data.classes.len(), val_split, seed);
    let mut in_val = vec![0u8; y.len()];
    split.val.iter().for_each(|&i| in_val[i] = 1);
    let y64: Vec<i64> = y.iter().map(|&l| l as i64).collect();
    let meta = std::collections::HashMap::from([
        (
            "classes".to_owned(),
            serde_json::to_string(&f.data.classes).unwrap_or_default(),
        ),
        ("base_model".to_owned(), base.name.to_string()),
        ("base_sha256".to_owned(), f.backbone.model_sha256.clone()),
        ("feature_tensor".to_owned(), f.backbone.feature.name.clone()),
        ("dataset".to_owned(), data.display().to_string()),
        ("dataset_fingerprint".to_owned(), f.data.fingerprint()),
        ("val_split".to_owned(), val_split.to_string()),
        ("seed".to_owned(), seed.to_string()),
        (
            "zoo_version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ]);
    crate::st::write(
        out,
        &[
            crate::st::Tensor::f32("features", vec![f.x.rows, f.x.cols], &f.x.data),
            crate::st::Tensor::i64("labels", &y64),
            crate::st::Tensor::u8("split", &in_val),
        ],
        meta,
    )?;
    Ok(FeaturesReport {
        base: base.name.to_string(),
        out: out.to_owned(),
        items: y.len(),
        dim: f.x.cols,
        classes: f.data.classes.clone(),
        train_items: split.train.len(),
        val_items: split.val.len(),
        skipped: f.data.skipped.clone(),
        extraction: f.stats,
    })
}
