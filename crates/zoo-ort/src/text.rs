//! Text embeddings: tokenize, batch by length, run, pool, normalise.
//!
//! Texts are embedded in chunks. Within a chunk they are sorted by token count
//! and batched in that order, so each batch pads only to its own longest text
//! instead of the chunk's; the results go back to input order. The next chunk is
//! tokenized on another thread while the model runs on the current one.

use std::path::Path;

use ort::value::TensorRef;
use tokenizers::{Encoding, Tokenizer, TruncationParams};
use zoo_registry::Card;
use zoo_registry::card::{OutputKind, Pooling, Preprocessing};

use crate::error::{OrtError, Result};
use crate::session::ModelSession;

/// Texts per chunk: large enough that length sorting removes most padding,
/// small enough that output starts promptly and memory stays flat.
const CHUNK: usize = 1024;

/// The integer type the model wants its token inputs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdType {
    I64,
    I32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    InputIds,
    AttentionMask,
    TokenTypeIds,
}

#[derive(Debug)]
pub struct TextEmbedder {
    session: ModelSession,
    tokenizer: Tokenizer,
    /// Model inputs in the order fed, with the tensor each gets.
    feeds: Vec<(String, Feed, IdType)>,
    output: String,
    /// Per-token output to pool, or a ready sentence embedding.
    per_token: bool,
    pooling: Pooling,
    normalize: bool,
    pad_id: i64,
    batch: usize,
}

impl TextEmbedder {
    /// Check the card against the session, load the tokenizer and override its
    /// truncation (the card's `max_length`) and padding (zoo pads per batch).
    pub fn new(session: ModelSession, card: &Card, tokenizer_path: &Path) -> Result<TextEmbedder> {
        let bad = |m: String| OrtError::Input(format!("model '{}': {m}", card.name));
        let io = card
            .io
            .as_ref()
            .ok_or_else(|| bad("its card has no io section".to_owned()))?;
        let pre = match &io.preprocessing {
            Some(Preprocessing::Text(t)) => t,
            Some(Preprocessing::Image(_)) => {
                return Err(bad(format!(
                    "it takes images, not text; use `zoo predict {}`",
                    card.name
                )));
            }
            None => return Err(bad("its card has no text preprocessing".to_owned())),
        };
        let out = io
            .outputs
            .iter()
            .find(|o| matches!(o.kind, OutputKind::TokenEmbeddings | OutputKind::Embedding))
            .ok_or_else(|| {
                bad("its card names no token-embeddings or embedding output".to_owned())
            })?;
        if !session.outputs().iter().any(|o| o.name == out.name) {
            return Err(bad(format!("the model has no output '{}'", out.name)));
        }

        let mut feeds = Vec::new();
        for info in session.inputs() {
            let feed = match info.name.as_str() {
                "input_ids" => Feed::InputIds,
                "attention_mask" => Feed::AttentionMask,
                "token_type_ids" => Feed::TokenTypeIds,
                other => {
                    return Err(bad(format!(
                        "zoo does not know what to feed model input '{other}'"
                    )));
                }
            };
            let ty = match info.dtype.as_str() {
                "int64" => IdType::I64,
                "int32" => IdType::I32,
                other => {
                    return Err(bad(format!(
                        "input '{}' is {other}; zoo feeds int64 or int32",
                        info.name
                    )));
                }
            };
            feeds.push((info.name.clone(), feed, ty));
        }
        if !feeds.iter().any(|f| f.1 == Feed::InputIds) {
            return Err(bad("the model has no input_ids input".to_owned()));
        }

        let tok_err = |message: String| OrtError::Tokenizer {
            path: tokenizer_path.to_owned(),
            message,
        };
        let mut tokenizer =
            Tokenizer::from_file(tokenizer_path).map_err(|e| tok_err(e.to_string()))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id as i64)
            .or_else(|| tokenizer.token_to_id("[PAD]").map(i64::from))
            .unwrap_or(0);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: pre.max_length as usize,
                ..Default::default()
            }))
            .map_err(|e| tok_err(e.to_string()))?;
        tokenizer.with_padding(None);

        Ok(TextEmbedder {
            session,
            tokenizer,
            feeds,
            output: out.name.clone(),
            per_token: out.kind == OutputKind::TokenEmbeddings,
            pooling: pre.pooling.unwrap_or(Pooling::Mean),
            normalize: pre.normalize,
            pad_id,
            batch: 32,
        })
    }

    pub fn session(&self) -> &ModelSession {
        &self.session
    }

    /// Texts per model run (default 32).
    pub fn set_batch(&mut self, batch: usize) {
        self.batch = batch.max(1);
    }

    /// Token ids as the model will see them (after truncation), for checks.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(encode(&self.tokenizer, &[text])?
            .remove(0)
            .get_ids()
            .to_vec())
    }

    /// Embed `texts`, in order.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        self.embed_each(texts, |_, e| {
            out.push(e.to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    /// Embed `texts`, calling `on(index, embedding)` in input order as chunks
    /// finish; tokenizing the next chunk overlaps running the current one.
    pub fn embed_each(
        &mut self,
        texts: &[&str],
        mut on: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let chunks: Vec<&[&str]> = texts.chunks(CHUNK).collect();
        let mut next = chunks
            .first()
            .map(|c| encode(&self.tokenizer, c))
            .transpose()?;
        let mut base = 0;
        for i in 0..chunks.len() {
            let encodings = next.take().expect("chunk encoded");
            let settings = self.settings();
            let (session, tokenizer, feeds, output) = (
                &mut self.session,
                &self.tokenizer,
                &self.feeds,
                &self.output,
            );
            let upcoming = chunks.get(i + 1).copied();
            let (embedded, encoded) = std::thread::scope(|s| {
                let handle = upcoming.map(|c| s.spawn(move || encode(tokenizer, c)));
                let embedded = run_chunk(session, feeds, output, settings, &encodings);
                let encoded = handle.map(|h| h.join().expect("tokenizer thread panicked"));
                (embedded, encoded)
            });
            next = encoded.transpose()?;
            for (j, e) in embedded?.iter().enumerate() {
                on(base + j, e)?;
            }
            base += encodings.len();
        }
        Ok(())
    }

    fn settings(&self) -> Settings {
        Settings {
            per_token: self.per_token,
            pooling: self.pooling,
            normalize: self.normalize,
            pad_id: self.pad_id,
            batch: self.batch,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    per_token: bool,
    pooling: Pooling,
    normalize: bool,
    pad_id: i64,
    batch: usize,
}

fn encode(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Vec<Encoding>> {
    texts
        .iter()
        .map(|t| {
            tokenizer
                .encode_fast(*t, true)
                .map_err(|e| OrtError::Input(format!("cannot tokenize {t:?}: {e}")))
        })
        .collect()
}

/// Run one chunk in length-sorted batches; embeddings come back in chunk order.
fn run_chunk(
    session: &mut ModelSession,
    feeds: &[(String, Feed, IdType)],
    output: &str,
    s: Settings,
    encodings: &[Encoding],
) -> Result<Vec<Vec<f32>>> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut result: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
    for group in order.chunks(s.batch) {
        let b = group.len();
        let seq = group
            .iter()
            .map(|&i| encodings[i].len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![s.pad_id; b * seq];
        let mut mask = vec![0i64; b * seq];
        let mut types = vec![0i64; b * seq];
        for (row, &i) in group.iter().enumerate() {
            let e = &encodings[i];
            for (t, ((&id, &m), &ty)) in e
                .get_ids()
                .iter()
                .zip(e.get_attention_mask())
                .zip(e.get_type_ids())
                .enumerate()
            {
                ids[row * seq + t] = id as i64;
                mask[row * seq + t] = m as i64;
                types[row * seq + t] = ty as i64;
            }
        }
        let narrow = |v: &[i64]| v.iter().map(|&x| x as i32).collect::<Vec<i32>>();
        let wide: Vec<(&String, &Vec<i64>, IdType)> = feeds
            .iter()
            .map(|(name, feed, ty)| {
                let data = match feed {
                    Feed::InputIds => &ids,
                    Feed::AttentionMask => &mask,
                    Feed::TokenTypeIds => &types,
                };
                (name, data, *ty)
            })
            .collect();
        let narrowed: Vec<Vec<i32>> = wide
            .iter()
            .map(|(_, d, ty)| {
                if *ty == IdType::I32 {
                    narrow(d)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let mut inputs = Vec::with_capacity(feeds.len());
        for ((name, data, ty), small) in wide.iter().zip(&narrowed) {
            let value: ort::session::SessionInputValue<'_> = match ty {
                IdType::I64 => TensorRef::from_array_view(([b, seq], data.as_slice()))
                    .map_err(OrtError::ort(format!("input '{name}'")))?
                    .into(),
                IdType::I32 => TensorRef::from_array_view(([b, seq], small.as_slice()))
                    .map_err(OrtError::ort(format!("input '{name}'")))?
                    .into(),
            };
            inputs.push((name.as_str(), value));
        }
        let outputs = session
            .session
            .run(inputs)
            .map_err(OrtError::ort("running the model"))?;
        let (shape, values) = outputs[output]
            .try_extract_tensor::<f32>()
            .map_err(OrtError::ort(format!("output '{output}'")))?;
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        for (row, &i) in group.iter().enumerate() {
            let mut v = if s.per_token {
                let [ob, os, h] = dims[..] else {
                    return Err(OrtError::Input(format!(
                        "output '{output}' has shape {dims:?}, expected [batch, sequence, hidden]"
                    )));
                };
                if ob != b || os != seq {
                    return Err(OrtError::Input(format!(
                        "output '{output}' has shape {dims:?}, expected [{b}, {seq}, hidden]"
                    )));
                }
                pool(
                    &values[row * seq * h..(row + 1) * seq * h],
                    &mask[row * seq..(row + 1) * seq],
                    h,
                    s.pooling,
                )
            } else {
                let h = *dims.last().unwrap_or(&0);
                values[row * h..(row + 1) * h].to_vec()
            };
            if s.normalize {
                l2_normalize(&mut v);
            }
            result[i] = v;
        }
    }
    Ok(result)
}

/// Pool per-token vectors (`seq * h`, row-major) over the tokens the mask keeps,
/// as sentence-transformers does: mean divides by the kept count, max ignores
/// masked tokens, CLS takes the first token.
pub fn pool(tokens: &[f32], mask: &[i64], h: usize, pooling: Pooling) -> Vec<f32> {
    let kept = tokens
        .chunks_exact(h)
        .zip(mask)
        .filter(|(_, m)| **m != 0)
        .map(|(t, _)| t);
    match pooling {
        Pooling::Cls => tokens[..h].to_vec(),
        Pooling::Mean => {
            let mut sum = vec![0f64; h];
            let mut n = 0usize;
            for t in kept {
                for (s, &x) in sum.iter_mut().zip(t) {
                    *s += x as f64;
                }
                n += 1;
            }
            let n = n.max(1) as f64;
            sum.into_iter().map(|s| (s / n) as f32).collect()
        }
        Pooling::Max => {
            let mut best = vec![f32::NEG_INFINITY; h];
            for t in kept {
                for (b, &x) in best.iter_mut().zip(t) {
                    *b = b.max(x);
                }
            }
            best
        }
    }
}

/// Scale to unit length (a zero vector stays zero), like torch's `normalize`.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
        .max(1e-12);
    for x in v.iter_mut() {
        *x = (*x as f64 / norm) as f32;
    }
}

/// Write embeddings (`rows`, each `dim` floats) as one safetensors tensor
/// `embeddings` [rows, dim] float32, with `metadata` in the header. Written to a
/// temporary file beside `path` and renamed, so readers never see a partial file.
pub fn write_safetensors(
    path: &Path,
    rows: &[Vec<f32>],
    metadata: std::collections::HashMap<String, String>,
) -> Result<()> {
    let dim = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != dim) {
        return Err(OrtError::Input("embeddings differ in length".to_owned()));
    }
    let mut bytes = Vec::with_capacity(rows.len() * dim * 4);
    for x in rows.iter().flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![rows.len(), dim],
        &bytes,
    )
    .map_err(|e| OrtError::Input(format!("safetensors: {e}")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".zoo-embed-")
        .suffix(".safetensors")
        .tempfile_in(&dir)
        .map_err(|e| OrtError::io(&dir, e))?;
    safetensors::serialize_to_file([("embeddings", view)], Some(metadata), tmp.path())
        .map_err(|e| OrtError::Input(format!("writing {}: {e}", path.display())))?;
    tmp.persist(path).map_err(|e| OrtError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_respects_the_mask() {
        let tokens = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let mask = [1, 1, 0];
        assert_eq!(pool(&tokens, &mask, 2, Pooling::Mean), vec![2.0, 3.0]);
        assert_eq!(pool(&tokens, &mask, 2, Pooling::Max), vec![3.0, 4.0]);
        assert_eq!(pool(&tokens, &mask, 2, Pooling::Cls), vec![1.0, 2.0]);
    }

    #[test]
    fn normalizes_to_unit_length() {
        let mut v = [3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, [0.0, 0.0]);
    }
}
