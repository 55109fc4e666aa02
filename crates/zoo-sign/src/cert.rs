//! X.509 certificates: the signer of the certificate method, and the chain
//! that must lead from it to a trusted root.
//!
//! Chains are validated by webpki (the validator rustls uses): signatures up
//! to a trust anchor, validity at the time of verification, CA and path-length
//! constraints, critical extensions, and the extended key usage. zoo then
//! requires the leaf to be fit for code signing: an extended key usage, when
//! present, must include codeSigning, a key usage, when present, must include
//! digitalSignature, and at least one of them must be present (the reference
//! accepts either).

use std::path::Path;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, SubjectAltName};

use crate::error::SignError;
use crate::keys::{PublicKey, pem_blocks, read_material};

/// id-kp-codeSigning, 1.3.6.1.5.5.7.3.3, as webpki wants it (the OID's value bytes).
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
const CODE_SIGNING_OID: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio's OIDC issuer extensions (1.3.6.1.4.1.57264.1.1 raw, .1.8 DER string).
const FULCIO_ISSUER_V1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const FULCIO_ISSUER_V2: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");

/// One parsed certificate and its DER bytes.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

impl Cert {
    pub fn from_der(der: Vec<u8>) -> Result<Cert, String> {
        let cert =
            Certificate::from_der(&der).map_err(|e| format!("not an X.509 certificate ({e})"))?;
        Ok(Cert { der, cert })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Every certificate of a PEM file, in order.
    pub fn read_pem_all(path: &Path) -> Result<Vec<Cert>, SignError> {
        let text = read_material(path)?;
        let blocks = pem_blocks(&text).map_err(|m| SignError::material(path, m))?;
        let certs = blocks
            .into_iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| Cert::from_der(der).map_err(|m| SignError::material(path, m)))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(SignError::material(path, "no CERTIFICATE in this PEM file"));
        }
        Ok(certs)
    }

    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    pub fn public_key(&self) -> Result<PublicKey, String> {
        let spki = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("cannot encode the certificate's key ({e})"))?;
        PublicKey::from_spki_der(&spki).map_err(|m| format!("the certificate's key is {m}"))
    }

    fn not_after(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    fn not_before(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }

    /// Whether the certificate was issued by Sigstore's Fulcio (keyless signing).
    pub fn is_fulcio(&self) -> bool {
        self.cert
            .tbs_certificate()
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or(&[])
            .iter()
            .any(|e| e.extn_id == FULCIO_ISSUER_V1 || e.extn_id == FULCIO_ISSUER_V2)
    }

    /// A keyless certificate's identity (its first subject alternative name)
    /// and the OIDC issuer Fulcio recorded.
    pub fn keyless_identity(&self) -> (String, String) {
        let tbs = self.cert.tbs_certificate();
        let identity = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san
                .0
                .first()
                .map(|n| match n {
                    x509_cert::ext::pkix::name::GeneralName::Rfc822Name(s) => s.to_string(),
                    x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(s) => {
                        s.to_string()
                    }
                    other => format!("{other:?}"),
                })
                .unwrap_or_else(|| "an unnamed identity".into()),
            _ => "an unnamed identity".into(),
        };
        let mut issuer = "unknown".to_owned();
        for e in tbs.extensions().map(|e| e.as_slice()).unwrap_or(&[]) {
            let bytes = e.extn_value.as_bytes();
            if e.extn_id == FULCIO_ISSUER_V2 {
                if let Ok(s) = der::asn1::Utf8StringRef::from_der(bytes) {
                    issuer = s.as_str().to_owned();
                }
            } else if e.extn_id == FULCIO_ISSUER_V1 && issuer == "unknown" {
                issuer = String::from_utf8_lossy(bytes).into_owned();
            }
        }
        (identity, issuer)
    }

    /// Whether an extended key usage is present and includes codeSigning
    /// (what a keyless certificate must have).
    pub fn has_code_signing_eku(&self) -> bool {
        matches!(
            self.cert.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
            Ok(Some((_, eku))) if eku.0.contains(&CODE_SIGNING_OID)
        )
    }

    /// Fit for signing code: see the module documentation.
    pub fn check_purpose(&self) -> Result<(), String> {
        let tbs = self.cert.tbs_certificate();
        let eku = tbs
            .get_extension::<ExtendedKeyUsage>()
            .map_err(|e| format!("its extended key usage cannot be read ({e})"))?;
        let ku = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| format!("its key usage cannot be read ({e})"))?;
        if let Some((_, eku)) = &eku
            && !eku.0.contains(&CODE_SIGNING_OID)
        {
            return Err(format!(
                "the certificate of {} is not for code signing (its extended key usage lacks codeSigning)",
                self.subject()
            ));
        }
        if let Some((_, ku)) = &ku
            && !ku.digital_signature()
        {
            return Err(format!(
                "the certificate of {} is not for signing (its key usage lacks digitalSignature)",
                self.subject()
            ));
        }
        if eku.is_none() && ku.is_none() {
            return Err(format!(
                "the certificate of {} states no purpose (no key usage, no extended key usage)",
                self.subject()
            ));
        }
        Ok(())
    }

    /// Within its validity period at `now`.
    pub fn check_validity(&self, now: SystemTime) -> Result<(), String> {
        if now > self.not_after() {
            return Err(format!(
                "the certificate of {} expired on {}",
                self.subject(),
                self.cert.tbs_certificate().validity().not_after
            ));
        }
        if now < self.not_before() {
            return Err(format!(
                "the certificate of {} is not valid before {}",
                self.subject(),
                self.cert.tbs_certificate().validity().not_before
            ));
        }
        Ok(())
    }
}

/// Validate `leaf` (with the bundle's other certificates as intermediates)
/// up to one of `roots`, at `now`, for code signing.
pub fn verify_chain(
    leaf: &Cert,
    intermediates: &[Cert],
    roots: &[Cert],
    now: SystemTime,
) -> Result<(), String> {
    if roots.is_empty() {
        return Err(format!(
            "the signing certificate ({}, issued by {}) cannot be checked: no trusted root \
             (give --cert-chain CA.pem, or list it under trusted_roots in the config)",
            leaf.subject(),
            leaf.issuer()
        ));
    }
    // Clear messages first for the common failures webpki names tersely.
    leaf.check_validity(now)?;
    leaf.check_purpose()?;
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let anchors = root_ders
        .iter()
        .map(|d| {
            webpki::anchor_from_trusted_cert(d)
                .map_err(|e| format!("a trusted root cannot be used as one ({e})"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let leaf_der = CertificateDer::from(leaf.der());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the signing certificate cannot be used ({e})"))?;
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &inter,
        UnixTime::since_unix_epoch(since),
        webpki::KeyUsage::required_if_present(CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| {
        let why = match e {
            webpki::Error::UnknownIssuer => {
                "it was not issued by a trusted root (nor through the bundle's intermediates)"
                    .to_owned()
            }
            webpki::Error::InvalidSignatureForPublicKey => {
                "it was not issued by a trusted root (a trusted certificate of its issuer's name \
                 did not sign it)"
                    .into()
            }
            webpki::Error::CertExpired { .. } => "a certificate of the chain has expired".into(),
            webpki::Error::CertNotValidYet { .. } => {
                "a certificate of the chain is not valid yet".into()
            }
            webpki::Error::RequiredEkuNotFoundContext(_) => "it is not for code signing".into(),
            other => format!("{other:?}"),
        };
        format!(
            "the certificate chain of {} (issued by {}) does not verify: {why}",
            leaf.subject(),
            leaf.issuer()
        )
    })
}
