//! ECDSA keys on the curves the reference accepts (P-256, P-384, P-521), each
//! signing with the hash that goes with its curve (SHA-256, SHA-384, SHA-512),
//! as model_signing does; signatures are DER, as in a Sigstore bundle.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use spki::{DecodePublicKey, EncodePublicKey};

use crate::error::SignError;

/// Largest key or certificate file zoo reads.
pub const MATERIAL_BYTES: u64 = 1 << 20;

/// A curve zoo signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        })
    }
}

/// An ECDSA public key.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.curve(), self.fingerprint())
    }
}

/// The reference's key identifier: the hex sha256 of the public key's PEM
/// (SubjectPublicKeyInfo) text, the bundle's `publicKey.hint`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// 64 hex digits, optionally after `sha256:`; upper case is accepted.
    pub fn parse(s: &str) -> Option<Fingerprint> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Fingerprint(hex.to_ascii_lowercase()))
    }

    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl PublicKey {
    pub fn curve(&self) -> Curve {
        match self {
            PublicKey::P256(_) => Curve::P256,
            PublicKey::P384(_) => Curve::P384,
            PublicKey::P521(_) => Curve::P521,
        }
    }

    /// A SubjectPublicKeyInfo in DER, on a supported curve.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(k));
        }
        if let Ok(k) = p521::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::P521(k));
        }
        Err("not an ECDSA public key on P-256, P-384 or P-521 (the curves OpenSSF model signing uses)".into())
    }

    /// A PEM file holding a `PUBLIC KEY` (or a certificate, whose key is taken).
    pub fn read_pem(path: &Path) -> Result<PublicKey, SignError> {
        let text = read_material(path)?;
        let blocks = pem_blocks(&text).map_err(|m| SignError::material(path, m))?;
        for (label, der) in &blocks {
            match label.as_str() {
                "PUBLIC KEY" => {
                    return PublicKey::from_spki_der(der).map_err(|m| SignError::material(path, m));
                }
                "CERTIFICATE" => {
                    let cert = crate::cert::Cert::from_der(der.clone())
                        .map_err(|m| SignError::material(path, m))?;
                    return cert.public_key().map_err(|m| SignError::material(path, m));
                }
                _ => {}
            }
        }
        Err(SignError::material(
            path,
            "no PUBLIC KEY in this PEM file (make one with `openssl ec -in KEY.pem -pubout`)",
        ))
    }

    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::P521(k) => k.to_public_key_der(),
        };
        doc.expect("a valid public key encodes").as_bytes().to_vec()
    }

    /// The PEM text the reference hashes: 64-column base64, LF line ends.
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.to_spki_der())
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(hex::encode(Sha256::digest(self.to_pem().as_bytes())))
    }

    /// Check a DER ECDSA signature over `message`, hashed as the curve says.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> Result<(), String> {
        use ecdsa::signature::Verifier as _;
        let bad = |e: ecdsa::Error| format!("{e}");
        match self {
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::DerSignature::from_bytes(der_signature).map_err(bad)?;
                p256::ecdsa::VerifyingKey::from(k)
                    .verify(message, &sig)
                    .map_err(bad)
            }
            PublicKey::P384(k) => {
                let sig = p384::ecdsa::DerSignature::from_bytes(der_signature).map_err(bad)?;
                p384::ecdsa::VerifyingKey::from(k)
                    .verify(message, &sig)
                    .map_err(bad)
            }
            PublicKey::P521(k) => {
                let sig = p521::ecdsa::DerSignature::from_bytes(der_signature).map_err(bad)?;
                p521::ecdsa::VerifyingKey::from(k)
                    .verify(message, &sig)
                    .map_err(bad)
            }
        }
        .map_err(|e| format!("ECDSA {} verification failed ({e})", self.curve()))
    }
}

/// An ECDSA private key. `Debug` never shows the key.
pub enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, redacted)", self.public_key().curve())
    }
}

impl PrivateKey {
    /// A PEM file with an unencrypted `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY`
    /// (SEC1), as `openssl ecparam -genkey` or `openssl genpkey` write them.
    pub fn read_pem(path: &Path) -> Result<PrivateKey, SignError> {
        let text = read_material(path)?;
        let blocks = pem_blocks(&text).map_err(|m| SignError::material(path, m))?;
        for (label, der) in &blocks {
            let key = match label.as_str() {
                "PRIVATE KEY" => Self::from_pkcs8(der),
                "EC PRIVATE KEY" => Self::from_sec1(der),
                "ENCRYPTED PRIVATE KEY" => Err(
                    "the key is encrypted; zoo reads unencrypted keys (`openssl pkcs8 -topk8 -nocrypt`)"
                        .to_owned(),
                ),
                _ => continue,
            };
            return key.map_err(|m| SignError::material(path, m));
        }
        Err(SignError::material(
            path,
            "no PRIVATE KEY in this PEM file (make one with `openssl ecparam -name prime256v1 -genkey -noout`)",
        ))
    }

    fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
        use p256::pkcs8::DecodePrivateKey;
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P256((&k).into()));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P384((&k).into()));
        }
        if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P521((&k).into()));
        }
        Err(unsupported_private_key())
    }

    fn from_sec1(der: &[u8]) -> Result<PrivateKey, String> {
        if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey::P256((&k).into()));
        }
        if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey::P384((&k).into()));
        }
        if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey::P521((&k).into()));
        }
        Err(unsupported_private_key())
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(k.verifying_key().into()),
            PrivateKey::P384(k) => PublicKey::P384(k.verifying_key().into()),
            PrivateKey::P521(k) => PublicKey::P521(k.verifying_key().into()),
        }
    }

    /// A deterministic (RFC 6979) DER signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ecdsa::signature::Signer as _;
        match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.sign(message);
                s.as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.sign(message);
                s.as_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let s: p521::ecdsa::DerSignature = k.sign(message);
                s.as_bytes().to_vec()
            }
        }
    }
}

fn unsupported_private_key() -> String {
    "not an ECDSA private key on P-256, P-384 or P-521 (the curves OpenSSF model signing uses)"
        .into()
}

/// A key or certificate file, bounded, as text.
pub(crate) fn read_material(path: &Path) -> Result<String, SignError> {
    zoo_fs::read_to_string_bounded(path, MATERIAL_BYTES).map_err(SignError::io("read", path))
}

/// Every `-----BEGIN X-----` ... `-----END X-----` block: its label and bytes.
/// Text outside blocks (comments, `openssl x509 -text` output) is skipped; an
/// encrypted legacy block (`Proc-Type:` headers) is an error.
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                return Err(format!(
                    "the {label} block is encrypted (PEM headers); zoo reads unencrypted keys"
                ));
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("the {label} block has no END line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("the {label} block is not valid base64 ({e})"))?;
        out.push((label.to_owned(), der));
    }
    if out.is_empty() {
        return Err("not a PEM file (no -----BEGIN ...----- line)".into());
    }
    Ok(out)
}

/// PEM text as OpenSSL and Python's cryptography write it.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl ecparam -name prime256v1 -genkey -noout` (SEC1), its public key,
    // and the hint model_signing 1.1.1 wrote for it.
    const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIG3a37Xs2RDjDHRuzVTZhHLYTwbyavu7KIlJ7oxwWHAToAoGCCqGSM49
AwEHoUQDQgAEiy3eC6lJq1i8liKQIiFZTv5A/2ULJHLUmxc43DyqmCr1QncYTW1w
BZxE3N01BBdcB0/XjOZ0E8XwIbwpMS5oaw==
-----END EC PRIVATE KEY-----
";
    const HINT: &str = "bce700cf340ab8a84d925d98833fc493c0d28be9e280de4416b695650eee9d92";

    #[test]
    fn sign_then_verify_on_every_curve() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, SEC1).unwrap();
        let key = PrivateKey::read_pem(&path).unwrap();
        let public = key.public_key();
        assert_eq!(public.curve(), Curve::P256);
        assert_eq!(public.fingerprint().as_hex(), HINT);
        let sig = key.sign(b"message");
        public.verify(b"message", &sig).unwrap();
        assert!(public.verify(b"messagf", &sig).is_err());
        // The PEM round-trips through the parser.
        let pem = public.to_pem();
        let back = PublicKey::from_spki_der(&pem_blocks(&pem).unwrap()[0].1).unwrap();
        assert_eq!(back, public);
    }

    #[test]
    fn fingerprints_parse_with_or_without_prefix() {
        let hex = "ab".repeat(32);
        assert_eq!(
            Fingerprint::parse(&format!("sha256:{}", hex.to_uppercase())),
            Fingerprint::parse(&hex)
        );
        assert!(Fingerprint::parse("sha256:abc").is_none());
    }

    #[test]
    fn pem_errors_are_clear() {
        assert!(pem_blocks("hello").unwrap_err().contains("not a PEM"));
        assert!(
            pem_blocks("-----BEGIN X-----\nAAAA\n")
                .unwrap_err()
                .contains("no END")
        );
        assert!(
            pem_blocks("-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n-----END X-----\n")
                .unwrap_err()
                .contains("encrypted")
        );
    }
}
