use std::path::PathBuf;

/// Everything that can go wrong between a data set and a registered model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinetuneError {
    #[error("cannot access {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The data set cannot be used as given: wrong layout, bad rows, or classes
    /// that cannot be trained on. The message says what to change.
    #[error("data set {}: {message}", path.display())]
    Data { path: PathBuf, message: String },

    /// The base model cannot serve as a backbone (no preprocessing, unsupported task).
    #[error("base model '{model}': {message}")]
    Backbone { model: String, message: String },

    #[error("invalid settings: {0}")]
    Config(String),

    #[error("feature cache {}: {message}", path.display())]
    Cache { path: PathBuf, message: String },

    #[error("{}: {message}", path.display())]
    Safetensors { path: PathBuf, message: String },

    #[error("training diverged: {0}; try a lower --lr")]
    Diverged(String),

    #[error("{0}")]
    Output(String),

    #[error(transparent)]
    Onnx(#[from] zoo_onnx::OnnxError),

    #[error(transparent)]
    Ort(#[from] zoo_ort::OrtError),

    #[error(transparent)]
    Fetch(#[from] zoo_fetch::FetchError),

    #[error(transparent)]
    Registry(#[from] zoo_registry::RegistryError),
}

pub type Result<T, E = FinetuneError> = std::result::Result<T, E>;

impl FinetuneError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FinetuneError {
        let path = path.into();
        move |source| FinetuneError::Io { path, source }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> FinetuneError {
        FinetuneError::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}
