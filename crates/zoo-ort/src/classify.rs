//! Image classification: a session plus the card's preprocessing, output and labels.

use std::path::PathBuf;

use ort::value::TensorRef;
use serde::Serialize;
use zoo_registry::Card;
use zoo_registry::card::{OutputKind, Preprocessing};

use crate::error::{OrtError, Result};
use crate::image::ImageSpec;
use crate::pipeline::{self, Event, PipelineOptions};
use crate::session::ModelSession;

/// How a card's image model takes its pixels: the preprocessing, the input
/// tensor's name, and the batch size a fixed batch axis imposes. Shared by the
/// classifier here and by zoo-finetune's feature extraction.
#[derive(Debug, Clone)]
pub struct ImageInput {
    pub spec: ImageSpec,
    pub name: String,
    /// `Some(n)` when the model's batch axis is fixed: it takes exactly n images.
    pub fixed_batch: Option<usize>,
}

impl ImageInput {
    /// Read the card's image preprocessing and check it against the session's
    /// input. The error is a reason, for the caller to name the model in.
    pub fn resolve(session: &ModelSession, card: &Card) -> std::result::Result<ImageInput, String> {
        let io = card
            .io
            .as_ref()
            .ok_or_else(|| "its card has no io section".to_owned())?;
        let pre = match &io.preprocessing {
            Some(Preprocessing::Image(p)) => p,
            Some(Preprocessing::Text(_)) => {
                return Err(format!(
                    "it takes text, not images; use `zoo embed {}`",
                    card.name
                ));
            }
            None => return Err("its card has no image preprocessing".to_owned()),
        };
        let spec = ImageSpec::from(pre);
        spec.validate()?;
        let name = match io.inputs.first() {
            Some(i) => i.name.clone(),
            None => session
                .inputs()
                .first()
                .map(|i| i.name.clone())
                .ok_or_else(|| "the model has no inputs".to_owned())?,
        };
        let info = session
            .input(&name)
            .ok_or_else(|| format!("the model has no input '{name}'"))?;
        let want = spec.shape(1);
        for (axis, (&have, &need)) in info.shape.iter().zip(&want).enumerate().skip(1) {
            if have > 0 && have as usize != need {
                return Err(format!(
                    "input '{name}' has shape {:?} but the card's preprocessing gives {:?} (axis {axis})",
                    info.shape, want
                ));
            }
        }
        let fixed_batch = info.shape.first().filter(|&&d| d > 0).map(|&d| d as usize);
        Ok(ImageInput {
            spec,
            name,
            fixed_batch,
        })
    }
}

/// One label and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub label: String,
    pub index: usize,
    pub probability: f32,
}

/// The outcome for one input image.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub index: usize,
    pub path: PathBuf,
    pub result: std::result::Result<Vec<Score>, String>,
}

#[derive(Debug)]
pub struct Classifier {
    session: ModelSession,
    spec: ImageSpec,
    input: String,
    output: String,
    softmax: bool,
    labels: Vec<String>,
    /// Largest batch the model accepts (1 when its batch dimension is fixed).
    max_batch: Option<usize>,
}

/// Softmax in place, shifted by the maximum for stability.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Indices of the `k` largest values, largest first (ties by lower index).
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

impl Classifier {
    /// Check the card against the session and build the classifier. `labels` are
    /// the card's label file, one per class in output order.
    pub fn new(session: ModelSession, card: &Card, labels: Vec<String>) -> Result<Classifier> {
        let bad = |m: String| OrtError::Input(format!("model '{}': {m}", card.name));
        let ImageInput {
            spec,
            name: input,
            fixed_batch: max_batch,
        } = ImageInput::resolve(&session, card).map_err(bad)?;
        let io = card.io.as_ref().expect("resolve checked the io section");
        let out = io
            .outputs
            .iter()
            .find(|o| matches!(o.kind, OutputKind::Logits | OutputKind::Probabilities))
            .ok_or_else(|| bad("its card names no logits or probabilities output".to_owned()))?;
        if !session.outputs().iter().any(|o| o.name == out.name) {
            return Err(bad(format!("the model has no output '{}'", out.name)));
        }
        if let Some(dim) = out.dim
            && dim as usize != labels.len()
        {
            return Err(bad(format!("{} labels for {dim} outputs", labels.len())));
        }
        Ok(Classifier {
            spec,
            input,
            output: out.name.clone(),
            softmax: out.kind == OutputKind::Logits,
            labels,
            max_batch,
            session,
        })
    }

    pub fn session(&self) -> &ModelSession {
        &self.session
    }

    pub fn spec(&self) -> &ImageSpec {
        &self.spec
    }

    /// Replace the preprocessing (e.g. to resize both sides exactly).
    pub fn set_spec(&mut self, spec: ImageSpec) {
        self.spec = spec;
    }

    /// Class probabilities for a preprocessed batch (`n * spec.len()` floats):
    /// the model's output, softmaxed when it is logits.
    pub fn probabilities(&mut self, data: &[f32], n: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(n);
        let step = self.max_batch.unwrap_or(n).max(1);
        let len = self.spec.len();
        let mut start = 0;
        while start < n {
            let m = step.min(n - start);
            let chunk = &data[start * len..(start + m) * len];
            let tensor = TensorRef::from_array_view((self.spec.shape(m), chunk))
                .map_err(OrtError::ort("input tensor"))?;
            let outputs = self
                .session
                .session
                .run(vec![(self.input.as_str(), tensor)])
                .map_err(OrtError::ort("running the model"))?;
            let (shape, values) = outputs[self.output.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(OrtError::ort(format!("output '{}'", self.output)))?;
            let classes = *shape.last().unwrap_or(&0) as usize;
            if classes == 0 || values.len() != m * classes {
                return Err(OrtError::Input(format!(
                    "output '{}' has shape {shape:?}, expected [{m}, classes]",
                    self.output
                )));
            }
            for row in values.chunks_exact(classes) {
                let mut p = row.to_vec();
                if self.softmax {
                    softmax(&mut p);
                }
                out.push(p);
            }
            start += m;
        }
        Ok(out)
    }

    fn scores(&self, probs: &[f32], k: usize) -> Vec<Score> {
        top_k(probs, k)
            .into_iter()
            .map(|i| Score {
                label: self
                    .labels
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("class {i}")),
                index: i,
                probability: probs[i],
            })
            .collect()
    }

    /// Classify image files, decoding on worker threads while the model runs,
    /// and call `on` with each prediction in input order. Undecodable images are
    /// predictions with an error; model failures end the run.
    pub fn classify_paths(
        &mut self,
        paths: &[PathBuf],
        top: usize,
        options: PipelineOptions,
        mut on: impl FnMut(Prediction),
    ) -> Result<()> {
        let mut options = options;
        if let Some(max) = self.max_batch {
            options.batch = options.batch.min(max);
        }
        let spec = self.spec.clone();
        pipeline::run(paths, &spec, options, |event| {
            match event {
                Event::Failed { index, error } => on(Prediction {
                    index,
                    path: paths[index].clone(),
                    result: Err(error),
                }),
                Event::Batch { indices, data } => {
                    let probs = self.probabilities(data, indices.len())?;
                    for (&index, p) in indices.iter().zip(&probs) {
                        on(Prediction {
                            index,
                            path: paths[index].clone(),
                            result: Ok(self.scores(p, top)),
                        });
                    }
                }
            }
            Ok::<(), OrtError>(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_k() {
        let mut v = vec![1.0, 3.0, 2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(top_k(&v, 3), vec![1, 3, 2]);
        assert_eq!(top_k(&v, 10).len(), 4);
    }
}
