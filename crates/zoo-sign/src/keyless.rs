//! Keyless Sigstore bundles checked offline against a supplied trust root:
//!
//! 1. the Rekor entry's log is one of the trust root's, its key valid at the
//!    entry's integrated time, and its signed entry timestamp (the
//!    `inclusionPromise`: the log's signature over the canonical JSON
//!    `{"body","integratedTime","logID","logIndex"}`) verifies with that key;
//! 2. the entry's body is a `dsse` entry for this envelope: the payload's
//!    sha256, the signature and the signing certificate are the bundle's;
//! 3. the signing certificate chains to a certificate authority of the trust
//!    root, valid at the integrated time (a Fulcio certificate lives minutes:
//!    the log's time is the trusted time), with the code-signing EKU;
//! 4. the DSSE signature verifies with the certificate's key (in verify.rs).
//!
//! Not checked, and said so in [`NOT_CHECKED`]: the entry's inclusion proof
//! (Merkle path and signed checkpoint), the certificate's SCTs (certificate
//! transparency), and, unless the caller pins them, who the identity is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::bundle::Bundle;
use crate::cert::{Cert, verify_chain};
use crate::error::SignError;
use crate::keys::{PublicKey, pem_blocks};
use crate::trust_root::{Log, TrustRoot};
use crate::verify::SignerInfo;

/// What zoo trusts for keyless signatures: a trust root, and optionally the
/// one identity (and OIDC issuer) the certificate must name.
#[derive(Debug, Clone)]
pub struct KeylessTrust {
    pub root: TrustRoot,
    pub identity: Option<String>,
    pub oidc_issuer: Option<String>,
}

/// What a keyless verification does not check, in the verifier's words.
pub const NOT_CHECKED: [&str; 2] = [
    "the Rekor inclusion proof (Merkle path and signed checkpoint): the log's signed entry \
     timestamp is checked instead",
    "the certificate's signed certificate timestamps (certificate transparency)",
];

/// Check a keyless bundle's certificate and log entry against `trust`: the
/// certificate's key (for the DSSE signature) and the signer.
pub(crate) fn verify(
    bundle: &Bundle,
    certificate: &[u8],
    trust: &KeylessTrust,
) -> Result<(PublicKey, SignerInfo), SignError> {
    let leaf = Cert::from_der(certificate.to_vec()).map_err(SignError::BadSignature)?;
    let (identity, oidc_issuer) = leaf.keyless_identity();
    let [raw_entry] = bundle.tlog_entries.as_slice() else {
        return Err(SignError::BadSignature(format!(
            "the bundle has {} transparency-log entries; zoo checks bundles with one",
            bundle.tlog_entries.len()
        )));
    };
    let entry: Entry = serde_json::from_value(raw_entry.clone())
        .map_err(|e| SignError::BadSignature(format!("its transparency-log entry: {e}")))?;
    let log_id = entry.log_id()?;
    let log = trust
        .root
        .logs
        .iter()
        .find(|l| l.id == log_id)
        .ok_or_else(|| {
            SignError::Untrusted(format!(
                "the signature was logged in a transparency log the trust root does not list \
                 (log id {})",
                hex::encode(&log_id)
            ))
        })?;
    let time = entry.time()?;
    if !log.valid.contains(time) {
        return Err(SignError::Untrusted(format!(
            "the trust root's key of log {} was not valid at the entry's time {}",
            log.base_url,
            zoo_types::rfc3339_utc(time)
        )));
    }
    let Some(log_key) = &log.key else {
        return Err(SignError::Untrusted(format!(
            "the signature was logged in {}, whose key is {}: zoo checks entries of ECDSA logs \
             (Rekor v1) only",
            log.base_url, log.key_details
        )));
    };
    check_promise(&entry, log, log_key)?;
    check_body(&entry, bundle, &leaf)?;
    if !leaf.has_code_signing_eku() {
        return Err(SignError::Untrusted(format!(
            "the certificate of {identity} is not for code signing (no codeSigning extended key usage)"
        )));
    }
    let mut why = Vec::new();
    let authority = trust.root.authorities.iter().find(|ca| {
        if !ca.valid.contains(time) {
            why.push(format!("{}: not valid at the entry's time", ca.uri));
            return false;
        }
        let (root, intermediates) = ca.chain.split_last().expect("a chain is never empty");
        verify_chain(&leaf, intermediates, std::slice::from_ref(root), time)
            .map_err(|e| why.push(e))
            .is_ok()
    });
    let Some(authority) = authority else {
        return Err(SignError::Untrusted(format!(
            "the signing certificate of {identity} does not chain to a certificate authority of \
             the trust root at the entry's time {} ({})",
            zoo_types::rfc3339_utc(time),
            why.join("; ")
        )));
    };
    for (wanted, found, what) in [
        (&trust.identity, &identity, "identity"),
        (&trust.oidc_issuer, &oidc_issuer, "OIDC issuer"),
    ] {
        if let Some(wanted) = wanted
            && wanted != found
        {
            return Err(SignError::Untrusted(format!(
                "signed by {what} {found}, not the {what} {wanted} that was asked for"
            )));
        }
    }
    let mut not_checked: Vec<String> = NOT_CHECKED.iter().map(|s| (*s).to_owned()).collect();
    if trust.identity.is_none() {
        not_checked.push(
            "who the identity is: zoo reports it; pin it with --identity (and --oidc-issuer)"
                .to_owned(),
        );
    }
    let key = leaf.public_key().map_err(SignError::BadSignature)?;
    let signer = SignerInfo::Keyless {
        identity,
        oidc_issuer,
        certificate_authority: authority.uri.clone(),
        log: log.base_url.clone(),
        log_index: entry.log_index.0,
        integrated_time: zoo_types::rfc3339_utc(time),
        not_checked,
    };
    Ok((key, signer))
}

/// The signed entry timestamp: the log's signature over the canonical JSON
/// of the entry (keys sorted, no spaces), as Rekor makes it.
fn check_promise(entry: &Entry, log: &Log, key: &PublicKey) -> Result<(), SignError> {
    let Some(promise) = &entry.inclusion_promise else {
        return Err(SignError::BadSignature(
            "its transparency-log entry has no inclusion promise (signed entry timestamp); zoo \
             does not check inclusion proofs"
                .into(),
        ));
    };
    let signature = b64(
        &promise.signed_entry_timestamp,
        "the signed entry timestamp",
    )?;
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        serde_json::to_string(&entry.canonicalized_body).expect("a string serializes"),
        entry.integrated_time.0,
        hex::encode(entry.log_id()?),
        entry.log_index.0
    );
    key.verify(canonical.as_bytes(), &signature).map_err(|e| {
        SignError::BadSignature(format!(
            "the transparency-log entry's signed entry timestamp does not verify with the \
                 key of log {} ({e})",
            log.base_url
        ))
    })
}

/// The entry must be a `dsse` entry of this envelope: its payload hash, its
/// signature and its verifier (the signing certificate).
fn check_body(entry: &Entry, bundle: &Bundle, leaf: &Cert) -> Result<(), SignError> {
    let body = b64(&entry.canonicalized_body, "the entry's body")?;
    let body: Body = serde_json::from_slice(&body).map_err(|e| {
        SignError::BadSignature(format!(
            "the transparency-log entry is not a dsse entry zoo can check ({e})"
        ))
    })?;
    let mismatch = |what: &str| {
        SignError::BadSignature(format!(
            "the transparency-log entry is for another signature: its {what} is not the bundle's"
        ))
    };
    if body.kind != "dsse" || body.api_version != "0.0.1" {
        return Err(SignError::BadSignature(format!(
            "the transparency-log entry is a {:?} {:?} entry; zoo checks dsse 0.0.1 entries",
            body.kind, body.api_version
        )));
    }
    let payload = &body.spec.payload_hash;
    if payload.algorithm != "sha256"
        || payload.value != hex::encode(Sha256::digest(&bundle.payload))
    {
        return Err(mismatch("payload hash"));
    }
    let signed = body.spec.signatures.iter().any(|s| {
        b64(&s.signature, "").is_ok_and(|sig| sig == bundle.signature)
            && b64(&s.verifier, "")
                .ok()
                .and_then(|pem| pem_blocks(&String::from_utf8_lossy(&pem)).ok())
                .is_some_and(|blocks| blocks.iter().any(|(_, der)| der == leaf.der()))
    });
    if !signed {
        return Err(mismatch("signature or certificate"));
    }
    Ok(())
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, SignError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| SignError::BadSignature(format!("{what} is not valid base64 ({e})")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    log_index: Int64,
    log_id: LogId,
    integrated_time: Int64,
    #[serde(default)]
    inclusion_promise: Option<Promise>,
    canonicalized_body: String,
}

impl Entry {
    fn log_id(&self) -> Result<Vec<u8>, SignError> {
        b64(&self.log_id.key_id, "the entry's log id")
    }

    fn time(&self) -> Result<SystemTime, SignError> {
        u64::try_from(self.integrated_time.0)
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            .map_err(|_| SignError::BadSignature("the entry's integrated time is negative".into()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Promise {
    signed_entry_timestamp: String,
}

/// A protobuf int64 in JSON: a string of digits (or, from some writers, a number).
struct Int64(i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Int64, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s.parse().map(Int64).map_err(serde::de::Error::custom),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Int64)
                .ok_or_else(|| serde::de::Error::custom("not an int64")),
            _ => Err(serde::de::Error::custom("not an int64")),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    api_version: String,
    kind: String,
    spec: DsseSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    payload_hash: Hash,
    #[serde(default)]
    signatures: Vec<DsseSignature>,
}

#[derive(Deserialize)]
struct Hash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct DsseSignature {
    signature: String,
    verifier: String,
}
