use crate::{InvalidValue, string_type};

fn lower_hex(kind: &'static str, s: &str, len: usize) -> Result<(), InvalidValue> {
    if s.len() != len {
        return Err(InvalidValue::new(
            kind,
            s,
            format!(
                "expected {len} lower-case hex digits, got {} characters",
                s.chars().count()
            ),
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(InvalidValue::new(
            kind,
            s,
            format!("expected {len} lower-case hex digits (0-9, a-f)"),
        ));
    }
    Ok(())
}

/// A sha256 digest as 64 lower-case hex digits: safe as a file name and in a URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);
string_type!(Sha256Hex);

impl Sha256Hex {
    pub fn parse(s: &str) -> Result<Sha256Hex, InvalidValue> {
        lower_hex("sha256 digest", s, 64)?;
        Ok(Sha256Hex(s.to_owned()))
    }

    /// Parses `sha256:<hex>`, the OCI and model-signing form.
    pub fn parse_prefixed(s: &str) -> Result<Sha256Hex, InvalidValue> {
        match s.strip_prefix("sha256:") {
            Some(hex) => Sha256Hex::parse(hex),
            None => Err(InvalidValue::new(
                "sha256 digest",
                s,
                "expected 'sha256:' followed by 64 lower-case hex digits",
            )),
        }
    }

    /// The digest of bytes just hashed: `hex` of a 32-byte array is always valid.
    pub fn from_bytes(digest: &[u8; 32]) -> Sha256Hex {
        use std::fmt::Write;
        let mut s = String::with_capacity(64);
        for b in digest {
            let _ = write!(s, "{b:02x}");
        }
        Sha256Hex(s)
    }
}

/// A git commit id as the Hugging Face Hub returns it: exactly 40 lower-case hex
/// digits. It names a `snapshots/<commit>` folder, so nothing else may pass.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);
string_type!(CommitId);

impl CommitId {
    pub fn parse(s: &str) -> Result<CommitId, InvalidValue> {
        lower_hex("commit id", s, 40)?;
        Ok(CommitId(s.to_owned()))
    }
}

/// A git blob id: sha1 of `blob <len>\0` followed by the bytes, 40 lower-case
/// hex digits. The Hub lists one for every file kept in plain git (not LFS), so
/// it pins small files (configs, tokenizers) that have no published sha256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GitBlobId(String);
string_type!(GitBlobId);

impl GitBlobId {
    pub fn parse(s: &str) -> Result<GitBlobId, InvalidValue> {
        lower_hex("git blob id", s, 40)?;
        Ok(GitBlobId(s.to_owned()))
    }

    /// The id of bytes just hashed: `hex` of a 20-byte array is always valid.
    pub fn from_bytes(digest: &[u8; 20]) -> GitBlobId {
        use std::fmt::Write;
        let mut s = String::with_capacity(40);
        for b in digest {
            let _ = write!(s, "{b:02x}");
        }
        GitBlobId(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Sha256Hex::parse(good).unwrap().as_str(), good);
        assert!(Sha256Hex::parse(&good.to_uppercase()).is_err());
        assert!(Sha256Hex::parse(&good[1..]).is_err());
        assert!(Sha256Hex::parse(&format!("{good}0")).is_err());
        assert!(Sha256Hex::parse("../../../../etc/passwd").is_err());
        assert_eq!(
            Sha256Hex::parse_prefixed(&format!("sha256:{good}"))
                .unwrap()
                .as_str(),
            good
        );
        assert!(Sha256Hex::parse_prefixed(good).is_err());
        assert_eq!(Sha256Hex::from_bytes(&[0xab; 32]).as_str(), "ab".repeat(32));
    }

    #[test]
    fn commits() {
        let good = "0123456789abcdef0123456789abcdef01234567";
        assert!(CommitId::parse(good).is_ok());
        for bad in [
            "",
            "main",
            "/etc/passwd",
            "../../../../../../../../../../../../../tmp/x",
            "0123456789ABCDEF0123456789ABCDEF01234567",
            "0123456789abcdef0123456789abcdef0123456",
            "0123456789abcdef0123456789abcdef012345678",
            "0123456789abcdef0123456789abcdef0123456\n",
        ] {
            let e = CommitId::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid commit id"), "{e}");
        }
    }
}
