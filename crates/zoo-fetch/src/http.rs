//! Resumable, verified HTTP downloads.
//!
//! Bytes go to a partial file next to their final place; a restarted download
//! (after a dropped connection, a stall or a killed process) continues from the
//! bytes already on disk with an HTTP Range request whose answer must start
//! exactly there. Every body goes through the one `verify::VerifyingWriter`, bounded
//! by the expected size (else `ZOO_MAX_DOWNLOAD_SIZE`), and must keep up a
//! minimum rate (`ZOO_MIN_RATE`) as well as never stall (`ZOO_STALL_TIMEOUT`).
//! Only a partial file that is a valid prefix survives an error (for the next
//! run to resume); anything else is deleted.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, LOCATION, RANGE, RETRY_AFTER};
use reqwest::{Url, redirect};
use zoo_types::TerminalSafe;

use crate::error::FetchError;
use crate::headers::{ContentRange, parse_retry_after};
use crate::progress::Progress;
use crate::secret::Secret;
use crate::verify::{Expected, RateFloor};

/// Files at least this large are fetched as several ranges at once.
const PARALLEL_THRESHOLD: u64 = 64 << 20;
const PARALLEL_PART: u64 = 32 << 20;
const MAX_PARALLEL: u64 = 4;
/// Consecutive failed attempts (without any byte of progress) before giving up.
pub(crate) const MAX_ATTEMPTS: u32 = 6;
/// Attempts for one file in all, progress or not: a server that cuts every
/// connection after a byte must not keep zoo busy for a million attempts.
pub(crate) const MAX_TOTAL_ATTEMPTS: u32 = 64;
/// Redirects followed for one request (the hub uses one, to its CDN).
const MAX_REDIRECTS: u32 = 10;
/// Times a download starts over because a resume was answered with the wrong
/// range (or a 416) before zoo gives up on the server.
pub(crate) const MAX_RESTARTS: u32 = 2;

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: Client,
    /// Redacted in `Debug`; exposed only to build the Authorization header.
    token: Option<Secret>,
    backoff_base: Duration,
    floor: RateFloor,
    /// Most bytes for a file without a declared size.
    cap: u64,
}

/// What to fetch and what it must turn out to be.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: String,
    /// Card path, for messages and progress.
    pub label: String,
    /// The size the card declares.
    pub size: Option<u64>,
    /// The size the server announced beforehand (e.g. the hub's file listing),
    /// used only when the card has none, and only up to the cap.
    pub server_size: Option<u64>,
    /// `None` when the digest is learned from this download (trust on first use).
    pub sha256: Option<String>,
    /// The git blob id the card pins (small files the hub keeps in plain git).
    pub git_blob: Option<zoo_types::GitBlobId>,
    /// Send the Hugging Face token (never for third-party URLs).
    pub authenticated: bool,
    /// An `Authorization` value of its own (an OCI registry's token), sent
    /// instead of the Hugging Face token, to the target's origin only.
    pub authorization: Option<Secret>,
}

/// The verified result, ready to be renamed into place.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub sha256: String,
    pub size: u64,
    /// Bytes that came over the network in this run (resumed bytes excluded).
    pub transferred: u64,
}

impl Http {
    pub(crate) fn new(token: Option<String>) -> Result<Http, FetchError> {
        // reqwest is built without a bundled crypto provider; ring is the one
        // rustls already carries through hf-hub. A second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let stall = zoo_env::stall_timeout()?;
        let client = Client::builder()
            // In the blocking client this bounds the wait for the response head
            // (first byte) and then every single read of the body (a stall).
            .timeout(stall)
            .connect_timeout(zoo_env::connect_timeout()?)
            // Redirects are followed by hand in `get`: reqwest drops Authorization
            // on the hop to another host but puts it back on that host's own next
            // redirect (it compares with the previous hop only), which would hand
            // the token to a CDN. The resolve URL in a Referer is nobody else's
            // business either.
            .redirect(redirect::Policy::none())
            .referer(false)
            .user_agent(concat!("zoo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Http {
                url: String::new(),
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Http {
            client,
            token: token.map(Secret::new),
            backoff_base: zoo_env::retry_base()?,
            floor: RateFloor {
                min_rate: zoo_env::min_rate()?,
                window: stall,
            },
            cap: zoo_env::max_download_size()?,
        })
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_ref().map(Secret::expose)
    }

    pub(crate) fn floor(&self) -> RateFloor {
        self.floor
    }

    /// GET `target`, following redirects. The token goes only to the origin
    /// (scheme, host and port) of the target's own URL, never to a host a
    /// redirect leads to, even when that host redirects again to itself.
    pub(crate) fn get(
        &self,
        target: &Target,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<Response, String> {
        let mut url = Url::parse(&target.url).map_err(|e| format!("bad URL: {e}"))?;
        let origin = url.origin();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.client.get(url.clone());
            if url.origin() == origin {
                if let Some(value) = &target.authorization {
                    req = req.header(AUTHORIZATION, value.expose());
                } else if let (true, Some(token)) = (target.authenticated, &self.token) {
                    req = req.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
                }
            }
            if let Some((start, end)) = range {
                let value = match end {
                    Some(end) => format!("bytes={start}-{end}"),
                    None => format!("bytes={start}-"),
                };
                req = req.header(RANGE, value);
            }
            // The error's Display can include the URL but never our headers.
            let response = req.send().map_err(|e| describe_reqwest(&e))?;
            if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("HTTP {} without a usable Location", response.status()))?;
            let next = url.join(location).map_err(|e| {
                format!(
                    "redirect to a bad URL ({e}): {}",
                    TerminalSafe::shortened(location, 200)
                )
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(format!("redirect to a {} URL refused", next.scheme()));
            }
            url = next;
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }

    /// What `target` must turn out to be: the card's size, else the server's
    /// announced size when it is within the cap, else at most the cap.
    fn expected(&self, target: &Target) -> Result<Expected, FetchError> {
        let mut expected = Expected::new(
            &target.label,
            &target.url,
            target.size,
            target.sha256.clone(),
            self.cap,
        );
        expected.git_blob = target.git_blob.clone();
        if target.size.is_none()
            && let Some(announced) = target.server_size
        {
            if announced > self.cap {
                return Err(expected.too_long(announced));
            }
            expected.size = Some(announced);
            expected.limit = announced;
        }
        Ok(expected)
    }

    /// Download `target` into `partial`, resuming what is there. On success the
    /// partial file holds exactly the verified bytes. On error it is deleted,
    /// unless it is a valid prefix kept for the next run to resume.
    pub(crate) fn download(
        &self,
        target: &Target,
        partial: &Path,
        progress: &dyn Progress,
    ) -> Result<Fetched, FetchError> {
        let expected = self.expected(target)?;
        if expected.size.is_some_and(|s| s >= PARALLEL_THRESHOLD) {
            crate::ranges::download_ranges(self, target, &expected, partial, progress)
        } else {
            crate::ranges::remove_meta(partial);
            crate::sequential::download(self, target, &expected, partial, progress)
        }
    }

    /// Exponential backoff with jitter, or the server's Retry-After when it gave one.
    pub(crate) fn wait(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        why: &str,
        progress: &dyn Progress,
    ) {
        if failures == 0 || failures >= MAX_ATTEMPTS {
            return;
        }
        let delay = retry_after.unwrap_or_else(|| {
            let exp = self.backoff_base.mul_f64(2f64.powi(failures as i32 - 1));
            let capped = exp.min(Duration::from_secs(30));
            capped.mul_f64(0.75 + 0.5 * jitter())
        });
        progress.note(&format!(
            "{why}; retrying in {:.1}s (attempt {})",
            delay.as_secs_f64(),
            failures + 1
        ));
        std::thread::sleep(delay);
    }

    pub(crate) fn max_attempts() -> u32 {
        MAX_ATTEMPTS
    }

    pub(crate) fn max_total_attempts() -> u32 {
        MAX_TOTAL_ATTEMPTS
    }

    pub(crate) fn get_range(
        &self,
        target: &Target,
        start: u64,
        end: u64,
    ) -> Result<Response, String> {
        self.get(target, Some((start, Some(end))))
    }
}

pub(crate) fn too_slow(bytes: u64, window: Duration, min_rate: u64) -> String {
    format!(
        "too slow: {bytes} bytes in {:.1}s, under the minimum of {min_rate} bytes/s (ZOO_MIN_RATE)",
        window.as_secs_f64()
    )
}

pub(crate) enum Class {
    Body,
    Retry,
    RangeNotSatisfiable,
    Fatal,
}

pub(crate) fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        200 | 206 => Class::Body,
        416 => Class::RangeNotSatisfiable,
        408 | 425 | 429 | 500..=599 => Class::Retry,
        _ => Class::Fatal,
    }
}

pub(crate) fn http_error_message(status: StatusCode, response: &Response) -> String {
    let code = response
        .headers()
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (status.as_u16(), code) {
        (401 | 403, "GatedRepo") => {
            "this repository is gated: accept its terms on the hub, then set HF_TOKEN".to_owned()
        }
        (401, _) => "authentication required: set HF_TOKEN to a token with access".to_owned(),
        (403, _) => "access denied: check that HF_TOKEN has access to this repository".to_owned(),
        (404, "RepoNotFound") => "repository not found (or private: set HF_TOKEN)".to_owned(),
        (404, "RevisionNotFound") => "revision not found".to_owned(),
        (404, "EntryNotFound") => "file not found in the repository".to_owned(),
        (404, _) => "not found (HTTP 404)".to_owned(),
        _ => format!("HTTP {status}"),
    }
}

pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, std::time::SystemTime::now())
}

/// A 206 must say it carries exactly the bytes asked for: from `start` (to
/// `end`, when a closed range was asked for) of a resource of `total` bytes
/// (when known). On mismatch, returns how the server answered, fit to print.
pub(crate) fn check_content_range(
    response: &Response,
    start: u64,
    end: Option<u64>,
    total: Option<u64>,
) -> Result<ContentRange, String> {
    let raw = response.headers().get(CONTENT_RANGE);
    let Some(text) = raw.and_then(|v| v.to_str().ok()) else {
        return Err(match raw {
            None => "a 206 without Content-Range".to_owned(),
            Some(_) => "an unreadable Content-Range".to_owned(),
        });
    };
    let shown = || format!("Content-Range: {}", TerminalSafe::shortened(text, 80));
    let range = ContentRange::parse(text).ok_or_else(shown)?;
    let fits = range.start == start
        && end.is_none_or(|e| range.end == e)
        && total.is_none_or(|t| range.total == Some(t) && (end.is_some() || range.end + 1 == t));
    if fits { Ok(range) } else { Err(shown()) }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg
            .replace(url.as_str(), "")
            .replace(" ()", "")
            .trim()
            .to_owned();
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    if e.is_timeout() {
        msg = format!("timed out ({msg}; ZOO_CONNECT_TIMEOUT, ZOO_STALL_TIMEOUT)");
    }
    TerminalSafe::shortened(&msg, 400).to_string()
}

pub(crate) fn describe_io(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut {
        "stalled: no data within the stall timeout (ZOO_STALL_TIMEOUT)".to_owned()
    } else {
        TerminalSafe::shortened(&e.to_string(), 400).to_string()
    }
}

/// A number in [0, 1) that differs between processes and calls, enough to spread
/// retries of concurrent clients without a random-number dependency.
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(0x9E37_79B9, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Parts for a ranged download: `(start, len)` pairs covering `size`.
pub(crate) fn plan_parts(size: u64) -> Vec<(u64, u64)> {
    let count = size.div_ceil(PARALLEL_PART).clamp(1, 1024);
    let part = size.div_ceil(count);
    (0..count)
        .map(|i| {
            let start = i * part;
            (start, part.min(size - start))
        })
        .filter(|(_, len)| *len > 0)
        .collect()
}

pub(crate) fn parallelism() -> u64 {
    MAX_PARALLEL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_file_without_gaps_or_overlap() {
        for size in [
            1,
            PARALLEL_PART - 1,
            PARALLEL_PART,
            PARALLEL_PART + 1,
            PARALLEL_THRESHOLD,
            80 << 20,
            (1 << 40) + 7,
            u64::MAX / 2,
        ] {
            let parts = plan_parts(size);
            assert!(!parts.is_empty() && parts.len() <= 1024, "{size}");
            let mut next = 0;
            for &(start, len) in &parts {
                assert_eq!(start, next, "gap or overlap at {start} for {size}");
                assert!(len > 0);
                next = start + len;
            }
            assert_eq!(next, size, "parts of {size} do not end at the end");
        }
        assert_eq!(plan_parts(80 << 20).len(), 3);
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let http = Http::new(Some("hf_very_secret".to_owned())).unwrap();
        let shown = format!("{http:?}");
        assert!(!shown.contains("hf_very_secret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        assert_eq!(http.token(), Some("hf_very_secret"));
    }

    #[test]
    fn status_classes() {
        for (code, want) in [
            (200, "body"),
            (206, "body"),
            (416, "416"),
            (429, "retry"),
            (503, "retry"),
            (408, "retry"),
            (404, "fatal"),
            (401, "fatal"),
            (302, "fatal"),
        ] {
            let got = match classify(StatusCode::from_u16(code).unwrap()) {
                Class::Body => "body",
                Class::Retry => "retry",
                Class::RangeNotSatisfiable => "416",
                Class::Fatal => "fatal",
            };
            assert_eq!(got, want, "{code}");
        }
    }
}
