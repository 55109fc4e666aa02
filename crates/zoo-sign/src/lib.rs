//! zoo-sign: OpenSSF model signing (the format of PyPI `model-signing`).
//!
//! A signature is a Sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! whose DSSE envelope carries an in-toto Statement v1 with predicate type
//! `https://model_signing/signature/v1.0`: every file of the model as a
//! resource (name, sha256), the subject's digest being the sha256 over the
//! resources' digests in path order. zoo signs with an ECDSA key (P-256, P-384,
//! P-521), optionally with a certificate chain, and verifies bundles made by
//! `model_signing sign key` and `sign certificate`; keyless Sigstore bundles
//! are checked against a supplied Sigstore trust root ([`keyless`],
//! [`trust_root`]), and without one reported as not verifiable offline.
//!
//! The pieces: [`keys`] (PEM keys, fingerprints, ECDSA), [`cert`] (X.509
//! chains), [`dsse`] (the pre-authentication encoding), [`statement`] (the
//! in-toto payload), [`bundle`] (the file, parsed as hostile input),
//! [`files`] (hashing a model folder as the reference does), and
//! [`sign`]/[`verify`] that put them together.

pub mod bundle;
pub mod cert;
pub mod dsse;
mod error;
pub mod files;
pub mod keyless;
pub mod keys;
mod sign;
pub mod statement;
mod status;
mod trust;
pub mod trust_root;
mod verify;

pub use error::SignError;
pub use files::{FileDiff, Resource, WalkOptions, hash_dir};
pub use keyless::KeylessTrust;
pub use keys::{Fingerprint, PrivateKey, PublicKey};
pub use sign::{Signer, sign};
pub use status::SignatureStatus;
pub use trust::Trust;
pub use verify::{SignerInfo, Verified, inspect, verify, verify_files};

/// The signature's file name, beside the model: the reference's default.
pub const SIGNATURE_FILE: &str = "model.sig";
