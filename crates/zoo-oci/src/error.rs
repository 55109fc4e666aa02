use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{url}: {message}")]
    Http { url: String, message: String },

    #[error("{what}: the registry answered HTTP {status}{detail}")]
    Status {
        what: String,
        status: u16,
        detail: String,
    },

    #[error(
        "{registry} refused access to {repository} ({action}): log in with `docker login {registry}` \
         (zoo reads the same credentials from {config}), or check the repository name"
    )]
    Denied {
        registry: String,
        repository: String,
        action: &'static str,
        config: String,
    },

    #[error("{what} was not found in {registry}")]
    NotFound { what: String, registry: String },

    #[error("{what} is larger than {limit} bytes, the most zoo reads for it; refusing it")]
    TooLarge { what: String, limit: u64 },

    #[error("{what}: expected sha256:{expected}, got sha256:{actual}; nothing was stored")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{file} of {model} changed since zoo verified it ({path}): {found}; it was not pushed \
         and no manifest or tag was published. `zoo verify {model}` lists every changed file; \
         `zoo pull {model}` restores them"
    )]
    Changed {
        model: String,
        file: String,
        path: PathBuf,
        /// How the file differs: its size, or its digest.
        found: String,
    },

    /// Another blob of the same push failed first (that error is the one
    /// reported); this one stopped between chunks, resumable.
    #[error("stopped because another blob of the push failed")]
    Stopped,

    #[error("cannot read the registry credentials in {path}: {message}")]
    Credentials { path: PathBuf, message: String },

    #[error("{0}")]
    BadArtifact(String),

    #[error("{0}")]
    Invalid(String),

    #[error("{0}")]
    Fetch(#[from] zoo_fetch::FetchError),

    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl OciError {
    pub(crate) fn io(
        context: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> OciError {
        let path = path.to_owned();
        move |source| OciError::Io {
            context,
            path,
            source,
        }
    }
}
