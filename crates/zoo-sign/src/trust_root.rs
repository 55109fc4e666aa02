//! A Sigstore trust root (`trusted_root.json`, media type
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the
//! certificate authorities that issue keyless signing certificates (Fulcio)
//! and the transparency logs (Rekor) whose keys sign log entries. Read as
//! hostile input: bounded, every key and certificate decoded and parsed once.
//! Certificate-transparency logs and timestamp authorities are read past:
//! zoo does not check SCTs or RFC 3161 timestamps (and says so).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;

use crate::cert::Cert;
use crate::error::SignError;
use crate::keys::{MATERIAL_BYTES, PublicKey};

/// A parsed trust root.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub authorities: Vec<Authority>,
    pub logs: Vec<Log>,
}

/// A certificate authority: its chain, the root last.
#[derive(Debug, Clone)]
pub struct Authority {
    pub uri: String,
    pub chain: Vec<Cert>,
    pub valid: Validity,
}

/// A transparency log and its key.
#[derive(Debug, Clone)]
pub struct Log {
    pub base_url: String,
    /// The log's id (`logId.keyId`): the sha256 of its key's DER.
    pub id: Vec<u8>,
    /// `keyDetails`, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub key_details: String,
    /// The key, when zoo checks signatures of its kind (ECDSA); a log with
    /// another key (the Ed25519 keys of Rekor v2) is listed, and an entry
    /// from it is refused with that reason.
    pub key: Option<PublicKey>,
    pub valid: Validity,
}

/// When a key or authority may be used (`validFor`).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub start: Option<SystemTime>,
    pub end: Option<SystemTime>,
}

impl Validity {
    pub fn contains(&self, t: SystemTime) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

impl TrustRoot {
    pub fn read(path: &Path) -> Result<TrustRoot, SignError> {
        let bytes =
            zoo_fs::read_bounded(path, MATERIAL_BYTES).map_err(SignError::io("read", path))?;
        TrustRoot::parse(&bytes).map_err(|m| {
            SignError::material(
                path,
                format!("not a Sigstore trust root (trusted_root.json): {m}"),
            )
        })
    }

    pub fn parse(bytes: &[u8]) -> Result<TrustRoot, String> {
        let raw: RawRoot = serde_json::from_slice(bytes).map_err(|e| format!("{e}"))?;
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(format!("its media type is {:?}", raw.media_type));
        }
        let mut authorities = Vec::new();
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let chain = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| b64(&c.raw_bytes).and_then(Cert::from_der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| format!("certificateAuthorities[{i}]: {m}"))?;
            if chain.is_empty() {
                return Err(format!("certificateAuthorities[{i}] has no certificate"));
            }
            authorities.push(Authority {
                uri: ca.uri.clone(),
                chain,
                valid: validity(ca.valid_for.as_ref())
                    .map_err(|m| format!("certificateAuthorities[{i}].validFor: {m}"))?,
            });
        }
        let mut logs = Vec::new();
        for (i, log) in raw.tlogs.iter().enumerate() {
            let at = |m: String| format!("tlogs[{i}]: {m}");
            let details = log.public_key.key_details.clone();
            let der = b64(&log.public_key.raw_bytes).map_err(at)?;
            let key = if details.starts_with("PKIX_ECDSA_P") {
                Some(PublicKey::from_spki_der(&der).map_err(at)?)
            } else {
                None
            };
            logs.push(Log {
                base_url: log.base_url.clone(),
                id: b64(&log.log_id.key_id).map_err(at)?,
                key_details: details,
                key,
                valid: validity(log.public_key.valid_for.as_ref()).map_err(at)?,
            });
        }
        if authorities.is_empty() || logs.is_empty() {
            return Err(
                "it needs at least one certificate authority and one transparency log".into(),
            );
        }
        Ok(TrustRoot { authorities, logs })
    }
}

fn b64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| format!("not valid base64 ({e})"))
}

fn validity(raw: Option<&RawValidity>) -> Result<Validity, String> {
    let Some(raw) = raw else {
        return Ok(Validity {
            start: None,
            end: None,
        });
    };
    Ok(Validity {
        start: raw.start.as_deref().map(parse_rfc3339).transpose()?,
        end: raw.end.as_deref().map(parse_rfc3339).transpose()?,
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, as protobuf's JSON writes timestamps;
/// the fraction is dropped (validity is checked to the second).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("{s:?} is not a UTC time like 2024-01-31T12:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &s[19..s.len() - 1];
    if !(rest.is_empty() || rest.starts_with('.') && rest[1..].bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from the civil date (the inverse of zoo_types::rfc3339_utc).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .map_err(|_| bad())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    key_details: String,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawValidity {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_with_the_writer() {
        for secs in [0, 951_786_123, 1_767_225_599, 4_102_444_800] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&zoo_types::rfc3339_utc(t)), Ok(t));
        }
        let t = parse_rfc3339("2021-01-12T11:53:27.123Z").unwrap();
        assert_eq!(zoo_types::rfc3339_utc(t), "2021-01-12T11:53:27Z");
        for bad in [
            "2021-01-12",
            "2021-13-01T00:00:00Z",
            "2021-01-12T11:53:27+01:00",
            "x",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_roots_are_clear_errors() {
        assert!(TrustRoot::parse(b"[]").is_err());
        let no_logs =
            br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;
        assert!(
            TrustRoot::parse(no_logs)
                .unwrap_err()
                .contains("at least one")
        );
        let bad_key = br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs":[{"publicKey":{"rawBytes":"AAAA","keyDetails":"PKIX_ECDSA_P256_SHA_256"},"logId":{"keyId":""}}]}"#;
        assert!(TrustRoot::parse(bad_key).unwrap_err().contains("tlogs[0]"));
    }

    /// Sigstore's public-good trust root as the `sigstore` Python package
    /// ships it (tests/data): two Fulcio authorities, the ECDSA Rekor v1 log
    /// and an Ed25519 Rekor v2 log, which is listed without a key zoo uses.
    #[test]
    fn reads_the_public_good_trust_root() {
        let root = TrustRoot::parse(include_bytes!(
            "../tests/data/sigstore-public-good-trusted_root.json"
        ))
        .unwrap();
        assert_eq!(root.authorities.len(), 2);
        assert!(
            root.authorities
                .iter()
                .all(|a| a.uri == "https://fulcio.sigstore.dev")
        );
        let v1 = root
            .logs
            .iter()
            .find(|l| l.base_url == "https://rekor.sigstore.dev")
            .unwrap();
        assert!(v1.key.is_some());
        // The log id is the sha256 of the key's DER.
        use sha2::Digest as _;
        let der = v1.key.as_ref().unwrap().to_spki_der();
        assert_eq!(v1.id, sha2::Sha256::digest(&der).to_vec());
        assert!(
            root.logs
                .iter()
                .any(|l| l.key.is_none() && l.key_details == "PKIX_ED25519")
        );
        let first = &root.authorities[0];
        assert!(
            first
                .valid
                .contains(parse_rfc3339("2022-06-01T00:00:00Z").unwrap())
        );
        assert!(
            !first
                .valid
                .contains(parse_rfc3339("2023-01-01T00:00:00Z").unwrap())
        );
    }
}
