//! zoo-oci: models in OCI registries as CNCF ModelPack artifacts.
//!
//! Public surface: [`Registries`] (one client per registry, with Docker
//! credentials and the Bearer token flow; zoo-fetch reads `oci` sources
//! through it), [`push`] (a model as an artifact, resumable and deduplicated),
//! [`resolve`] (an artifact's manifest and the card of its model), the
//! ModelPack types in [`modelpack`], and image layouts in [`layout`].

mod access;
mod artifact;
mod auth;
mod chunks;
mod client;
mod error;
pub mod layout;
pub mod modelpack;
mod push;
pub mod referrers;
mod upload;

pub use access::Registries;
pub use artifact::{Artifact, resolve};
pub use auth::{Credentials, credentials_for, docker_config_path};
pub use client::{Action, Client, MAX_MANIFEST_BYTES, RawManifest};
pub use error::OciError;
pub use push::{LayerReport, PushFile, PushReport, PushRequest, push};
pub use upload::Pushed;

use sha2::{Digest, Sha256};
use zoo_types::Sha256Hex;

/// Bytes read into memory (a card, a config, a manifest) must hash to the
/// digest that named them.
pub(crate) fn check_digest(bytes: &[u8], digest: &Sha256Hex, what: &str) -> Result<(), OciError> {
    let actual = sha256_bytes(bytes);
    if actual != *digest {
        return Err(OciError::DigestMismatch {
            what: what.to_owned(),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// The sha256 of bytes in memory.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::from_bytes(&Sha256::digest(bytes).into())
}
