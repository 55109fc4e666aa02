//! zoo-hub: any Hugging Face Hub repository as a zoo card. The repository's
//! metadata is read through the hub API (bounded, validated), its license mapped
//! to SPDX or a documented `LicenseRef-`, its base models and datasets followed,
//! its files pinned by digest; after a pull, its ONNX graph and configs say how
//! to run it. Also the hub's model search.
//!
//! Public surface: [`HubClient`], [`import`] (metadata → card), [`complete`]
//! (pulled files → runnable card), [`save`] (into the user catalog),
//! [`search`], and the license mapping in [`license`].

mod client;
mod complete;
mod error;
mod import;
mod info;
pub mod license;
mod lineage;
mod save;
mod search;
mod select;

pub use client::HubClient;
pub use complete::{Completed, complete};
pub use error::HubError;
pub use import::{ImportOptions, Imported, default_name, import, task_of};
pub use info::{HubFile, ModelInfo};
pub use lineage::MAX_BASE_DEPTH;
pub use save::save;
pub use search::{SearchHit, SearchQuery, search};
pub use select::{FileFilter, main_onnx, select};
