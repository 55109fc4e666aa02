//! A model's signature judged: a signature that fails is an error whatever
//! the policy (the files are not what was signed, or the bundle is broken);
//! the rest are errors only under the policy's `require_signature`.

use zoo_sign::SignatureStatus;

use crate::finding::{Finding, FindingKind, Severity};
use crate::policy::Policy;

const SUBJECT: &str = "signature";

pub(super) fn findings(status: &SignatureStatus, policy: &Policy) -> Vec<Finding> {
    let required = policy.require_signature;
    let when_required = |s| if required { s } else { Severity::Info };
    let finding =
        |kind, severity, message: String| vec![Finding::new(kind, severity, SUBJECT, message)];
    match status {
        SignatureStatus::Verified { trusted: true, .. } => Vec::new(),
        SignatureStatus::Unsigned if !required => Vec::new(),
        SignatureStatus::Unsigned => finding(
            FindingKind::SignatureMissing,
            Severity::Error,
            "the policy requires a signature but the model has none (model.sig); sign it with \
             `zoo sign NAME --key KEY.pem`, or pull a signed copy"
                .to_owned(),
        ),
        SignatureStatus::Verified {
            signer,
            untrusted_because,
            ..
        } => finding(
            FindingKind::SignatureUntrusted,
            when_required(Severity::Error),
            format!(
                "signed by {signer}, who is not trusted ({}): add the signer's key to \
                 trusted_keys (or its CA to trusted_roots) if you trust it",
                untrusted_because.as_deref().unwrap_or("not listed")
            ),
        ),
        SignatureStatus::Failed {
            failure: "untrusted",
            reason,
            ..
        } => finding(
            FindingKind::SignatureUntrusted,
            when_required(Severity::Error),
            reason.clone(),
        ),
        SignatureStatus::Failed { reason, .. } => finding(
            FindingKind::SignatureInvalid,
            Severity::Error,
            format!("{reason}; re-pull the model (`zoo pull NAME`) or re-sign it"),
        ),
        SignatureStatus::Keyless { identity, issuer } => finding(
            FindingKind::SignatureUnverifiable,
            when_required(Severity::Error),
            format!(
                "keyless Sigstore signature by {identity} (issuer {issuer}): zoo cannot verify it \
                 offline; check it with `zoo verify NAME --signature --trust-root \
                 trusted_root.json` or sign with a key"
            ),
        ),
    }
}
