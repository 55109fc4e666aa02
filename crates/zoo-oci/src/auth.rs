//! Who zoo is to a registry: anonymous, or a user and password from the Docker
//! config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`),
//! as every OCI tool reads it; then, per repository and action, the Bearer
//! token a `WWW-Authenticate` challenge points to, cached until it is refused.
//! No credential is ever printed: they live in [`Secret`]s.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;
use zoo_fetch::Secret;
use zoo_types::OciRegistry;

use crate::error::OciError;

/// The credentials for one registry.
#[derive(Debug, Clone)]
pub enum Credentials {
    Anonymous,
    Basic { user: String, password: Secret },
}

impl Credentials {
    /// The `Authorization: Basic ...` value, for registries (and token
    /// services) that take one.
    pub(crate) fn basic_header(&self) -> Option<Secret> {
        match self {
            Credentials::Anonymous => None,
            Credentials::Basic { user, password } => {
                let raw = format!("{user}:{}", password.expose());
                Some(Secret::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )))
            }
        }
    }
}

/// The largest Docker config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
}

#[derive(Debug, Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The Docker config file zoo reads credentials from.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The credentials the Docker config file holds for `registry`; anonymous
/// when there is no file or no entry. A malformed file is an error that names
/// it (never its contents).
pub fn credentials_for(registry: &OciRegistry) -> Result<Credentials, OciError> {
    let Some(path) = docker_config_path() else {
        return Ok(Credentials::Anonymous);
    };
    let text = match zoo_fs::read_to_string_bounded(&path, MAX_CONFIG_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::Anonymous),
        Err(e) => {
            return Err(OciError::Credentials {
                path,
                message: e.to_string(),
            });
        }
    };
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| OciError::Credentials {
        path: path.clone(),
        message: format!("not a Docker config file (line {})", e.line()),
    })?;
    // Entries are keyed by host (`ghcr.io`), sometimes with a scheme or path.
    let entry = config.auths.iter().find(|(key, _)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        host.eq_ignore_ascii_case(registry.as_str())
    });
    let Some((_, auth)) = entry else {
        return Ok(Credentials::Anonymous);
    };
    let bad = |message: &str| OciError::Credentials {
        path: path.clone(),
        message: format!("the entry for {registry} {message}"),
    };
    if let (Some(user), Some(password)) = (&auth.username, &auth.password) {
        return Ok(Credentials::Basic {
            user: user.clone(),
            password: Secret::new(password.clone()),
        });
    }
    let Some(encoded) = &auth.auth else {
        return Ok(Credentials::Anonymous);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("has an `auth` that is not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("has an `auth` that is not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| bad("has an `auth` that is not user:password"))?;
    Ok(Credentials::Basic {
        user: user.to_owned(),
        password: Secret::new(password.to_owned()),
    })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm=...`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut rest = params;
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        fields.insert(key, value.to_owned());
        rest = tail.trim_start_matches(',');
    }
    Some(Challenge::Bearer {
        realm: fields.remove("realm")?,
        service: fields.remove("service"),
        scope: fields.remove("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/m:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:team/m:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="r""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None, "no realm");
    }

    #[test]
    fn basic_credentials_are_redacted_in_debug() {
        let c = Credentials::Basic {
            user: "u".into(),
            password: Secret::new("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        let h = c.basic_header().unwrap();
        assert_eq!(h.expose(), "Basic dTpodW50ZXIy");
        assert!(!format!("{h:?}").contains("dTpo"));
    }
}
