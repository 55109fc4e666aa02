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
            // A shard whose data was cut short would fail on every read, and its
            // items would never be extracted again: leave it out instead.
            let len = std::fs::metadata(&path).map(|m| m.len());
            if len.ok() != Some(header.file_len) {
                continue;
            }
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
            let (shape, values) =
                st::f32_tensor(path, &bytes, FEATURES).map_err(|e| FinetuneError::Cache {
                    path: path.clone(),
                    message: format!(
                        "unreadable shard ({}); delete it to extract its items again",
                        match e {
                            FinetuneError::Safetensors { message, .. } => message,
                            e => e.to_string(),
                        }
                    ),
                })?;
            // The shard was indexed from its header when the cache was opened; a
            // file replaced since must not be read out of bounds.
            let fits = shape.len() == 2
                && shape[1] == dim
                && wanted.iter().all(|&(_, row)| row < shape[0]);
            if !fits {
                return Err(FinetuneError::Cache {
                    path: path.clone(),
                    message: format!(
                        "shard holds features of shape {shape:?}, expected rows of width {dim}; \
                         delete the shard to extract its items again"
                    ),
                });
            }
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

    fn shard_paths(cache: &FeatureCache) -> Vec<PathBuf> {
        let mut shards: Vec<PathBuf> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        shards.sort();
        shards
    }

    #[test]
    fn rows_read_back_bit_exact_in_any_order() {
        let root = tempfile::tempdir().unwrap();
        let dim = 7;
        let mut rng = crate::rng::Rng::new(11);
        let all = items(0..40);
        let mut values: Vec<f32> = (0..40 * dim).map(|_| rng.normal() * 1e3).collect();
        // Bits a text or f64 round trip could lose.
        values[0] = -0.0;
        values[1] = f32::MIN_POSITIVE / 8.0;
        values[2] = f32::MAX;
        {
            let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
            // Uneven shards.
            for (lo, hi) in [(0, 1), (1, 17), (17, 40)] {
                (cache.add_shard(&all[lo..hi], &values[lo * dim..hi * dim], dim)).unwrap();
            }
        }
        let cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert_eq!((cache.len(), cache.dim()), (40, Some(dim)));
        assert!(all.iter().all(|s| cache.contains(s)));
        let mut order: Vec<usize> = (0..40).collect();
        rng.shuffle(&mut order);
        order.push(order[3]); // the same item twice
        let wanted: Vec<&str> = order.iter().map(|&i| all[i].as_str()).collect();
        let m = cache.read(&wanted).unwrap();
        assert_eq!((m.rows, m.cols), (order.len(), dim));
        for (r, &i) in order.iter().enumerate() {
            let got: Vec<u32> = m.row(r).iter().map(|v| v.to_bits()).collect();
            let want: Vec<u32> = (values[i * dim..(i + 1) * dim].iter())
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got, want, "row {r} (item {i})");
        }
        // Nothing asked, nothing read.
        assert_eq!(cache.read(&[]).unwrap().rows, 0);
    }

    #[test]
    fn every_part_of_the_key_names_its_own_cache() {
        let base = key("a");
        let variants = [
            key("b"),
            CacheKey::new(
                "a",
                "last_hidden_state",
                None,
                base.preprocessing.clone(),
                None,
            ),
            CacheKey::new(
                "a",
                "pool",
                Some("mean+l2".into()),
                base.preprocessing.clone(),
                None,
            ),
            CacheKey::new("a", "pool", None, serde_json::json!({"resize": 224}), None),
            CacheKey::new(
                "a",
                "pool",
                None,
                base.preprocessing.clone(),
                Some("t".into()),
            ),
            CacheKey {
                format: FORMAT + 1,
                ..base.clone()
            },
        ];
        let mut digests: Vec<String> = variants.iter().map(CacheKey::digest).collect();
        digests.push(base.digest());
        assert_eq!(base.digest(), key("a").digest(), "a digest is stable");
        assert_eq!(base.digest().len(), 64);
        let n = digests.len();
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), n, "every change gives another digest");

        // What one backbone cached is invisible to another.
        let root = tempfile::tempdir().unwrap();
        let mut a = FeatureCache::open(root.path(), &key("a")).unwrap();
        a.add_shard(&items(0..1), &[1.0, 2.0], 2).unwrap();
        let b = FeatureCache::open(root.path(), &key("b")).unwrap();
        assert!(b.is_empty() && b.dim().is_none());
        assert!(!b.contains(&items(0..1)[0]));
        assert!(b.dir().starts_with(root.path()));
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.dir().join("key.json")).unwrap()).unwrap();
        assert_eq!(info["backbone_sha256"], "b");
    }

    #[test]
    fn a_shard_cut_short_is_left_out_on_open() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        cache.add_shard(&items(0..2), &[1.0; 4], 2).unwrap();
        cache.add_shard(&items(2..4), &[2.0; 4], 2).unwrap();
        let shards = shard_paths(&cache);
        assert_eq!(shards.len(), 2);
        // Header whole, data truncated: the items must count as not cached (so
        // they are extracted again), not fail every later read.
        let cut = st::read_header(&shards[0]).unwrap().metadata[ITEMS].clone();
        let bytes = std::fs::read(&shards[0]).unwrap();
        std::fs::write(&shards[0], &bytes[..bytes.len() - 4]).unwrap();
        let reopened = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert_eq!(reopened.len(), 2);
        let (gone, kept): (Vec<String>, Vec<String>) = items(0..4)
            .into_iter()
            .partition(|s| cut.contains(s.as_str()));
        assert_eq!(gone.len(), 2);
        assert!(gone.iter().all(|s| !reopened.contains(s)));
        let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
        let m = reopened.read(&kept).unwrap();
        assert_eq!(m.rows, 2);
    }

    #[test]
    fn shards_broken_after_opening_give_errors_not_panics() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        let rows = items(0..3);
        cache.add_shard(&rows, &[0.5; 6], 2).unwrap();
        let shard = shard_paths(&cache).remove(0);
        let last = [rows[2].as_str()];

        // Truncated.
        let bytes = std::fs::read(&shard).unwrap();
        std::fs::write(&shard, &bytes[..bytes.len() - 1]).unwrap();
        let e = cache.read(&last).unwrap_err().to_string();
        assert!(
            e.contains("unreadable shard") && e.contains("shard-"),
            "{e}"
        );

        // Replaced by a whole file of another shape: fewer rows than indexed.
        let t = st::Tensor::f32(FEATURES, vec![1, 2], &[9.0, 9.0]);
        st::write(&shard, &[t], HashMap::new()).unwrap();
        let e = cache.read(&last).unwrap_err().to_string();
        assert!(e.contains("shape [1, 2]"), "{e}");

        // Another width.
        let t = st::Tensor::f32(FEATURES, vec![3, 1], &[9.0; 3]);
        st::write(&shard, &[t], HashMap::new()).unwrap();
        let e = cache.read(&last).unwrap_err().to_string();
        assert!(e.contains("width 2"), "{e}");

        // Gone.
        std::fs::remove_file(&shard).unwrap();
        let e = cache.read(&last).unwrap_err().to_string();
        assert!(e.contains("shard-"), "{e}");
    }

    #[test]
    fn shards_that_do_not_match_are_left_out_on_open() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = FeatureCache::open(root.path(), &key("a")).unwrap();
        cache.add_shard(&items(0..2), &[1.0; 4], 2).unwrap();
        let dir = cache.dir().to_owned();
        let put = |name: &str, tensors: &[st::Tensor], meta: &[(&str, String)]| {
            let meta = (meta.iter())
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            st::write(&dir.join(name), tensors, meta).unwrap();
        };
        let two = items(10..12).join(",");
        // Another width, an integer tensor, a row count that disagrees with the
        // items, no items at all, and a hidden (temporary) file.
        put(
            "w.safetensors",
            &[st::Tensor::f32(FEATURES, vec![2, 3], &[0.0; 6])],
            &[(ITEMS, two.clone())],
        );
        put(
            "i.safetensors",
            &[st::Tensor::i64(FEATURES, &[1, 2])],
            &[(ITEMS, two.clone())],
        );
        put(
            "r.safetensors",
            &[st::Tensor::f32(FEATURES, vec![3, 2], &[0.0; 6])],
            &[(ITEMS, two.clone())],
        );
        put(
            "n.safetensors",
            &[st::Tensor::f32(FEATURES, vec![2, 2], &[0.0; 4])],
            &[],
        );
        put(
            ".tmp.safetensors",
            &[st::Tensor::f32(FEATURES, vec![2, 2], &[0.0; 4])],
            &[(ITEMS, two)],
        );
        std::fs::write(dir.join("garbage.safetensors"), b"not a safetensors file").unwrap();
        let reopened = FeatureCache::open(root.path(), &key("a")).unwrap();
        assert_eq!((reopened.len(), reopened.dim()), (2, Some(2)));
        assert!(!reopened.contains(&items(10..11)[0]));
    }
}
