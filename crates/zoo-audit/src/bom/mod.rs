//! AI bills of materials built from an [`AuditReport`]: CycloneDX 1.6 JSON and
//! SPDX 3.0.1 JSON-LD (AI and Dataset profiles). Both are deterministic for a
//! given report and creation time, so that a BOM can be diffed and signed.

mod cyclonedx;
mod spdx;

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::report::AuditReport;

pub use cyclonedx::cyclonedx;
pub use spdx::spdx;

/// `YYYY-MM-DDTHH:MM:SSZ`, the form both formats accept.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (the era algorithm, which
/// counts in 400-year cycles so that leap years need no table).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    use std::time::Duration;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(rfc3339(leap), "2000-02-29T01:02:03Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_599);
        assert_eq!(rfc3339(t), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn slugs_keep_names_apart() {
        assert_eq!(slug("resnet50-v1-7"), "resnet50-v1-7");
        assert_eq!(
            slug("ImageNet-1k (ILSVRC 2012)"),
            "ImageNet-1k%20%28ILSVRC%202012%29"
        );
    }
}
