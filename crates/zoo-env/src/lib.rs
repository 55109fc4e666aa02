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

/// Derived data that can be rebuilt: optimized sessions, cached features.
pub fn cache_dir() -> PathBuf {
    zoo_home().join("cache")
}

/// Models created locally by `zoo finetune`, and their cards.
pub fn local_models_dir() -> PathBuf {
    zoo_home().join("models")
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

pub fn ort_dylib_path() -> Option<PathBuf> {
    var_path(vars::ORT_DYLIB_PATH)
}

/// Seconds without data before a transfer counts as stalled: `ZOO_STALL_TIMEOUT`
/// (a positive number, fractions allowed), else 30. Every network client of zoo
/// (downloads and the hub API) uses it as its read timeout.
pub fn stall_timeout() -> std::time::Duration {
    positive_secs(vars::ZOO_STALL_TIMEOUT, 30.0)
}

/// First retry delay: `ZOO_RETRY_BASE` (a positive number), else 0.5 seconds.
pub fn retry_base() -> std::time::Duration {
    positive_secs(vars::ZOO_RETRY_BASE, 0.5)
}

/// How long any zoo network client waits for a connection to be established.
pub fn connect_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(15)
}

/// A positive, finite number of seconds from `name`, else `default`.
fn positive_secs(name: &str, default: f64) -> std::time::Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
        .unwrap_or(default);
    std::time::Duration::from_secs_f64(secs)
}
