use std::path::PathBuf;

/// Why an audit could not run at all. Problems found in the models are
/// [`Finding`](crate::Finding)s, never errors.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A policy file that does not parse or names something unknown, as `file:line: message`.
    #[error("{file}:{line}: {message}")]
    Policy {
        file: String,
        /// 1-based; 0 when the problem is about the file as a whole.
        line: usize,
        message: String,
    },

    /// A name that is neither a catalog card nor a model in the store.
    #[error("no model named '{name}' in the catalog or the store")]
    UnknownModel { name: String },

    #[error("cannot read policy {}: {source}", path.display())]
    ReadPolicy {
        path: PathBuf,
        source: std::io::Error,
    },
}
