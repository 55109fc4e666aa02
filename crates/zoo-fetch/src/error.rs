use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{context}: {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The caller's [`crate::PublishCheck`] refused the pulled files: the
    /// model was not registered (the store holds what it held before).
    #[error("'{model}' was pulled but not registered")]
    Refused {
        model: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error(
        "'{model}' is a closed model with no downloadable weights; use it through {provider}'s API: {docs_url}"
    )]
    ClosedModel {
        model: String,
        provider: String,
        docs_url: String,
    },

    #[error(
        "'{model}' is under {license}{url}, which {why}; read it, then pass --accept-license to record your acceptance"
    )]
    LicenseNotAccepted {
        model: String,
        license: String,
        url: String,
        why: String,
    },

    #[error(
        "'{model}' is under {license}, which your policy denies (pattern '{pattern}' from {origin})"
    )]
    LicenseDenied {
        model: String,
        license: String,
        pattern: String,
        origin: String,
    },

    #[error(
        "'{path}' of '{model}' is a pickle file ({ext}), which can run arbitrary code when loaded; \
         pass --allow-pickle if you trust its source"
    )]
    PickleRefused {
        model: String,
        path: String,
        ext: String,
    },

    #[error(
        "refusing unsafe file name '{name}' from {source_desc}: names must be relative paths without '..'"
    )]
    UnsafePath { name: String, source_desc: String },

    #[error(
        "sha256 mismatch for '{path}' from {source_desc}: expected {expected}, got {actual}; the download was deleted"
    )]
    HashMismatch {
        path: String,
        source_desc: String,
        expected: String,
        actual: String,
    },

    #[error(
        "git blob id mismatch for '{path}' from {source_desc}: the hub lists {expected}, the bytes hash to {actual}; the download was deleted"
    )]
    GitBlobMismatch {
        path: String,
        source_desc: String,
        expected: String,
        actual: String,
    },

    #[error(
        "size mismatch for '{path}' from {source_desc}: expected {expected} bytes, got {actual}; the download was deleted"
    )]
    SizeMismatch {
        path: String,
        source_desc: String,
        expected: u64,
        actual: u64,
    },

    #[error("{url}: {message}")]
    Http { url: String, message: String },

    #[error(
        "'{path}' from {source_desc} is larger than {limit} bytes, and its card declares no size; \
         the limit is ZOO_MAX_DOWNLOAD_SIZE (default 16G): raise it if the file is really this large; \
         the download was deleted"
    )]
    TooLarge {
        path: String,
        source_desc: String,
        limit: u64,
    },

    #[error(
        "cannot write '{label}' to {}: {what}; free space there (or point ZOO_HOME / HF_HUB_CACHE \
         at a larger disk) and pull again; the partial file was deleted",
        path.display()
    )]
    DiskFull {
        label: String,
        path: PathBuf,
        /// "no space left on the device", "disk quota exceeded", "file too large for this file system"
        what: &'static str,
    },

    #[error(
        "refusing '{}' from {source_desc}: it is not a regular file (a device, pipe or folder would never end or cannot be copied)",
        path.display()
    )]
    NotAFile { path: PathBuf, source_desc: String },

    #[error("bad setting: {0}")]
    Setting(#[from] zoo_env::BadSetting),

    #[error("Hugging Face repo '{repo}': {message}")]
    Hub { repo: String, message: String },

    #[error("PyPI package {package}=={version}: {message}")]
    Pypi {
        package: String,
        version: String,
        message: String,
    },

    #[error(
        "offline mode (--offline, ZOO_OFFLINE or HF_HUB_OFFLINE): '{path}' of '{model}' is not in the store or the Hugging Face cache; run `zoo pull {model}` while online"
    )]
    OfflineMissing { model: String, path: String },

    #[error("'{path}' of '{model}' could not be fetched from any source:\n{}", attempts.join("\n"))]
    AllSourcesFailed {
        model: String,
        path: String,
        attempts: Vec<String>,
    },

    #[error("no source of '{model}' is of kind '{kind}'; it has: {available}")]
    NoSuchSource {
        model: String,
        kind: String,
        available: String,
    },

    #[error("model '{0}' is not pulled")]
    NotPulled(String),

    #[error("the manifest {path} is unreadable ({message}); run `zoo rm` and pull again")]
    BadManifest { path: PathBuf, message: String },

    #[error(
        "'{path}' of '{model}' is not in the store after the pull ({detail}); nothing was published: run `zoo pull {model}` again"
    )]
    NotStored {
        model: String,
        path: String,
        detail: String,
    },
    /// A server answered with something that is not what it must be (a commit id
    /// that is not 40 hex digits, a malformed digest for a needed file): the pull
    /// stops rather than trying the next source, since the answer is an attack or
    /// a broken mirror. Everything in `message` is already escaped for display.
    #[error("refusing the answer of {from}: {message}")]
    UntrustedAnswer { from: String, message: String },
}

impl FetchError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> FetchError {
        let path = path.into();
        move |source| FetchError::Io {
            context,
            path,
            source,
        }
    }

    /// A failed write, told apart: a full disk stops the pull with a clear
    /// message; any other error keeps its context.
    pub(crate) fn write_failed(
        label: &str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> FetchError {
        use std::io::ErrorKind;
        let what = match source.kind() {
            ErrorKind::StorageFull => Some("no space left on the device"),
            ErrorKind::QuotaExceeded => Some("disk quota exceeded"),
            ErrorKind::FileTooLarge => Some("file too large for this file system"),
            _ => None,
        };
        match what {
            Some(what) => FetchError::DiskFull {
                label: label.to_owned(),
                path: path.to_owned(),
                what,
            },
            None => FetchError::Io {
                context: "cannot write",
                path: path.to_owned(),
                source,
            },
        }
    }

    /// Errors worth trying the next source for; others (license, safety) stop the pull.
    pub(crate) fn is_source_failure(&self) -> bool {
        matches!(
            self,
            FetchError::Http { .. }
                | FetchError::Hub { .. }
                | FetchError::Pypi { .. }
                | FetchError::HashMismatch { .. }
                | FetchError::GitBlobMismatch { .. }
                | FetchError::SizeMismatch { .. }
                | FetchError::TooLarge { .. }
                | FetchError::Io { .. }
        )
    }
}
