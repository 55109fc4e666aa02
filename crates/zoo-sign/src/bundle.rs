//! The signature file: a Sigstore bundle, read as hostile input (bounded,
//! parsed into types, every base64 field decoded once).

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::SignError;

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Older media types of keyless bundles, recognised to be reported.
const KEYLESS_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
];
/// Largest signature file zoo reads: a statement lists every file of the
/// model, about 150 bytes each, so this is over 100,000 files.
pub const BUNDLE_BYTES: u64 = 16 << 20;

/// What the bundle says about its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// The key method: only the key's fingerprint (hex sha256 of its PEM).
    PublicKey { hint: Option<String> },
    /// The certificate method: the leaf first, then the rest of the chain.
    Chain(Vec<Vec<u8>>),
    /// Keyless Sigstore: a Fulcio certificate (and Rekor entries).
    Keyless { certificate: Vec<u8> },
}

/// A parsed bundle: the signer material and the DSSE envelope.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub material: Material,
    /// The transparency-log entries that came with it (keyless signing), as
    /// JSON: [`crate::keyless`] parses them when it checks them.
    pub tlog_entries: Vec<serde_json::Value>,
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Bundle {
    /// Read and parse the bundle at `path` (at most [`BUNDLE_BYTES`]).
    pub fn read(path: &Path) -> Result<Bundle, SignError> {
        let bytes = match zoo_fs::read_bounded(path, BUNDLE_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return Err(bad(path, e.to_string()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Err(bad(path, e.to_string()));
            }
            Err(e) => {
                return Err(SignError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source: e,
                });
            }
        };
        Bundle::parse(&bytes).map_err(|m| bad(path, m))
    }

    pub fn parse(bytes: &[u8]) -> Result<Bundle, String> {
        // serde_json stops at 128 levels of nesting: no stack overflow.
        let raw: RawBundle = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a Sigstore bundle in JSON ({e})"))?;
        let material = &raw.verification_material;
        let has_tlog_entries = !material.tlog_entries.is_empty();
        let keyless_media = KEYLESS_MEDIA_TYPES.contains(&raw.media_type.as_str());
        if raw.media_type != BUNDLE_MEDIA_TYPE && !keyless_media {
            return Err(format!(
                "its media type is {:?}, not {BUNDLE_MEDIA_TYPE}",
                raw.media_type
            ));
        }
        let material = match (
            &material.public_key,
            &material.x509_certificate_chain,
            &material.certificate,
        ) {
            (Some(k), None, None) => Material::PublicKey {
                hint: k.hint.clone().filter(|h| !h.is_empty()),
            },
            (None, Some(chain), None) => {
                let certs = chain
                    .certificates
                    .iter()
                    .map(|c| b64(&c.raw_bytes, "a certificate"))
                    .collect::<Result<Vec<_>, _>>()?;
                if certs.is_empty() {
                    return Err("its certificate chain is empty".into());
                }
                if has_tlog_entries || keyless_media {
                    Material::Keyless {
                        certificate: certs[0].clone(),
                    }
                } else {
                    Material::Chain(certs)
                }
            }
            (None, None, Some(c)) => Material::Keyless {
                certificate: b64(&c.raw_bytes, "the certificate")?,
            },
            _ => {
                return Err(
                    "its verification material must be exactly one of publicKey, \
                     x509CertificateChain or certificate"
                        .into(),
                );
            }
        };
        let Some(envelope) = raw.dsse_envelope else {
            return Err(if raw.message_signature.is_some() {
                "it signs a message digest, not a model statement (no DSSE envelope)".into()
            } else {
                "it has no DSSE envelope".into()
            });
        };
        let [signature] = envelope.signatures.as_slice() else {
            return Err(format!(
                "its envelope has {} signatures; zoo verifies envelopes with one",
                envelope.signatures.len()
            ));
        };
        Ok(Bundle {
            material,
            tlog_entries: raw.verification_material.tlog_entries.clone(),
            payload_type: envelope.payload_type.clone(),
            payload: b64(&envelope.payload, "the payload")?,
            signature: b64(&signature.sig, "the signature")?,
        })
    }

    /// The bundle as the reference writes it (one line of JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let material = match &self.material {
            Material::PublicKey { hint } => RawMaterial {
                public_key: Some(RawPublicKey { hint: hint.clone() }),
                ..RawMaterial::default()
            },
            Material::Chain(certs) => RawMaterial {
                x509_certificate_chain: Some(RawChain {
                    certificates: certs
                        .iter()
                        .map(|c| RawCert { raw_bytes: enc(c) })
                        .collect(),
                }),
                ..RawMaterial::default()
            },
            Material::Keyless { certificate } => RawMaterial {
                certificate: Some(RawCert {
                    raw_bytes: enc(certificate),
                }),
                ..RawMaterial::default()
            },
        };
        let raw = RawBundle {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            verification_material: material,
            dsse_envelope: Some(RawEnvelope {
                payload: enc(&self.payload),
                payload_type: self.payload_type.clone(),
                signatures: vec![RawSignature {
                    sig: enc(&self.signature),
                    keyid: String::new(),
                }],
            }),
            message_signature: None,
        };
        serde_json::to_vec(&raw).expect("a bundle serializes")
    }
}

fn bad(path: &Path, message: String) -> SignError {
    SignError::BadBundle {
        path: path.to_owned(),
        message,
    }
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| format!("{what} is not valid base64 ({e})"))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<RawEnvelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<serde_json::Value>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<RawPublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<RawChain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<RawCert>,
    /// Rekor entries of keyless bundles, checked against a trust root.
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct RawPublicKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
struct RawSignature {
    sig: String,
    #[serde(default)]
    keyid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bundles_are_clear_errors() {
        assert!(Bundle::parse(b"not json").unwrap_err().contains("JSON"));
        assert!(Bundle::parse(b"{\"mediaType\": \"x\"").is_err());
        let nested = format!(
            "{{\"mediaType\":\"x\",\"verificationMaterial\":{{\"tlogEntries\":[{}",
            "[".repeat(100_000)
        );
        assert!(
            Bundle::parse(nested.as_bytes())
                .unwrap_err()
                .contains("recursion")
        );
        let other = br#"{"mediaType":"application/json","verificationMaterial":{"publicKey":{}}}"#;
        assert!(Bundle::parse(other).unwrap_err().contains("media type"));
    }

    #[test]
    fn round_trips() {
        let b = Bundle {
            material: Material::PublicKey {
                hint: Some("ab".repeat(32)),
            },
            tlog_entries: Vec::new(),
            payload_type: "application/vnd.in-toto+json".into(),
            payload: b"{}".to_vec(),
            signature: vec![1, 2, 3],
        };
        let back = Bundle::parse(&b.to_json()).unwrap();
        assert_eq!(back.material, b.material);
        assert_eq!(back.payload, b.payload);
        assert_eq!(back.signature, b.signature);
    }
}
