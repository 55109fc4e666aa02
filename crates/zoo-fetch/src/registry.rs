//! What a pull needs to read files from an OCI registry (an `oci` source):
//! the blob's URL and the `Authorization` for the repository. zoo-oci
//! implements it (scheme rules, the token flow, Docker credentials); without
//! one, blobs are read anonymously, over HTTPS, or HTTP for a loopback registry.

use zoo_types::{OciReference, Sha256Hex};

use crate::secret::Secret;

pub trait RegistryAccess: Send + Sync + std::fmt::Debug {
    /// `<scheme>://<registry>/v2/<repository>/blobs/sha256:<hex>`.
    fn blob_url(&self, reference: &OciReference, digest: &Sha256Hex) -> String;
    /// The `Authorization` header value for pulling from the repository, if
    /// the registry wants one; an error says why none could be had.
    fn authorization(&self, reference: &OciReference) -> Result<Option<Secret>, String>;
}

/// Anonymous access with the default scheme.
#[derive(Debug)]
pub(crate) struct Anonymous;

impl RegistryAccess for Anonymous {
    fn blob_url(&self, reference: &OciReference, digest: &Sha256Hex) -> String {
        let scheme = if reference.registry.is_loopback() {
            "http"
        } else {
            "https"
        };
        format!(
            "{scheme}://{}/v2/{}/blobs/sha256:{digest}",
            reference.registry, reference.repository
        )
    }

    fn authorization(&self, _: &OciReference) -> Result<Option<Secret>, String> {
        Ok(None)
    }
}
