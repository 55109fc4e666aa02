//! zoo-finetune: transfer learning for zoo.
//!
//! A backbone from the catalog is cut at its feature tensor ([`Backbone`]); its
//! features for each data item ([`data`]) are computed once through ONNX Runtime
//! and cached on disk ([`cache`], [`extract`]); a small head (softmax regression
//! or a one-hidden-layer MLP) is trained on them in Rust ([`train`]); backbone
//! and head are exported as one standalone ONNX model with a card recording the
//! model's lineage, and registered in zoo's store ([`export`]). [`evaluate`]
//! scores any classifier end to end.

mod backbone;
pub mod cache;
pub mod data;
mod error;
mod evaluate;
pub mod export;
pub mod extract;
mod finetune;
pub mod metrics;
pub mod pooling;
pub mod rng;
mod st;
pub mod train;

pub use backbone::{Backbone, TextFeatures};
pub use error::{FinetuneError, Result};
pub use evaluate::{EvalReport, ItemResult, evaluate};
pub use finetune::{
    FeaturesOptions, FeaturesReport, FinetuneOptions, FinetuneReport, ModelSigner, Reporter,
    RunOptions, Timings, Validation, export_features, finetune,
};
