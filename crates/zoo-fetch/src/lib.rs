//! zoo-fetch: pulls model files from their sources into the local store, verifying
//! every byte (size and sha256) and resuming interrupted downloads.
//!
//! Public surface: [`Store`] (what is local), [`pull`] (get a model), the license
//! [`gate`], and the [`Progress`] trait the CLI implements.

mod api;
mod error;
pub mod gate;
mod hash;
mod headers;
mod hf;
mod http;
pub mod lock;
mod manifest;
pub mod pickle;
mod progress;
mod pull;
mod pypi;
mod ranges;
mod registry;
mod secret;
mod sequential;
mod store;
mod verify;

pub use api::{ApiAnswer, ApiClient};
pub use error::FetchError;
pub use gate::DenyRule;
pub use hash::sha256_file;
pub use manifest::{LicenseRecord, MANIFEST_FILE, Manifest, ManifestFile, Trust};
pub use progress::{Progress, Silent};
pub use pull::{FileOutcome, FileReport, PublishCheck, PullOptions, PullReport, pull};
pub use pypi::python_command;
pub use registry::RegistryAccess;
pub use secret::Secret;
pub use store::{GcReport, Modified, SIGNATURE_FILE, Store, VerifyReport};
