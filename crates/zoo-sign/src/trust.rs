//! Whom zoo trusts to sign models, and the one way that trust is read from
//! the `trusted_keys` and `trusted_roots` lists of the config file and of an
//! audit policy.

use std::path::Path;
use std::time::SystemTime;

use crate::cert::Cert;
use crate::error::SignError;
use crate::keyless::KeylessTrust;
use crate::keys::{Fingerprint, PublicKey};

/// Whom zoo trusts to sign models.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Public keys: a key-method signature needs the key itself.
    pub keys: Vec<PublicKey>,
    /// Fingerprints of trusted keys (`sha256:<hex>` of the PEM): enough for a
    /// certificate's key, and to mark one of `keys` as trusted.
    pub fingerprints: Vec<Fingerprint>,
    /// CA certificates a signing certificate's chain must lead to.
    pub roots: Vec<Cert>,
    /// When certificates must be valid: now, as zoo has no trusted timestamp.
    pub now: SystemTime,
    /// A Sigstore trust root for keyless bundles (`--trust-root`); without
    /// one they are reported as not verifiable offline.
    pub keyless: Option<KeylessTrust>,
}

impl Trust {
    pub fn new(keys: Vec<PublicKey>, fingerprints: Vec<Fingerprint>, roots: Vec<Cert>) -> Trust {
        Trust {
            keys,
            fingerprints,
            roots,
            now: SystemTime::now(),
            keyless: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.fingerprints.is_empty()
            && self.roots.is_empty()
            && self.keyless.is_none()
    }

    /// Trust as a config file or an audit policy lists it: each of `keys` a
    /// `sha256:` fingerprint or the path of a public key's PEM file, each of
    /// `roots` the path of a PEM file of CA certificates; relative paths are
    /// relative to `base` (the folder of the file that lists them).
    pub fn from_entries(
        keys: &[String],
        roots: &[String],
        base: &Path,
    ) -> Result<Trust, SignError> {
        let mut trust = Trust::new(Vec::new(), Vec::new(), Vec::new());
        for entry in keys {
            check_entry("trusted_keys", entry)?;
            if let Some(fp) = Fingerprint::parse(entry) {
                trust.fingerprints.push(fp);
            } else if entry.starts_with("sha256:") {
                return Err(SignError::material(
                    Path::new(entry),
                    "trusted_keys: a fingerprint is `sha256:` and 64 hex digits (`zoo verify \
                     --signature --json` prints the signer's)",
                ));
            } else {
                trust.keys.push(PublicKey::read_pem(&base.join(entry))?);
            }
        }
        for entry in roots {
            check_entry("trusted_roots", entry)?;
            trust.roots.extend(Cert::read_pem_all(&base.join(entry))?);
        }
        Ok(trust)
    }
}

fn check_entry(list: &str, entry: &str) -> Result<(), SignError> {
    if entry.trim().is_empty() {
        return Err(SignError::material(
            Path::new(list),
            "an empty entry: remove it, or give a PEM file's path",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_fingerprints_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let fp = format!("sha256:{}", "AB".repeat(32));
        let t = Trust::from_entries(std::slice::from_ref(&fp), &[], dir.path()).unwrap();
        assert_eq!(t.fingerprints.len(), 1);
        assert_eq!(t.fingerprints[0].as_hex(), "ab".repeat(32));
        let short = Trust::from_entries(&["sha256:abc".to_owned()], &[], dir.path());
        assert!(short.unwrap_err().to_string().contains("64 hex digits"));
        let missing = Trust::from_entries(&["k.pem".to_owned()], &[], dir.path());
        assert!(missing.unwrap_err().to_string().contains("k.pem"));
        let empty = Trust::from_entries(&[], &[" ".to_owned()], dir.path());
        assert!(empty.unwrap_err().to_string().contains("trusted_roots"));
    }
}
