//! `REGISTRY/REPOSITORY[:TAG][@DIGEST]`, parsed once into parts that can only
//! hold what the OCI distribution spec allows: each becomes a URL path
//! segment, a file name in an image layout, or a line on the terminal.

use std::fmt;
use std::str::FromStr;

use crate::{InvalidValue, Sha256Hex};

/// A registry host with an optional port, e.g. `ghcr.io` or `127.0.0.1:5000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciRegistry(String);

/// A repository path: `/`-separated components of lower-case letters and
/// digits joined by `.`, `_`, `__` or runs of `-` (the spec's grammar).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciRepository(String);

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciTag(String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference {
    pub registry: OciRegistry,
    pub repository: OciRepository,
    pub tag: Option<OciTag>,
    pub digest: Option<Sha256Hex>,
}

fn bad(value: &str, reason: impl Into<String>) -> InvalidValue {
    InvalidValue::new("OCI reference", value, reason)
}

impl OciRegistry {
    pub fn parse(s: &str) -> Result<OciRegistry, InvalidValue> {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
            _ => (s, None),
        };
        if host.is_empty() || host.len() > 253 {
            return Err(bad(s, "the registry host must be 1 to 253 characters"));
        }
        let ok_host = host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !ok_host {
            return Err(bad(
                s,
                "the registry host must be a DNS name or an IPv4 address",
            ));
        }
        if let Some(p) = port
            && !(p.parse::<u16>().is_ok_and(|n| n > 0) && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad(s, "the registry port must be 1 to 65535"));
        }
        Ok(OciRegistry(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Loopback registries may be spoken to over plain HTTP; any other only
    /// with `--insecure`.
    pub fn is_loopback(&self) -> bool {
        let host = self.0.rsplit_once(':').map_or(self.0.as_str(), |(h, _)| h);
        host == "localhost" || host.starts_with("127.") || host == "::1"
    }
}

impl OciRepository {
    pub fn parse(s: &str) -> Result<OciRepository, InvalidValue> {
        if s.is_empty() || s.len() > 255 {
            return Err(bad(s, "the repository must be 1 to 255 characters"));
        }
        for component in s.split('/') {
            if !valid_component(component) {
                return Err(bad(
                    s,
                    "each repository component is lower-case letters and digits, joined by '.', '_', '__' or '-'",
                ));
            }
        }
        Ok(OciRepository(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let dashes = sep.bytes().all(|x| x == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

impl OciTag {
    pub fn parse(s: &str) -> Result<OciTag, InvalidValue> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|x| x.is_ascii_alphanumeric() || b"._-".contains(x));
        if !ok {
            return Err(bad(
                s,
                "a tag is 1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -",
            ));
        }
        Ok(OciTag(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag the referrers fallback uses for a manifest: `sha256-<hex>`.
    pub fn for_referrers(digest: &Sha256Hex) -> OciTag {
        OciTag(format!("sha256-{digest}"))
    }
}

impl OciReference {
    /// `REGISTRY/REPO[:TAG][@sha256:HEX]`; an `oci://` prefix is allowed.
    /// Without tag or digest the tag is `latest`, as docker and oras assume.
    pub fn parse(s: &str) -> Result<OciReference, InvalidValue> {
        let text = s.strip_prefix("oci://").unwrap_or(s);
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) => (
                n,
                Some(Sha256Hex::parse_prefixed(d).map_err(|e| bad(s, e.reason))?),
            ),
            None => (text, None),
        };
        let (registry, path) = name.split_once('/').ok_or_else(|| {
            bad(
                s,
                "expected REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/team/model:v1",
            )
        })?;
        // A ':' after the last '/' starts the tag (the registry may have a port).
        let (repo, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(OciTag::parse(t)?)),
            _ => (path, None),
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some(OciTag("latest".to_owned())),
            _ => tag,
        };
        Ok(OciReference {
            registry: OciRegistry::parse(registry)?,
            repository: OciRepository::parse(repo)?,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("sha256:{d}"),
            (None, Some(t)) => t.0.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    pub fn with_digest(&self, digest: Sha256Hex) -> OciReference {
        OciReference {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry.0, self.repository.0)?;
        if let Some(t) = &self.tag {
            write!(f, ":{}", t.0)?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@sha256:{d}")?;
        }
        Ok(())
    }
}

impl FromStr for OciReference {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OciReference::parse(s)
    }
}

impl serde::Serialize for OciReference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for OciReference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        OciReference::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl FromStr for OciTag {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OciTag::parse(s)
    }
}

impl FromStr for OciRepository {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OciRepository::parse(s)
    }
}

impl fmt::Display for OciTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OciRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OciRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_into_their_parts() {
        let r = OciReference::parse("oci://127.0.0.1:5000/team/bert-base:v1").unwrap();
        assert_eq!(r.registry.as_str(), "127.0.0.1:5000");
        assert!(r.registry.is_loopback());
        assert_eq!(r.repository.as_str(), "team/bert-base");
        assert_eq!(r.tag.as_ref().unwrap().as_str(), "v1");
        let hex = "a".repeat(64);
        let d = OciReference::parse(&format!("ghcr.io/org/m@sha256:{hex}")).unwrap();
        assert_eq!(d.target(), format!("sha256:{hex}"));
        assert!(d.tag.is_none());
        assert_eq!(
            OciReference::parse("ghcr.io/org/m").unwrap().target(),
            "latest"
        );
        assert_eq!(
            OciReference::parse("localhost:5000/a/b:t")
                .unwrap()
                .to_string(),
            "localhost:5000/a/b:t"
        );
    }

    #[test]
    fn hostile_references_are_refused() {
        let e = OciReference::parse("registry/a\u{1b}").unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'));
        for bad in [
            "registry/../etc",
            "registry/UPPER",
            "registry/a//b",
            "registry/a:-tag",
            "registry/a:../x",
            "reg istry/a",
            "registry:99999/a",
            "registry/a@sha256:xyz",
            "registry/a\u{1b}[31m",
            "registry",
            "registry/a_-b",
        ] {
            assert!(OciReference::parse(bad).is_err(), "{bad}");
        }
        assert!(OciRepository::parse("a__b/c-d.e---f").is_ok());
    }
}
