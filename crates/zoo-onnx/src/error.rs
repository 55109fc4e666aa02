use std::path::PathBuf;

/// Everything that can go wrong loading, saving or rewriting a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a valid ONNX model: {source}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: prost::DecodeError,
    },

    #[error(
        "{}: model is {bytes} bytes, over the 2 GiB protobuf limit; \
         models this large are not supported",
        path.display()
    )]
    TooLarge { path: PathBuf, bytes: u64 },

    #[error("{}: external data of tensor `{tensor}`: {reason}", path.display())]
    ExternalData {
        path: PathBuf,
        tensor: String,
        reason: String,
    },

    #[error("no tensor named `{name}` in the graph{}", suggestion_list(close))]
    TensorNotFound { name: String, close: Vec<String> },

    #[error("invalid graph: {0}")]
    InvalidGraph(String),

    #[error("invalid head: {0}")]
    InvalidHead(String),
}

pub type Result<T, E = OnnxError> = std::result::Result<T, E>;

fn suggestion_list(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; close names: {}", close.join(", "))
    }
}
