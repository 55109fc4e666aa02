//! JSON API calls to the hub (model and dataset info, search), through the same
//! HTTP client as downloads: the token only to the endpoint's origin, redirects
//! followed by hand, connect and stall timeouts, and a bounded body read within
//! an overall deadline.

use std::io::Read;
use std::time::{Duration, Instant};

use zoo_types::TerminalSafe;

use crate::error::FetchError;
use crate::http::{Http, Target};

/// A hub API answer, read in full (within its limit).
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `X-Error-Code` header the hub sets on errors (`RepoNotFound`,
    /// `GatedRepo` ...), escaped for display.
    pub error_code: Option<String>,
    /// The absolute URL of the next page (`Link: <...>; rel="next"`), if any.
    pub next: Option<String>,
}

/// A client for the hub's JSON API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: Http,
    deadline: Duration,
}

impl ApiClient {
    /// Uses `HF_TOKEN` (as downloads do) and the timeouts of `zoo-env`.
    pub fn new() -> Result<ApiClient, FetchError> {
        let stall = zoo_env::stall_timeout()?;
        Ok(ApiClient {
            http: Http::new(zoo_env::hf_token())?,
            // A trickling server must not hold a command forever.
            deadline: (stall * 4).max(Duration::from_secs(60)),
        })
    }

    /// Whether a token will be sent (never the token itself).
    pub fn has_token(&self) -> bool {
        self.http.token().is_some()
    }

    /// The longest one answer may take; callers that make many calls for one
    /// command (a lineage, a search's pages) bound their total with it.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// GET `url` and read at most `limit` bytes of its body; a longer body is
    /// an error, not a truncated answer.
    pub fn get(&self, url: &str, limit: u64) -> Result<ApiAnswer, FetchError> {
        let shown = TerminalSafe::shortened(url, 200).to_string();
        let fail = |message: String| FetchError::Http {
            url: shown.clone(),
            message,
        };
        let started = Instant::now();
        let target = Target {
            url: url.to_owned(),
            label: String::new(),
            size: None,
            server_size: None,
            sha256: None,
            git_blob: None,
            authenticated: true,
            authorization: None,
        };
        let response = self.http.get(&target, None).map_err(fail)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let error_code =
            header("x-error-code").map(|c| TerminalSafe::shortened(&c, 80).to_string());
        let next = header("link").and_then(|l| next_link(&l));
        let mut body = Vec::new();
        let mut reader = response.take(limit + 1);
        let mut buf = [0u8; 64 * 1024];
        loop {
            if started.elapsed() > self.deadline {
                return Err(fail(format!(
                    "the answer took longer than {}s",
                    self.deadline.as_secs()
                )));
            }
            let n = reader
                .read(&mut buf)
                .map_err(|e| fail(format!("reading the answer failed: {e}")))?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        if body.len() as u64 > limit {
            return Err(FetchError::TooLarge {
                path: "API answer".to_owned(),
                source_desc: shown,
                limit,
            });
        }
        Ok(ApiAnswer {
            status,
            body,
            error_code,
            next,
        })
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288), as the hub paginates.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_page() {
        let h = r#"<https://hub/api/models?cursor=abc&limit=2>; rel="next""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://hub/api/models?cursor=abc&limit=2")
        );
        let two = r#"<https://a/1>; rel="prev", <https://a/3>; rel="next""#;
        assert_eq!(next_link(two).as_deref(), Some("https://a/3"));
        assert_eq!(next_link(r#"<https://a/1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
