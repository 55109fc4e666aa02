//! The on-disk feature cache.
//!
//! One directory per backbone configuration, named by a digest of everything that
//! changes the features (backbone sha256, feature tensor, pooling, preprocessing,
//! tokenizer). Inside, safetensors shards each hold a `features` tensor
//! `[rows, dim]` and, in their metadata, the sha256 of the input behind each row.
//! Shards are only ever added, each written atomically, so an interrupted
//! extraction keeps every finished shard and concurrent runs cannot corrupt one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{FinetuneError, Result};
use crate::st::{self, Tensor};
use crate::train::Matrix;

/// Bumped when the shard layout or the extraction changes meaning.
const FORMAT: u32 = 1;
const FEATURES: &str = "features";
const ITEMS: &str = "items";

/// What determines a backbone's features; its digest names the cache directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheKey {
    pub format: u32,
    pub backbone_sha256: String,
    pub feature: String,
    /// How token features become one vector (text), e.g. "mean+l2".
    pub pooling: Option<String>,
    /// The card's preprocessing, as JSON.
    pub preprocessing: serde_json::Value,
    pub tokenizer_sha256: Option<String>,
}

impl CacheKey {
    pub fn new(
        backbone_sha256: &str,
        feature: &str,
        pooling: Option<String>,
        preprocessing: serde_json::Value,
        tokenizer_sha256: Option<String>,
    ) -> CacheKey {
        CacheKey {
            format: FORMAT,
            backbone_sha256: backbone_sha256.to_owned(),
            feature: feature.to_owned(),
            pooling,
            preprocessing,
            tokenizer_sha256,
        }
    }

    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cache key serializes");
        hex::encode(Sha256::digest(json))
    }
}

/// Where feature caches live: `ZOO_HOME/cache/features`.
pub fn default_root() -> PathBuf {
    zoo_env::cache_dir().join("features")
}

#[derive(Debug)]
pub struct FeatureCache {
    dir: PathBuf,
    dim: Option<usize>,
    shards: Vec<PathBuf>,
    /// item sha256 -> (shard, row)
    index: HashMap<String, (usize, usize)>,
}

impl FeatureCache {
    /// Opens (creating if needed) the cache for `key` under `root`, indexing the
    /// shards already there from their headers alone. Unreadable shards (say,
    /// from a disk that filled up) are ignored: their items are extracted again.
    pub fn open(root: &Path, key: &CacheKey) -> Result<FeatureCache> {
        let dir = root.join(key.digest());
        std::fs::create_dir_all(&dir).map_err(FinetuneError::io(&dir))?;
        let info = dir.join("key.json");
        if !info.is_file() {
            let json = serde_json::to_vec_pretty(key).expect("a cache key serializes");
            st::write_atomic(&info, &json)?;
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(FinetuneError::io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "safetensors")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        let mut cache = FeatureCache {
            dir,
            dim: None,
            shards: Vec::new(),
            index: HashMap::new(),
        };
        for path in names {
            let Ok(header) = st::read_header(&path) else {
                continue;
            };
            let Some((dtype, shape)) = header.tensors.get(FEATURES) else {
                continue;
            };
            let items: Vec<&str> = header
                .metadata
                .get(ITEMS)
                .map(|s| s.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            let [rows, dim] = shape.as_slice() else {
                continue;
            };
            if dtype != "F32" || *rows != items.len() || cache.dim.is_some_and(|d| d != *dim) {
                continue;
            }
            cache.dim = Some(*dim);
            let shard = cache.shards.len();
            cache.shards.push(path);
            for (row, sha) in items.into_iter().enumerate() {
                cache.index.entry(sha.to_owned()).or_insert((shard, row));
            }
        }
        Ok(cache)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// Items cached.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.index.contains_key(sha256)
    }

    /// Adds one shard: `features` holds `items.len()` rows of `dim` values.
    pub fn add_shard(&mut self, items: &[String], features: &[f32], dim: usize) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        if features.len() != items.len() * dim || self.dim.is_some_and(|d| d != dim) {
            return Err(FinetuneError::Cache {
                path: self.dir.clone(),
                message: format!(
                    "shard of {} items with {} values does not fit width {}",
                    items.len(),
                    features.len(),
                    self.dim.unwrap_or(dim)
                ),
            });
        }
        let mut h = Sha256::new();
        items.iter().for_each(|s| h.update(s.as_bytes()));
        let name = format!("shard-{}.safetensors", &hex::encode(h.finalize())[..16]);
        let path = self.dir.join(name);
        let metadata = HashMap::from([
            (ITEMS.to_owned(), items.join(",")),
            ("format".to_owned(), FORMAT.to_string()),
        ]);
        st::write(
            &path,
            &[Tensor::f32(FEATURES, vec![items.len(), dim], features)],
            metadata,
        )?;
        self.dim = Some(dim);
        let shard = self.shards.len();
        self.shards.push(path);
        for (row, sha) in items.iter().enumerate() {
            self.index.entry(sha.clone()).or_insert((shard, row));
        }
        Ok(())
    }

    /// The cached features of `items`, in order, as one matrix. Reads each shard
    /// involved once; memory holds the result and one shard.
    pub fn read(&self, items: &[&str]) -> Result<Matrix> {
        let dim = self.dim.unwrap_or(0);
        let mut out = Matrix::zeros(items.len(), dim);
        let mut by_shard: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.shards.len()];
        for (i, sha) in items.iter().enumerate() {
            let &(shard, row) = self.index.get(*sha).ok_or_else(|| FinetuneError::Cache {
                path: self.dir.clone(),
                message: format!("item {sha} is not cached"),
            })?;
            by_shard[shard].push((i, row));
        }
        for (shard, wanted) in by_shard.iter().enumerate() {
            if wanted.is_empty() {
                continue;
            }
            let path = &self.shards[shard];
            let bytes = std::fs::read(path).map_err(FinetuneError::io(path))?;
            let (_, values) = st::f32_tensor(path, &bytes, FEATURES)?;
            for &(i, row) in wanted {
                out.row_mut(i)
                    .copy_from_slice(&values[row * dim..(row + 1) * dim]);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sha: &str) -> CacheKey {
        CacheKey::new(sha, "pool", None, serde_json::json!({"resize": 256}), None)
    }

    fn items(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{i:064x}")).collect()
    }

    #[test]
    fn shards_survive_reopening_and_read_back_in_any_order() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert!(cache.is_empty());
        let (first, second) = (items(0..3), items(3..5));
        let values: Vec<f32> = (0..10).map(|v| v as f32 * 0.5 - 1.0).collect();
        cache.add_shard(&first, &values[..6], 2).unwrap();
        cache.add_shard(&second, &values[6..], 2).unwrap();

        let reopened = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert_eq!((reopened.len(), reopened.dim()), (5, Some(2)));
        let order = [&second[1], &first[0], &second[0], &first[2]];
        let order: Vec<&str> = order.iter().map(|s| s.as_str()).collect();
        let m = reopened.read(&order).unwrap();
        assert_eq!(m.data, [3.0, 3.5, -1.0, -0.5, 2.0, 2.5, 1.0, 1.5]);
        let err = reopened.read(&["f".repeat(64).as_str()]).unwrap_err();
        assert!(err.to_string().contains("is not cached"), "{err}");
    }

    #[test]
    fn another_backbone_gets_another_cache() {
        let root = tempfile::tempdir().unwrap();
        let a = FeatureCache::open(root.path(), &key("a")).unwrap();
        let b = FeatureCache::open(root.path(), &key("b")).unwrap();
        assert_ne!(a.dir(), b.dir());
        let mut other_pre = key("a");
        other_pre.preprocessing = serde_json::json!({"resize": 224});
        assert_ne!(other_pre.digest(), key("a").digest());
    }

    #[test]
    fn wrong_widths_are_refused_and_broken_shards_skipped() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        cache.add_shard(&items(0..2), &[1.0; 4], 2).unwrap();
        let err = cache.add_shard(&items(2..3), &[1.0; 3], 3).unwrap_err();
        assert!(err.to_string().contains("does not fit width 2"), "{err}");
        // A shard cut short (a crash mid-write elsewhere) is ignored on open, so
        // its items are computed again rather than read as garbage.
        std::fs::write(cache.dir().join("zz-broken.safetensors"), b"\x10\x00").unwrap();
        let reopened = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert_eq!(reopened.len(), 2);
    }
}
