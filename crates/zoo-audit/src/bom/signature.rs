//! A model's signature as both AI-BOMs record it: the same facts, named the
//! same way, placed where each format puts statements about a component.

use zoo_sign::{SignatureStatus, SignerInfo};

use crate::report::ModelAudit;

/// `(name, value)` pairs, names under `zoo:signature:` (CycloneDX property
/// names; SPDX annotation statements reuse them): the state, then what each
/// state knows, then the base model's signer recorded at fine-tuning.
pub(super) fn facts(m: &ModelAudit) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(status) = &m.signature {
        out.push(("zoo:signature:state", status.state().to_owned()));
        match status {
            SignatureStatus::Unsigned => {}
            SignatureStatus::Verified {
                signer,
                trusted,
                untrusted_because,
                files,
            } => {
                signer_facts(signer, &mut out);
                out.push(("zoo:signature:trusted", trusted.to_string()));
                if let Some(why) = untrusted_because {
                    out.push(("zoo:signature:untrusted-because", why.clone()));
                }
                out.push(("zoo:signature:files", files.to_string()));
            }
            SignatureStatus::Failed {
                failure, reason, ..
            } => {
                out.push(("zoo:signature:failure", (*failure).to_owned()));
                out.push(("zoo:signature:reason", reason.clone()));
            }
            SignatureStatus::Keyless { identity, issuer } => {
                out.push(("zoo:signature:identity", identity.clone()));
                out.push(("zoo:signature:issuer", issuer.clone()));
                out.push((
                    "zoo:signature:reason",
                    "keyless Sigstore signature: not verifiable offline".to_owned(),
                ));
            }
        }
    }
    if let Some(b) = &m.base_signer {
        out.push(("zoo:base-signer", b.to_string()));
    }
    out
}

fn signer_facts(signer: &SignerInfo, out: &mut Vec<(&'static str, String)>) {
    match signer {
        SignerInfo::Key { fingerprint, curve } => {
            out.push(("zoo:signature:method", "key".to_owned()));
            out.push(("zoo:signature:key", fingerprint.clone()));
            out.push(("zoo:signature:curve", curve.clone()));
        }
        SignerInfo::Certificate {
            subject,
            issuer,
            fingerprint,
        } => {
            out.push(("zoo:signature:method", "certificate".to_owned()));
            out.push(("zoo:signature:subject", subject.clone()));
            out.push(("zoo:signature:issuer", issuer.clone()));
            out.push(("zoo:signature:key", fingerprint.clone()));
        }
        SignerInfo::Keyless {
            identity,
            oidc_issuer,
            not_checked,
            ..
        } => {
            out.push(("zoo:signature:method", "keyless".to_owned()));
            out.push(("zoo:signature:identity", identity.clone()));
            out.push(("zoo:signature:issuer", oidc_issuer.clone()));
            for n in not_checked {
                out.push(("zoo:signature:not-checked", n.clone()));
            }
        }
    }
}

/// One line for people: the signature as `zoo audit` prints it.
pub(super) fn summary(m: &ModelAudit) -> Option<String> {
    m.signature.as_ref().map(|s| format!("signature: {s}"))
}
