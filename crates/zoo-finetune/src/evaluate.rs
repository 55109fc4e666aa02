//! `zoo eval`: run a classification model end to end through zoo-ort on a
//! labelled data set and score it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use zoo_ort::pipeline::{self, Event, PipelineOptions};
use zoo_ort::{Classifier, TextClassifier};
use zoo_registry::Card;
use zoo_registry::card::{FileFormat, FileRole, Preprocessing};

use crate::data::{Dataset, Input, Modality, Skipped, describe};
use crate::error::{FinetuneError, Result};
use crate::extract::ExtractProgress;
use crate::finetune::RunOptions;
use crate::metrics::{self, Metrics};
use crate::train::argmax;

/// One scored item, when asked for.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub item: String,
    pub label: String,
    pub predicted: String,
    pub probabilities: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub data: PathBuf,
    pub classes: Vec<String>,
    #[serde(flatten)]
    pub metrics: Metrics,
    pub skipped: Vec<Skipped>,
    pub provider: String,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemResult>>,
}

/// Scores `card` (pulled into `dir`, with class names `labels` in output order)
/// on the labelled set at `data`. With `per_item`, every item's probabilities
/// are kept in the report.
pub fn evaluate(
    card: &Card,
    dir: &Path,
    labels: &[String],
    data: &Path,
    run: &RunOptions,
    per_item: bool,
    progress: &dyn ExtractProgress,
) -> Result<EvalReport> {
    let started = Instant::now();
    let bad = |m: String| FinetuneError::Backbone {
        model: card.name.to_string(),
        message: m,
    };
    let pre = card.io.as_ref().and_then(|io| io.preprocessing.as_ref());
    let modality = match pre {
        Some(Preprocessing::Image(_)) => Modality::Image,
        Some(Preprocessing::Text(_)) => Modality::Text,
        None => return Err(bad("its card has no preprocessing".into())),
    };
    if labels.is_empty() {
        return Err(bad("it has no labels to score against".into()));
    }
    crate::finetune::check_data_path(data)?;
    let mut dataset = Dataset::load_with_classes(data, modality, labels)?;
    let model = card
        .files
        .iter()
        .find(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
        .ok_or_else(|| bad("it has no ONNX model file".into()))?;
    let mut engine = run.engine()?;
    engine.set_decoders(modality == Modality::Image);
    let external = card
        .external_data_sha256()
        .ok_or_else(|| bad("an ONNX external-data file of it has no sha256 in its card".into()))?;
    let digest = (model.sha256.as_ref()).map(|d| zoo_ort::graph_digest(d.as_str(), &external));
    let session = engine.open(&dir.join(&model.path), digest.as_deref())?;
    let provider = session.provider().to_string();
    let n = dataset.examples.len();
    let mut probs: Vec<Option<Vec<f32>>> = vec![None; n];
    let mut failed = std::collections::HashMap::new();
    progress.start(n, 0);
    let mut done = 0;
    match modality {
        Modality::Image => {
            let workers = engine.decode_workers(session.provider());
            let mut classifier = Classifier::new(session, card, labels.to_vec())?;
            let paths: Vec<PathBuf> = (dataset.examples.iter())
                .map(|e| match &e.input {
                    Input::Image(p) => p.clone(),
                    Input::Text(_) => PathBuf::new(),
                })
                .collect();
            let spec = classifier.spec().clone();
            let options = PipelineOptions {
                batch: run.batch,
                workers,
            };
            pipeline::run(&paths, &spec, options, |event| {
                match event {
                    Event::Failed { index, error } => {
                        failed.insert(dataset.examples[index].sha256.clone(), error);
                        done += 1;
                    }
                    Event::Batch { indices, data } => {
                        let out = classifier.probabilities(data, indices.len())?;
                        for (&i, p) in indices.iter().zip(out) {
                            probs[i] = Some(p);
                        }
                        done += indices.len();
                    }
                }
                progress.advance(done);
                Ok::<(), FinetuneError>(())
            })?;
        }
        Modality::Text => {
            let tokenizer = match pre {
                Some(Preprocessing::Text(t)) => dir.join(&t.tokenizer),
                _ => unreachable!("text modality has text preprocessing"),
            };
            let mut classifier = TextClassifier::new(session, card, &tokenizer, labels.to_vec())?;
            classifier.set_batch(run.batch);
            let texts: Vec<&str> = (dataset.examples.iter())
                .map(|e| match &e.input {
                    Input::Text(t) => t.as_str(),
                    Input::Image(_) => "",
                })
                .collect();
            classifier.probabilities_each(&texts, |i, p| {
                probs[i] = Some(p.to_vec());
                done += 1;
                progress.advance(done);
                Ok(())
            })?;
        }
    }
    progress.finish();

    let mut truth = Vec::with_capacity(n);
    let mut predicted = Vec::with_capacity(n);
    let mut items = per_item.then(Vec::new);
    for (e, p) in dataset.examples.iter().zip(&probs) {
        let Some(p) = p else { continue };
        let top = argmax(p);
        truth.push(e.label);
        predicted.push(top);
        if let Some(items) = items.as_mut() {
            items.push(ItemResult {
                item: describe(&e.input),
                label: labels[e.label].clone(),
                predicted: labels.get(top).cloned().unwrap_or_default(),
                probabilities: p.clone(),
            });
        }
    }
    dataset.drop_failed(&failed);
    Ok(EvalReport {
        model: card.name.to_string(),
        data: data.to_owned(),
        classes: labels.to_vec(),
        metrics: metrics::compute(labels, &truth, &predicted),
        skipped: dataset.skipped,
        provider,
        seconds: started.elapsed().as_secs_f64(),
        items,
    })
}
