//! What can go wrong signing or verifying, each with the fix in the message.

use std::path::PathBuf;

use crate::files::FileDiff;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key or certificate file the user gave cannot be used.
    #[error("{}: {message}", path.display())]
    Material { path: PathBuf, message: String },
    /// The model has no signature file.
    #[error(
        "{} has no signature ({} not found); sign it with `zoo sign NAME --key KEY.pem`",
        model,
        path.display()
    )]
    Unsigned { model: String, path: PathBuf },
    /// The signature file is not a model signature zoo can read: too large,
    /// not JSON, not a Sigstore bundle, not an OpenSSF model-signing statement.
    #[error("{}: not a valid model signature: {message}", path.display())]
    BadBundle { path: PathBuf, message: String },
    /// The signed statement is not a model signature zoo can check.
    #[error("the signed statement is not a valid model signature: {0}")]
    BadStatement(String),
    /// The cryptographic signature does not verify.
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    /// The signature verifies but its signer is not trusted (or cannot be
    /// checked): an unknown key, a chain that does not lead to a trusted root,
    /// an expired or wrong-purpose certificate.
    #[error("untrusted signer: {0}")]
    Untrusted(String),
    /// A keyless (Fulcio and Rekor) Sigstore bundle: zoo does not verify it
    /// offline, and never reports it as verified.
    #[error(
        "keyless Sigstore signature by {identity} (issuer {issuer}) is not verifiable offline; \
         verify it with `model_signing verify sigstore` or sign with a key"
    )]
    NotVerifiableOffline { identity: String, issuer: String },
    /// The files on disk are not the files the signature lists.
    #[error("the files do not match the signature: {0}")]
    Files(FileDiff),
    /// A file in the model's folder that zoo will not read the way the
    /// reference would not: a link zoo did not make, a device, a FIFO.
    #[error("{}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SignError {
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> SignError {
        let path = path.to_owned();
        move |source| SignError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn material(path: &std::path::Path, message: impl Into<String>) -> SignError {
        SignError::Material {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}
