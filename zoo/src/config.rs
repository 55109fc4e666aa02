//! The user's config file: `ZOO_CONFIG`, else `$XDG_CONFIG_HOME/zoo/config.yaml`
//! (`~/.config/zoo/config.yaml`). Documented in docs/environment.md.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// License patterns `zoo pull` refuses, e.g. `CC-BY-NC-*`.
    #[serde(default)]
    pub deny_licenses: Vec<String>,
    /// Keys trusted to sign models: PEM files of public keys (relative to the
    /// config file's folder) or `sha256:` fingerprints (docs/signing.md).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// CA certificates (PEM files) a signing certificate may chain to.
    #[serde(default)]
    pub trusted_roots: Vec<String>,
    /// `zoo pull` registers a model only when it comes with a signature
    /// (`model.sig` among its files) by a trusted signer over exactly its files.
    #[serde(default)]
    pub require_signature: bool,
}

pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os(zoo_env::vars::ZOO_CONFIG).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".config")
        });
    base.join("zoo/config.yaml")
}

/// The config, or the default when the file does not exist. A malformed file is an
/// error naming `file:line`.
pub fn load() -> Result<(Config, PathBuf)> {
    let path = path();
    let text = match zoo_fs::read_to_string_bounded(&path, zoo_fs::limits::CONFIG_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Config::default(), path)),
        Err(e) => return Err(e).with_context(|| format!("cannot read config {}", path.display())),
    };
    zoo_fs::check_nesting(&text, zoo_fs::limits::YAML_DEPTH)
        .map_err(|e| crate::exit::BadInput(format!("{}:{}: {e}", path.display(), e.line)))?;
    let config = serde_yaml::from_str(&text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        crate::exit::BadInput(format!("{}:{line}: {e}", path.display()))
    })?;
    Ok((config, path))
}
