//! The one error type of zoo-ort. Every message says what to do next, because the
//! CLI prints them verbatim.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OrtError {
    #[error(
        "no pip found (tried `python3 -m pip`, `pip3`, `pip`): install Python 3 with pip, or point \
         ORT_DYLIB_PATH at an existing libonnxruntime.so {version}"
    )]
    NoPip { version: String },

    #[error(
        "`{command}` failed ({status}):\n{stderr}\nCheck your pip index/mirror configuration (pip config list), or set ORT_DYLIB_PATH"
    )]
    PipFailed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error(
        "offline mode (ZOO_OFFLINE/HF_HUB_OFFLINE) forbids downloading ONNX Runtime; run `zoo runtime install{flag}` while online, or set ORT_DYLIB_PATH"
    )]
    Offline { flag: &'static str },

    #[error("wheel {wheel}: {message}")]
    BadWheel { wheel: String, message: String },

    #[error(
        "wheel {wheel}: {file} does not match the wheel's RECORD ({message}); the download is corrupt \
         or was tampered with — delete it and run `zoo runtime install` again"
    )]
    RecordMismatch {
        wheel: String,
        file: String,
        message: String,
    },

    #[error("ORT_DYLIB_PATH={} does not exist; unset it to let zoo install its own runtime", path.display())]
    DylibMissing { path: PathBuf },

    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    Load { path: PathBuf, message: String },

    #[error(
        "ONNX Runtime is already loaded from {} in this process; a different runtime ({}) needs a new process",
        loaded.display(),
        wanted.display()
    )]
    AlreadyLoaded { loaded: PathBuf, wanted: PathBuf },

    #[error("--device {device}: {reason}")]
    DeviceUnavailable { device: String, reason: String },

    #[error("invalid --device '{0}': expected auto, cpu, cuda or cuda:N")]
    BadDevice(String),

    #[error("model {}: {message}", path.display())]
    Model { path: PathBuf, message: String },

    #[error("{context}: {message}")]
    Ort { context: String, message: String },

    #[error("tokenizer {}: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },

    #[error("{0}")]
    Input(String),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl OrtError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> OrtError {
        OrtError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wrap an `ort` error (of any recovery type: builder errors carry the builder
    /// back, which zoo never uses) with what zoo was doing.
    pub(crate) fn ort<R>(context: impl Into<String>) -> impl FnOnce(ort::Error<R>) -> OrtError {
        let context = context.into();
        move |e| OrtError::Ort {
            context,
            message: e.message().to_owned(),
        }
    }
}

pub type Result<T, E = OrtError> = std::result::Result<T, E>;
