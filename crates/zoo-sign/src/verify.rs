//! Verifying: who signed (and whether zoo trusts them), that the signature
//! covers the statement, and that the statement's files are the files on disk.

use serde::Serialize;

use crate::bundle::{Bundle, Material};
use crate::cert::{Cert, verify_chain};
use crate::dsse::{IN_TOTO_PAYLOAD_TYPE, pae};
use crate::error::SignError;
use crate::files::{FileDiff, Resource};
use crate::keys::{Fingerprint, PublicKey};
use crate::statement::ModelStatement;
use crate::trust::Trust;

/// The signer of a verified signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum SignerInfo {
    Key {
        fingerprint: String,
        curve: String,
    },
    Certificate {
        subject: String,
        issuer: String,
        /// The fingerprint of the certificate's key.
        fingerprint: String,
    },
    /// A keyless Sigstore signature checked against a trust root.
    Keyless {
        identity: String,
        oidc_issuer: String,
        /// The trust root's certificate authority the certificate chains to.
        certificate_authority: String,
        /// The transparency log, and the entry's index and time in it.
        log: String,
        log_index: i64,
        integrated_time: String,
        /// What was not checked: never reported as verified.
        not_checked: Vec<String>,
    },
}

impl std::fmt::Display for SignerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerInfo::Key { fingerprint, curve } => write!(f, "key {fingerprint} ({curve})"),
            SignerInfo::Certificate {
                subject, issuer, ..
            } => write!(f, "certificate {subject}, issued by {issuer}"),
            SignerInfo::Keyless {
                identity,
                oidc_issuer,
                certificate_authority,
                log,
                log_index,
                integrated_time,
                not_checked,
            } => write!(
                f,
                "keyless identity {identity} (OIDC issuer {oidc_issuer}), certificate from \
                 {certificate_authority}, logged in {log} at index {log_index} on \
                 {integrated_time}; NOT CHECKED: {}",
                not_checked.join("; ")
            ),
        }
    }
}

/// A signature that verified, and what it states.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: SignerInfo,
    pub statement: ModelStatement,
}

/// Check the bundle's signature and its signer against `trust`, then read its
/// statement. The files are checked by [`verify_files`].
pub fn verify(bundle: &Bundle, trust: &Trust) -> Result<Verified, SignError> {
    let (key, signer) = match &bundle.material {
        Material::PublicKey { hint } => {
            let key = key_for_hint(hint.as_deref(), bundle, trust)?;
            let info = SignerInfo::Key {
                fingerprint: key.fingerprint().to_string(),
                curve: key.curve().to_string(),
            };
            (key, info)
        }
        Material::Chain(ders) => {
            let certs = ders
                .iter()
                .map(|d| Cert::from_der(d.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(SignError::BadSignature)?;
            let leaf = &certs[0];
            if leaf.is_fulcio() {
                let (identity, issuer) = leaf.keyless_identity();
                return Err(SignError::NotVerifiableOffline { identity, issuer });
            }
            let key = leaf.public_key().map_err(SignError::BadSignature)?;
            let fingerprint = key.fingerprint();
            let pinned = trust.fingerprints.contains(&fingerprint) || trust.keys.contains(&key);
            if pinned {
                leaf.check_validity(trust.now)
                    .and_then(|()| leaf.check_purpose())
                    .map_err(SignError::Untrusted)?;
            } else {
                verify_chain(leaf, &certs[1..], &trust.roots, trust.now)
                    .map_err(SignError::Untrusted)?;
            }
            let info = SignerInfo::Certificate {
                subject: leaf.subject(),
                issuer: leaf.issuer(),
                fingerprint: fingerprint.to_string(),
            };
            (key, info)
        }
        Material::Keyless { certificate } if trust.keyless.is_some() => {
            let keyless = trust.keyless.as_ref().expect("checked by the guard");
            crate::keyless::verify(bundle, certificate, keyless)?
        }
        Material::Keyless { certificate } => {
            let (identity, issuer) = Cert::from_der(certificate.clone())
                .map(|c| c.keyless_identity())
                .unwrap_or_else(|_| ("an unreadable certificate".into(), "unknown".into()));
            return Err(SignError::NotVerifiableOffline { identity, issuer });
        }
    };
    check_envelope(bundle, &key, signer)
}

/// Check the bundle's signature whoever made it: `Ok((verified, untrusted))`,
/// `untrusted` saying why the signer is not trusted (a certificate's chain
/// that leads to no trusted root, an expired or pinned certificate out of its
/// validity) as long as the signature verifies with the certificate's key. A key-method bundle names
/// only its key's fingerprint, so without that key nothing can be checked:
/// that stays an [`SignError::Untrusted`] error.
pub fn inspect(bundle: &Bundle, trust: &Trust) -> Result<(Verified, Option<String>), SignError> {
    match verify(bundle, trust) {
        Ok(v) => Ok((v, None)),
        Err(SignError::Untrusted(why)) => {
            let Material::Chain(ders) = &bundle.material else {
                return Err(SignError::Untrusted(why));
            };
            let leaf = Cert::from_der(ders[0].clone()).map_err(SignError::BadSignature)?;
            let key = leaf.public_key().map_err(SignError::BadSignature)?;
            let signer = SignerInfo::Certificate {
                subject: leaf.subject(),
                issuer: leaf.issuer(),
                fingerprint: key.fingerprint().to_string(),
            };
            Ok((check_envelope(bundle, &key, signer)?, Some(why)))
        }
        Err(e) => Err(e),
    }
}

/// The DSSE signature over the payload with `key`, then the statement.
fn check_envelope(
    bundle: &Bundle,
    key: &PublicKey,
    signer: SignerInfo,
) -> Result<Verified, SignError> {
    key.verify(
        &pae(&bundle.payload_type, &bundle.payload),
        &bundle.signature,
    )
    .map_err(|e| SignError::BadSignature(format!("{e}; signer {signer}")))?;
    if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(SignError::BadStatement(format!(
            "its payload is {:?}, not {IN_TOTO_PAYLOAD_TYPE}",
            bundle.payload_type
        )));
    }
    let statement = ModelStatement::from_json(&bundle.payload).map_err(SignError::BadStatement)?;
    Ok(Verified { signer, statement })
}

/// The trusted key a key-method bundle names by its fingerprint.
fn key_for_hint(
    hint: Option<&str>,
    bundle: &Bundle,
    trust: &Trust,
) -> Result<PublicKey, SignError> {
    let Some(hint) = hint else {
        // Bundles of model_signing before 1.0 carry no hint: try each key.
        let message = pae(&bundle.payload_type, &bundle.payload);
        return trust
            .keys
            .iter()
            .find(|k| k.verify(&message, &bundle.signature).is_ok())
            .cloned()
            .ok_or_else(|| {
                SignError::Untrusted(
                    "the signature names no key and verifies with none of the trusted keys".into(),
                )
            });
    };
    let Some(wanted) = Fingerprint::parse(hint) else {
        return Err(SignError::BadSignature(format!(
            "the bundle's key hint {:?} is not a sha256 fingerprint",
            zoo_types::TerminalSafe::shortened(hint, 80).to_string()
        )));
    };
    if let Some(k) = trust.keys.iter().find(|k| k.fingerprint() == wanted) {
        return Ok(k.clone());
    }
    let given: Vec<String> = trust
        .keys
        .iter()
        .map(|k| k.fingerprint().to_string())
        .collect();
    Err(SignError::Untrusted(
        if trust.fingerprints.contains(&wanted) {
            format!(
                "signed by key {wanted}, trusted by its fingerprint, but checking the signature needs \
             the public key itself: give --key PUB.pem, or list the PEM file under trusted_keys"
            )
        } else if given.is_empty() {
            format!(
                "signed by key {wanted}; give its public key with --key PUB.pem, or list it under \
             trusted_keys in the config"
            )
        } else {
            format!(
                "signed by key {wanted}, not by a trusted key (trusted: {})",
                given.join(", ")
            )
        },
    ))
}

/// The files on disk must be exactly the files the statement lists.
pub fn verify_files(verified: &Verified, actual: &[Resource]) -> Result<(), SignError> {
    let diff = FileDiff::between(&verified.statement.resources, actual);
    if diff.is_empty() {
        Ok(())
    } else {
        Err(SignError::Files(diff))
    }
}
