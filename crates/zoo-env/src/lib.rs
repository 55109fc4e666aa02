//! zoo-env: the one place that names the environment variables zoo reads and
//! derives its directories from them. `docs/environment.md` documents each; keep
//! the two in step.

use std::path::PathBuf;

/// Names of the environment variables zoo reads.
pub mod vars {
    /// Root of zoo's own data (store, runtime, caches). Default: `$XDG_DATA_HOME/zoo`,
    /// else `~/.local/share/zoo`.
    pub const ZOO_HOME: &str = "ZOO_HOME";
    /// Where ONNX Runtime libraries are provisioned. Default: `$ZOO_HOME/runtime`.
    pub const ZOO_RUNTIME_DIR: &str = "ZOO_RUNTIME_DIR";
    /// Optional config file. Default: `$XDG_CONFIG_HOME/zoo/config.yaml`.
    pub const ZOO_CONFIG: &str = "ZOO_CONFIG";
    /// Python interpreter with pip, for PyPI sources and runtime installs.
    pub const ZOO_PYTHON: &str = "ZOO_PYTHON";
    /// Seconds without data before a download counts as stalled (default 30).
    pub const ZOO_STALL_TIMEOUT: &str = "ZOO_STALL_TIMEOUT";
    /// First retry delay in seconds, doubled per attempt (default 0.5).
    pub const ZOO_RETRY_BASE: &str = "ZOO_RETRY_BASE";
    /// Seconds to wait for a TCP (and TLS) connection (default 10).
    pub const ZOO_CONNECT_TIMEOUT: &str = "ZOO_CONNECT_TIMEOUT";
    /// Slowest acceptable body, in bytes per second averaged over each stall
    /// window (default 1024); a trickling server is cut off and retried.
    pub const ZOO_MIN_RATE: &str = "ZOO_MIN_RATE";
    /// Bytes per request of a `zoo push` upload (default 64M).
    pub const ZOO_OCI_CHUNK_SIZE: &str = "ZOO_OCI_CHUNK_SIZE";
    /// Largest file zoo writes when its card declares no size (default 16G).
    pub const ZOO_MAX_DOWNLOAD_SIZE: &str = "ZOO_MAX_DOWNLOAD_SIZE";
    /// Extra catalog directories, `:`-separated, merged over the built-in catalog.
    pub const ZOO_REGISTRY: &str = "ZOO_REGISTRY";
    /// `1` forbids all network access.
    pub const ZOO_OFFLINE: &str = "ZOO_OFFLINE";
    /// Path to a `libonnxruntime` shared library to use instead of zoo's own.
    pub const ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";
    /// Hugging Face home; the hub cache defaults to `$HF_HOME/hub`.
    pub const HF_HOME: &str = "HF_HOME";
    /// Hugging Face hub cache directory, overriding `$HF_HOME/hub`.
    pub const HF_HUB_CACHE: &str = "HF_HUB_CACHE";
    /// Base URL of the Hugging Face Hub (or a mirror). Default `https://huggingface.co`.
    pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
    /// Access token for gated and private repositories. Never printed.
    pub const HF_TOKEN: &str = "HF_TOKEN";
    /// `1` forbids network access, as in Python huggingface_hub.
    pub const HF_HUB_OFFLINE: &str = "HF_HUB_OFFLINE";
    /// Test only: `,`-separated failpoint names at which zoo aborts on the spot,
    /// leaving the disk as a `kill -9` there would (see [`crate::failpoint`]).
    pub const ZOO_FAILPOINT: &str = "ZOO_FAILPOINT";
    pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
    pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
    pub const HOME: &str = "HOME";
}

fn var_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    var_path(vars::HOME).unwrap_or_else(|| PathBuf::from("/"))
}

fn truthy(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on" | "TRUE" | "True"))
}

/// zoo's data root.
pub fn zoo_home() -> PathBuf {
    var_path(vars::ZOO_HOME).unwrap_or_else(|| {
        var_path(vars::XDG_DATA_HOME)
            .unwrap_or_else(|| home().join(".local/share"))
            .join("zoo")
    })
}

/// Content-addressed blobs and per-model manifests for non-Hugging Face sources.
pub fn store_dir() -> PathBuf {
    zoo_home().join("store")
}

/// ONNX Runtime libraries provisioned by `zoo runtime install`.
pub fn runtime_dir() -> PathBuf {
    var_path(vars::ZOO_RUNTIME_DIR).unwrap_or_else(|| zoo_home().join("runtime"))
}

/// ONNX graphs zoo-convert built from pulled checkpoints, one folder per
/// checkpoint, config and builder version (docs/convert.md).
pub fn converted_dir() -> PathBuf {
    store_dir().join("derived").join("onnx")
}

/// Derived data that can be rebuilt: optimized sessions, cached features.
pub fn cache_dir() -> PathBuf {
    zoo_home().join("cache")
}

/// The catalog index: parsed cards of each catalog directory (the user
/// catalog, `--registry` directories), one file per directory, rebuilt from
/// the cards whenever they change.
pub fn catalog_index_dir() -> PathBuf {
    cache_dir().join("catalog-index")
}

/// Models created locally by `zoo finetune`, and their cards.
pub fn local_models_dir() -> PathBuf {
    zoo_home().join("models")
}

/// The user's own catalog: cards `zoo add` and `zoo pull hf:ORG/NAME` write
/// from hub metadata (and any card the user puts there), merged over the
/// built-in catalog and local models, under any `--registry` directory.
pub fn user_catalog_dir() -> PathBuf {
    zoo_home().join("catalog")
}

/// The Hugging Face hub cache, shared with Python huggingface_hub.
pub fn hf_hub_cache() -> PathBuf {
    var_path(vars::HF_HUB_CACHE).unwrap_or_else(|| {
        var_path(vars::HF_HOME)
            .unwrap_or_else(|| {
                var_path(vars::XDG_CACHE_HOME)
                    .unwrap_or_else(|| home().join(".cache"))
                    .join("huggingface")
            })
            .join("hub")
    })
}

pub fn hf_endpoint() -> String {
    std::env::var(vars::HF_ENDPOINT)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| "https://huggingface.co".to_owned())
}

pub fn hf_token() -> Option<String> {
    std::env::var(vars::HF_TOKEN).ok().filter(|t| !t.is_empty())
}

/// Whether the environment forbids network access.
pub fn offline() -> bool {
    truthy(vars::ZOO_OFFLINE) || truthy(vars::HF_HUB_OFFLINE)
}

/// A setting that is present but not a value zoo understands: names the
/// variable, what it holds and what it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSetting {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl std::fmt::Display for BadSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Debug quotes the value and escapes control characters.
        write!(f, "{}={:?} is not {}", self.name, self.value, self.expected)
    }
}

impl std::error::Error for BadSetting {}

fn setting(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A positive number of seconds from `name`, or `default` when unset.
fn seconds(name: &'static str, default: f64) -> Result<std::time::Duration, BadSetting> {
    let Some(value) = setting(name) else {
        return Ok(std::time::Duration::from_secs_f64(default));
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
        .map(std::time::Duration::from_secs_f64)
        .ok_or(BadSetting {
            name,
            value,
            expected: "a positive number of seconds",
        })
}

/// How long a download may go without data (also: wait for response headers).
pub fn stall_timeout() -> Result<std::time::Duration, BadSetting> {
    seconds(vars::ZOO_STALL_TIMEOUT, 30.0)
}

pub fn connect_timeout() -> Result<std::time::Duration, BadSetting> {
    seconds(vars::ZOO_CONNECT_TIMEOUT, 10.0)
}

pub fn retry_base() -> Result<std::time::Duration, BadSetting> {
    seconds(vars::ZOO_RETRY_BASE, 0.5)
}

/// Bytes per second a body must average over each stall window; 0 disables.
pub fn min_rate() -> Result<u64, BadSetting> {
    match setting(vars::ZOO_MIN_RATE) {
        None => Ok(1024),
        Some(value) => parse_size(&value).ok_or(BadSetting {
            name: vars::ZOO_MIN_RATE,
            value,
            expected: "a number of bytes per second (e.g. 1024 or 64K)",
        }),
    }
}

/// Bytes per `PATCH` of a `zoo push` upload: a push killed between chunks
/// resumes after the last one. 64 MiB measured fastest against distribution
/// 2.8 (docs/performance.md); a registry behind a proxy that limits request
/// bodies needs less.
pub fn oci_chunk_size() -> Result<u64, BadSetting> {
    let bad = |value| BadSetting {
        name: vars::ZOO_OCI_CHUNK_SIZE,
        value,
        expected: "a size from 1M to 1G (e.g. 16M)",
    };
    match setting(vars::ZOO_OCI_CHUNK_SIZE) {
        None => Ok(64 << 20),
        Some(value) => parse_size(&value)
            .filter(|n| (1 << 20..=1 << 30).contains(n))
            .ok_or_else(|| bad(value)),
    }
}

/// Default of [`max_download_size`]: large enough for any single file in the
/// catalog that lacks a declared size, small enough to leave most disks usable.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 16 << 30;

/// The most bytes written for one file whose card declares no size.
pub fn max_download_size() -> Result<u64, BadSetting> {
    match setting(vars::ZOO_MAX_DOWNLOAD_SIZE) {
        None => Ok(DEFAULT_MAX_DOWNLOAD_SIZE),
        Some(value) => parse_size(&value).filter(|n| *n > 0).ok_or(BadSetting {
            name: vars::ZOO_MAX_DOWNLOAD_SIZE,
            value,
            expected: "a positive size in bytes, optionally with K, M, G or T (powers of 1024)",
        }),
    }
}

/// `123`, `64K`, `16G`, `1T` (binary multiples; a trailing `B`/`iB` is allowed).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last()? {
        (i, 'K' | 'k') => (&t[..i], 10),
        (i, 'M' | 'm') => (&t[..i], 20),
        (i, 'G' | 'g') => (&t[..i], 30),
        (i, 'T' | 't') => (&t[..i], 40),
        _ => (t, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

/// The Python interpreter the user chose for pip (`ZOO_PYTHON`), if any: PyPI
/// sources and `zoo runtime install` both run its `-m pip`.
pub fn python() -> Option<String> {
    std::env::var(vars::ZOO_PYTHON)
        .ok()
        .filter(|p| !p.is_empty())
}

pub fn ort_dylib_path() -> Option<PathBuf> {
    var_path(vars::ORT_DYLIB_PATH)
}

/// Test only: abort the process here when `ZOO_FAILPOINT` names `point`, so that
/// tests can reproduce a `kill -9` at an exact step (e.g. between two renames)
/// and check that the next command recovers. Nothing is cleaned up or flushed.
pub fn failpoint(point: &str) {
    let hit =
        std::env::var(vars::ZOO_FAILPOINT).is_ok_and(|v| v.split(',').any(|p| p.trim() == point));
    if hit {
        eprintln!("zoo: failpoint '{point}' (ZOO_FAILPOINT): aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        for (text, want) in [
            ("0", Some(0)),
            ("1024", Some(1024)),
            ("64K", Some(64 << 10)),
            ("16G", Some(16 << 30)),
            ("16GiB", Some(16 << 30)),
            ("2MB", Some(2 << 20)),
            (" 1t ", Some(1 << 40)),
            ("", None),
            ("G", None),
            ("-1", None),
            ("1.5G", None),
            ("12X", None),
            ("99999999999T", None),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
    }
}
