//! zoo-ort: the ONNX Runtime backend of zoo.
//!
//! - [`provision`]: find `libonnxruntime` (`ORT_DYLIB_PATH`, zoo's runtime
//!   directory) or install it from the official PyPI wheels via pip, verified
//!   against each wheel's RECORD.
//! - [`Engine`] / [`ModelSession`]: load the runtime once, open sessions on the
//!   requested device, report the execution provider that really runs, and cache
//!   optimized models on disk.
//! - [`image`] and [`Classifier`]: Pillow-exact decoding (libjpeg-turbo for JPEGs)
//!   and preprocessing, and batched image
//!   classification with decoding overlapped with inference.
//! - [`TextEmbedder`]: tokenization, length-grouped batches, pooling.

pub mod budget;
mod classify;
mod cuda;
mod error;
pub mod image;
mod jpeg;
pub mod pipeline;
pub mod provision;
mod runtime;
mod session;
mod text;
mod text_classify;
mod wheel;

pub use classify::{Classifier, ImageInput, Prediction, Score, softmax, top_k};
pub use cuda::{DriverHint, driver_hint};
pub use error::{OrtError, Result};
pub use provision::{Flavor, Found, Installer, Manifest, ORT_VERSION, RuntimeLocation};
pub use runtime::{CudaInfo, DeviceInfo, Runtime, RuntimeInfo, load};
pub use session::{
    CacheUse, Device, Engine, EngineOptions, ModelSession, OutputTensor, Provider, TensorInfo,
    cache_file_name, default_threads, graph_digest,
};
pub use text::{TextEmbedder, l2_normalize, pool, write_safetensors};
pub use wheel::ExtractedFile;
// Added for zoo-finetune (`zoo eval`, text classifiers): see text_classify.rs.
pub use text_classify::TextClassifier;
