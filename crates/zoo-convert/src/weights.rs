//! Named access to a checkpoint's weights with the shape checked, and a record
//! of what was used, so that missing tensors and tensors the config does not
//! account for (an extra layer, a different architecture) are clear errors.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::checkpoint::Checkpoint;
use crate::error::{ConvertError, Result};

/// Tensors a checkpoint may hold beside the encoder: task heads, the pooler,
/// and buffers (position ids) that the graph computes itself.
const IGNORED_PREFIXES: &[&str] = &[
    "pooler.",
    "cls.",
    "lm_head.",
    "classifier.",
    "qa_outputs.",
    "pre_classifier.",
    "vocab_transform.",
    "vocab_layer_norm.",
    "vocab_projector.",
    "embeddings.position_ids",
    "embeddings.token_type_ids",
];

/// BatchNorm statistics: read, but buffers rather than parameters.
const BUFFER_SUFFIXES: &[&str] = &["running_mean", "running_var", "num_batches_tracked"];

#[derive(Debug)]
pub struct Weights<'c> {
    checkpoint: &'c Checkpoint,
    /// `bert.`, `roberta.`, ... when the checkpoint's names carry the model prefix.
    prefix: String,
    used: RefCell<BTreeSet<String>>,
}

impl<'c> Weights<'c> {
    /// Weights of the model whose names may start with `root.` (`bert`,
    /// `roberta`, `distilbert`): the prefix is used when any name has it.
    pub fn new(checkpoint: &'c Checkpoint, root: &str) -> Weights<'c> {
        let with_dot = format!("{root}.");
        let prefix = if checkpoint.names().any(|n| n.starts_with(&with_dot)) {
            with_dot
        } else {
            String::new()
        };
        Weights {
            checkpoint,
            prefix,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    fn error(&self, tensor: &str, message: String) -> ConvertError {
        ConvertError::Tensor {
            path: self.checkpoint.path().to_owned(),
            tensor: tensor.to_owned(),
            message,
        }
    }

    /// The first of `names` (relative to the prefix) that exists, as f32 bytes,
    /// checked to have `shape`.
    pub fn get_any(&self, names: &[&str], shape: &[usize]) -> Result<Vec<u8>> {
        let full: Vec<String> = names
            .iter()
            .map(|n| format!("{}{n}", self.prefix))
            .collect();
        self.get_full(&full, shape)
    }

    fn get_full(&self, full: &[String], shape: &[usize]) -> Result<Vec<u8>> {
        let Some(name) = full.iter().find(|n| self.checkpoint.info(n).is_some()) else {
            let close = self.close_names(&full[0]);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; similar names in the checkpoint: {}", close.join(", "))
            };
            return Err(self.error(
                &full[0],
                format!(
                    "missing from the checkpoint, which config.json says holds this architecture{hint}"
                ),
            ));
        };
        let info = self.checkpoint.info(name).expect("found above");
        if info.shape != shape {
            return Err(self.error(
                name,
                format!(
                    "shape {:?} does not match {shape:?} that config.json implies",
                    info.shape
                ),
            ));
        }
        self.used.borrow_mut().insert(name.clone());
        self.checkpoint.read_f32(name)
    }

    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<u8>> {
        self.get_any(&[name], shape)
    }

    /// Like [`Weights::get`] for a tensor outside the model prefix (a task
    /// head such as `classifier.1`); without a prefix the same as `get`.
    pub fn get_unprefixed(&self, name: &str, shape: &[usize]) -> Result<Vec<u8>> {
        self.get_full(&[name.to_owned()], shape)
    }

    /// A LayerNorm's scale and shift, under either naming (`weight`/`bias`, or
    /// the `gamma`/`beta` of older BERT checkpoints).
    pub fn layer_norm(&self, scope: &str, dim: usize) -> Result<(Vec<u8>, Vec<u8>)> {
        let weight = self.get_any(
            &[&format!("{scope}.weight"), &format!("{scope}.gamma")],
            &[dim],
        )?;
        let bias = self.get_any(
            &[&format!("{scope}.bias"), &format!("{scope}.beta")],
            &[dim],
        )?;
        Ok((weight, bias))
    }

    /// Number of values in the tensors used so far: the model's parameters.
    pub fn parameter_count(&self) -> u64 {
        let used = self.used.borrow();
        (used.iter())
            .filter(|n| !BUFFER_SUFFIXES.iter().any(|s| n.ends_with(s)))
            .filter_map(|n| self.checkpoint.info(n))
            .map(|i| i.shape.iter().product::<usize>() as u64)
            .sum()
    }

    /// Errors when the checkpoint holds tensors of the model that the graph did
    /// not use: the config and the weights disagree (e.g. more layers).
    pub fn check_all_used(&self) -> Result<()> {
        let used = self.used.borrow();
        let leftover: Vec<&str> = self
            .checkpoint
            .names()
            .filter(|n| !used.contains(*n))
            // With a prefix, names outside it are heads or buffers of the wrapper.
            .filter(|n| {
                n.strip_prefix(self.prefix.as_str())
                    .is_some_and(|rel| !is_ignored(rel))
            })
            .collect();
        if leftover.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = leftover.iter().take(5).copied().collect();
        let more = match leftover.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        Err(self.error(
            shown[0],
            format!(
                "the checkpoint holds {} tensor(s) the architecture in config.json does not use \
                 ({}{more}); config.json and model.safetensors do not describe the same model \
                 (check the layer counts, such as num_hidden_layers, and model_type)",
                leftover.len(),
                shown.join(", ")
            ),
        ))
    }

    /// Up to five checkpoint names sharing the last two components of `name`.
    fn close_names(&self, name: &str) -> Vec<String> {
        let tail: Vec<&str> = name.rsplit('.').take(2).collect();
        let tail = format!("{}.{}", tail.get(1).unwrap_or(&""), tail[0]);
        self.checkpoint
            .names()
            .filter(|n| n.ends_with(&tail))
            .take(5)
            .map(str::to_owned)
            .collect()
    }
}

fn is_ignored(name: &str) -> bool {
    IGNORED_PREFIXES.iter().any(|p| name.starts_with(p)) || name.ends_with("num_batches_tracked")
}
