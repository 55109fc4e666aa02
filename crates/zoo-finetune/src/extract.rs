//! Filling the feature cache: only items whose features are not cached reach the
//! backbone, each distinct input once, streamed in batches and written out in
//! shards, so memory holds the backbone, a batch and one shard whatever the data
//! set's size.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use crate::cache::FeatureCache;
use crate::data::{Example, Input};
use crate::error::Result;

/// Rows per cache shard.
pub const SHARD_ROWS: usize = 1024;

/// Receives (position in the inputs, features or why the input could not be read).
pub type Sink<'a> = dyn FnMut(usize, std::result::Result<&[f32], String>) + 'a;

/// Runs a backbone on inputs.
pub trait Extractor {
    /// The execution provider that really runs the backbone.
    fn provider(&self) -> String;

    /// Features of each input, in order; `sink` receives (position in `inputs`,
    /// features or why the input could not be read). May be called in any order,
    /// but once per input.
    fn extract(&mut self, inputs: &[&Input], sink: &mut Sink) -> Result<()>;
}

/// Extraction progress, for a bar or log lines.
pub trait ExtractProgress {
    /// `total` items need the backbone; `cached` were found in the cache.
    fn start(&self, total: usize, cached: usize);
    fn advance(&self, done: usize);
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ExtractProgress for NoProgress {
    fn start(&self, _: usize, _: usize) {}
    fn advance(&self, _: usize) {}
    fn finish(&self) {}
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExtractStats {
    /// Distinct inputs (by sha256).
    pub items: usize,
    /// Found in the cache.
    pub cached: usize,
    /// Run through the backbone now.
    pub extracted: usize,
    /// Could not be read or decoded.
    pub failed: usize,
    pub seconds: f64,
    /// Execution provider that ran the backbone; `None` when everything was cached.
    pub provider: Option<String>,
}

/// Makes sure every example's features are cached. `make_extractor` is called
/// only if something is missing, so a fully cached run never loads the backbone
/// (or even ONNX Runtime). Returns the inputs that failed, by sha256, with why.
pub fn ensure_cached<'a>(
    cache: &mut FeatureCache,
    examples: impl IntoIterator<Item = &'a Example>,
    make_extractor: &mut dyn FnMut() -> Result<Box<dyn Extractor>>,
    progress: &dyn ExtractProgress,
) -> Result<(ExtractStats, HashMap<String, String>)> {
    let start = Instant::now();
    let mut seen = HashSet::new();
    let mut missing: Vec<&Example> = Vec::new();
    let mut stats = ExtractStats::default();
    for e in examples {
        if !seen.insert(e.sha256.as_str()) {
            continue;
        }
        stats.items += 1;
        if cache.contains(&e.sha256) {
            stats.cached += 1;
        } else {
            missing.push(e);
        }
    }
    let mut failed = HashMap::new();
    if missing.is_empty() {
        stats.seconds = start.elapsed().as_secs_f64();
        return Ok((stats, failed));
    }
    let mut extractor = make_extractor()?;
    stats.provider = Some(extractor.provider());
    progress.start(missing.len(), stats.cached);
    let mut done = 0usize;
    for shard in missing.chunks(SHARD_ROWS) {
        let inputs: Vec<&Input> = shard.iter().map(|e| &e.input).collect();
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; shard.len()];
        extractor.extract(&inputs, &mut |i, result| {
            match result {
                Ok(f) => rows[i] = Some(f.to_vec()),
                Err(why) => {
                    failed.insert(shard[i].sha256.clone(), why);
                }
            }
            done += 1;
            progress.advance(done);
        })?;
        let mut items = Vec::with_capacity(shard.len());
        let mut values = Vec::new();
        let mut dim = 0;
        for (e, row) in shard.iter().zip(rows) {
            if let Some(row) = row {
                dim = row.len();
                items.push(e.sha256.clone());
                values.extend_from_slice(&row);
            }
        }
        cache.add_shard(&items, &values, dim)?;
        stats.extracted += items.len();
    }
    progress.finish();
    stats.failed = failed.len();
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((stats, failed))
}
