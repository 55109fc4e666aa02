//! A model's signature state as `zoo info`, `zoo audit` and the AI-BOMs
//! report it: one of four, each saying what a person can rely on.

use serde::Serialize;

use crate::error::SignError;
use crate::files::FileDiff;
use crate::verify::{SignerInfo, Verified};

/// What is known about a model's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// No signature file beside the model.
    Unsigned,
    /// The signature verifies and covers exactly the model's files. `trusted`:
    /// whether the signer is one the trust in force (the config's, or the
    /// audit policy's) lists; an untrusted certificate still proves the files
    /// are what its holder signed.
    Verified {
        signer: SignerInfo,
        trusted: bool,
        /// Why the signer is not trusted, when it is not.
        #[serde(skip_serializing_if = "Option::is_none")]
        untrusted_because: Option<String>,
        files: usize,
    },
    /// Signed, but it does not verify: `failure` is `invalid` (the bundle,
    /// statement or signature), `files` (the files are not the signed ones),
    /// or `untrusted` (signed by a key zoo does not hold, so nothing could
    /// be checked).
    Failed {
        failure: &'static str,
        reason: String,
        #[serde(skip_serializing_if = "FileDiff::is_empty")]
        diff: FileDiff,
    },
    /// A keyless Sigstore signature (Fulcio certificate, Rekor entry): zoo
    /// does not check it without a Sigstore trust root, and never counts it
    /// as verified.
    Keyless { identity: String, issuer: String },
}

impl SignatureStatus {
    /// The state of a check that read the bundle, verified it (trusted or
    /// not, see [`crate::inspect`]) and compared its files.
    pub fn from_check(result: Result<(Verified, Option<String>), SignError>) -> SignatureStatus {
        match result {
            Ok((v, untrusted_because)) => SignatureStatus::Verified {
                files: v.statement.resources.len(),
                signer: v.signer,
                trusted: untrusted_because.is_none(),
                untrusted_because,
            },
            Err(SignError::Unsigned { .. }) => SignatureStatus::Unsigned,
            Err(SignError::NotVerifiableOffline { identity, issuer }) => {
                SignatureStatus::Keyless { identity, issuer }
            }
            Err(e) => SignatureStatus::Failed {
                failure: match &e {
                    SignError::Untrusted(_) => "untrusted",
                    SignError::Files(_) => "files",
                    _ => "invalid",
                },
                diff: match &e {
                    SignError::Files(d) => d.clone(),
                    _ => FileDiff::default(),
                },
                reason: e.to_string(),
            },
        }
    }

    /// The state's name, as in JSON: `unsigned`, `verified`, `failed`, `keyless`.
    pub fn state(&self) -> &'static str {
        match self {
            SignatureStatus::Unsigned => "unsigned",
            SignatureStatus::Verified { .. } => "verified",
            SignatureStatus::Failed { .. } => "failed",
            SignatureStatus::Keyless { .. } => "keyless",
        }
    }
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str("unsigned"),
            SignatureStatus::Verified {
                signer,
                untrusted_because,
                files,
                ..
            } => match untrusted_because {
                None => write!(f, "verified ({files} files), signed by {signer}, trusted"),
                Some(why) => write!(
                    f,
                    "verified ({files} files), signed by {signer}; NOT TRUSTED: {why}"
                ),
            },
            SignatureStatus::Failed { reason, .. } => write!(f, "FAILED: {reason}"),
            SignatureStatus::Keyless { identity, issuer } => write!(
                f,
                "keyless Sigstore signature by {identity} (issuer {issuer}): not verifiable offline"
            ),
        }
    }
}
