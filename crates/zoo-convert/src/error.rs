use std::path::PathBuf;

/// Everything that can go wrong turning a checkpoint into an ONNX model. Every
/// variant but [`ConvertError::Io`] and [`ConvertError::Onnx`] is a problem with
/// the checkpoint or its config (bad input), not a failure of zoo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The safetensors file itself is malformed: header, offsets, file size.
    #[error("{}: not a usable safetensors file: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },

    /// A field of config.json is missing, of the wrong type or out of range.
    #[error("{}: field `{field}`: {message}", path.display())]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },

    #[error(
        "{}: model_type `{found}` is {}; zoo converts: {}",
        path.display(),
        if *known { "not supported yet" } else { "unknown" },
        supported.join(", ")
    )]
    UnsupportedModelType {
        path: PathBuf,
        found: String,
        /// A known architecture zoo cannot build yet (as opposed to an unknown name).
        known: bool,
        supported: Vec<String>,
    },

    /// A tensor the architecture needs is absent, has the wrong shape or dtype,
    /// or the checkpoint holds tensors the config does not account for.
    #[error("{}: tensor `{tensor}`: {message}", path.display())]
    Tensor {
        path: PathBuf,
        tensor: String,
        message: String,
    },

    #[error("model '{model}' cannot be converted: {reason}")]
    NotConvertible { model: String, reason: String },

    #[error(transparent)]
    Onnx(#[from] zoo_onnx::OnnxError),
}

impl ConvertError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ConvertError {
        let path = path.into();
        move |source| ConvertError::Io { path, source }
    }

    /// Whether the error is in what the user gave (checkpoint, config, model
    /// choice) rather than a failure to read or write.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ConvertError::Io { .. } | ConvertError::Onnx(_))
    }
}

pub type Result<T, E = ConvertError> = std::result::Result<T, E>;
