//! AI bills of materials built from an [`AuditReport`]: CycloneDX 1.6 JSON and
//! SPDX 3.0.1 JSON-LD (AI and Dataset profiles). Both are deterministic for a
//! given report and creation time, so that a BOM can be diffed and signed.

mod cyclonedx;
mod signature;
mod spdx;

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::report::AuditReport;

pub use cyclonedx::cyclonedx;
pub use spdx::spdx;

/// `YYYY-MM-DDTHH:MM:SSZ`, the form both formats accept.
pub fn rfc3339(t: SystemTime) -> String {
    zoo_types::rfc3339_utc(t)
}

/// A UUID derived from the report and the time (RFC 9562 version 8, "custom"), so
/// the same audit at the same time gives the same document identifier.
fn document_uuid(report: &AuditReport, created: &str) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(report).unwrap_or_default());
    h.update(created.as_bytes());
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// A name as an identifier fragment: letters, digits, `.`, `_` and `-` kept, the
/// rest percent-encoded, so distinct names stay distinct.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_names_apart() {
        assert_eq!(slug("resnet50-v1-7"), "resnet50-v1-7");
        assert_eq!(
            slug("ImageNet-1k (ILSVRC 2012)"),
            "ImageNet-1k%20%28ILSVRC%202012%29"
        );
    }
}
