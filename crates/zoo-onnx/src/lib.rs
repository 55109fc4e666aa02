//! ONNX models for zoo: the protobuf types, self-contained load/save, and the
//! graph surgery behind transfer learning.
//!
//! The fine-tuning flow is: [`find_feature_tensor`] on a pretrained classifier,
//! [`cut_at`] that tensor to get a feature extractor, train a [`Head`] on its
//! outputs, then [`append_head`] to ship one standalone model again.

#[rustfmt::skip]
mod generated;

mod cut;
mod error;
mod external;
mod feature;
mod graph;
mod head;
mod io;
mod signature;

pub use generated::onnx as proto;

pub use cut::cut_at;
pub use error::{OnnxError, Result};
pub use external::{MIN_EXTERNAL_BYTES, externalize};
pub use feature::{FeatureTensor, find_feature_tensor};
pub use head::{Head, LOGITS, PROBABILITIES, append_head};
pub use io::{load, save};
pub use signature::{Dim, Signature, TensorSignature, signature};
