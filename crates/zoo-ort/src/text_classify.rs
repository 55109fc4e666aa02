//! Text classification: a model that maps token ids straight to class scores
//! (e.g. one exported by `zoo finetune`). Added by the fine-tuning work; kept in
//! its own file so the text pipeline in `text.rs` stays as its owner wrote it.
//!
//! Tokenizing, length-grouped batching and feeding the token inputs are exactly
//! the embedder's, so they are reused rather than repeated: the classifier runs a
//! [`TextEmbedder`] over a view of the card whose scores output is declared a
//! ready-made (unpooled, unnormalised) embedding.

use std::path::Path;

use zoo_registry::Card;
use zoo_registry::card::{OutputKind, OutputSpec, Preprocessing};

use crate::classify::softmax;
use crate::error::{OrtError, Result};
use crate::session::ModelSession;
use crate::text::TextEmbedder;

#[derive(Debug)]
pub struct TextClassifier {
    inner: TextEmbedder,
    /// The output is logits, to be softmaxed; otherwise probabilities.
    softmax: bool,
    labels: Vec<String>,
}

impl TextClassifier {
    /// `labels` are the card's classes in output order.
    pub fn new(
        session: ModelSession,
        card: &Card,
        tokenizer_path: &Path,
        labels: Vec<String>,
    ) -> Result<TextClassifier> {
        let bad = |m: String| OrtError::Input(format!("model '{}': {m}", card.name));
        let io = card
            .io
            .as_ref()
            .ok_or_else(|| bad("its card has no io section".to_owned()))?;
        // Probabilities are read as they are; logits are softmaxed here.
        let out = io
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Probabilities)
            .or_else(|| io.outputs.iter().find(|o| o.kind == OutputKind::Logits))
            .ok_or_else(|| bad("its card names no logits or probabilities output".to_owned()))?;
        if let Some(dim) = out.dim
            && dim as usize != labels.len()
        {
            return Err(bad(format!("{} labels for {dim} outputs", labels.len())));
        }
        let mut view = card.clone();
        let view_io = view.io.as_mut().expect("checked above");
        view_io.outputs = vec![OutputSpec {
            name: out.name.clone(),
            kind: OutputKind::Embedding,
            dim: out.dim,
        }];
        match view_io.preprocessing.as_mut() {
            Some(Preprocessing::Text(t)) => t.normalize = false,
            _ => return Err(bad("its card has no text preprocessing".to_owned())),
        }
        Ok(TextClassifier {
            inner: TextEmbedder::new(session, &view, tokenizer_path)?,
            softmax: out.kind == OutputKind::Logits,
            labels,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn session(&self) -> &ModelSession {
        self.inner.session()
    }

    /// Texts per model run (default 32).
    pub fn set_batch(&mut self, batch: usize) {
        self.inner.set_batch(batch);
    }

    /// Class probabilities for each text, in order, calling `on(index, probs)` as
    /// chunks finish.
    pub fn probabilities_each(
        &mut self,
        texts: &[&str],
        mut on: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let softmaxed = self.softmax;
        let mut buf = Vec::new();
        self.inner.embed_each(texts, |i, scores| {
            buf.clear();
            buf.extend_from_slice(scores);
            if softmaxed {
                softmax(&mut buf);
            }
            on(i, &buf)
        })
    }

    /// Class probabilities for each text, in order.
    pub fn probabilities(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        self.probabilities_each(texts, |_, p| {
            out.push(p.to_vec());
            Ok(())
        })?;
        Ok(out)
    }
}
