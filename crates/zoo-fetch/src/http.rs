//! Resumable, verified HTTP downloads.
//!
//! Bytes go to a partial file next to their final place; a restarted download
//! (after a dropped connection, a stall or a killed process) continues from the
//! bytes already on disk with an HTTP Range request. The sha256 is computed while
//! streaming (the prefix already on disk is re-read once on resume), and only a
//! file whose size and digest match is handed back for the atomic rename.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, RANGE, RETRY_AFTER};
use sha2::{Digest, Sha256};

use crate::error::FetchError;
use crate::hash::{BUF_SIZE, hex_digest, update_from_reader};
use crate::progress::Progress;

/// Files at least this large are fetched as several ranges at once.
const PARALLEL_THRESHOLD: u64 = 64 << 20;
const PARALLEL_PART: u64 = 32 << 20;
const MAX_PARALLEL: u64 = 4;
/// Consecutive failed attempts (without any byte of progress) before giving up.
const MAX_ATTEMPTS: u32 = 6;

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: Client,
    token: Option<String>,
    backoff_base: Duration,
}

/// What to fetch and what it must turn out to be.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: String,
    /// Card path, for messages and progress.
    pub label: String,
    pub size: Option<u64>,
    /// `None` when the digest is learned from this download (trust on first use).
    pub sha256: Option<String>,
    /// Send the Hugging Face token (never for third-party URLs).
    pub authenticated: bool,
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
        let stall = env_secs(zoo_env::vars::ZOO_STALL_TIMEOUT, 30.0);
        let client = Client::builder()
            .timeout(stall)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("zoo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Http {
                url: String::new(),
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Http {
            client,
            token,
            backoff_base: env_secs(zoo_env::vars::ZOO_RETRY_BASE, 0.5),
        })
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn get(&self, target: &Target, range: Option<(u64, Option<u64>)>) -> Result<Response, String> {
        let mut req = self.client.get(&target.url);
        if let (true, Some(token)) = (target.authenticated, &self.token) {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((start, end)) = range {
            let value = match end {
                Some(end) => format!("bytes={start}-{end}"),
                None => format!("bytes={start}-"),
            };
            req = req.header(RANGE, value);
        }
        // The error's Display can include the URL but never our headers.
        req.send().map_err(|e| describe_reqwest(&e))
    }

    /// Download `target` into `partial`, resuming what is there. On success the
    /// partial file holds exactly the verified bytes.
    pub(crate) fn download(
        &self,
        target: &Target,
        partial: &Path,
        progress: &dyn Progress,
    ) -> Result<Fetched, FetchError> {
        if let Some(parent) = partial.parent() {
            std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
        }
        let ranged = target.size.is_some_and(|s| s >= PARALLEL_THRESHOLD);
        let result = if ranged {
            crate::ranges::download_ranges(self, target, partial, progress)
        } else {
            self.download_sequential(target, partial, progress)
        };
        match result {
            Ok(fetched) => self.check(target, partial, fetched),
            Err(e @ (FetchError::SizeMismatch { .. } | FetchError::HashMismatch { .. })) => {
                // Bytes that contradict the expected file are worthless for a resume.
                let _ = std::fs::remove_file(partial);
                crate::ranges::remove_meta(partial);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn check(
        &self,
        target: &Target,
        partial: &Path,
        fetched: Fetched,
    ) -> Result<Fetched, FetchError> {
        let fail = |e: FetchError| {
            let _ = std::fs::remove_file(partial);
            crate::ranges::remove_meta(partial);
            Err(e)
        };
        if let Some(expected) = target.size
            && expected != fetched.size
        {
            return fail(FetchError::SizeMismatch {
                path: target.label.clone(),
                source_desc: target.url.clone(),
                expected,
                actual: fetched.size,
            });
        }
        if let Some(expected) = &target.sha256
            && *expected != fetched.sha256
        {
            return fail(FetchError::HashMismatch {
                path: target.label.clone(),
                source_desc: target.url.clone(),
                expected: expected.clone(),
                actual: fetched.sha256,
            });
        }
        Ok(fetched)
    }

    fn download_sequential(
        &self,
        target: &Target,
        partial: &Path,
        progress: &dyn Progress,
    ) -> Result<Fetched, FetchError> {
        let mut file = File::options()
            .create(true)
            .append(true)
            .read(true)
            .open(partial)
            .map_err(FetchError::io("cannot open", partial))?;
        let mut have = file
            .metadata()
            .map_err(FetchError::io("cannot stat", partial))?
            .len();
        if target.size.is_some_and(|s| have > s) {
            file.set_len(0)
                .map_err(FetchError::io("cannot truncate", partial))?;
            have = 0;
        }
        let mut hasher = Sha256::new();
        if have > 0 {
            let reader = File::open(partial).map_err(FetchError::io("cannot read", partial))?;
            update_from_reader(&mut hasher, reader, Some(have))
                .map_err(FetchError::io("cannot read", partial))?;
        }
        progress.file_start(&target.label, target.size, have);
        let mut transferred = 0u64;
        let mut failures = 0u32;
        let mut last_error = String::new();
        loop {
            if target.size == Some(have) && have > 0 {
                break;
            }
            if failures >= MAX_ATTEMPTS {
                return Err(FetchError::Http {
                    url: target.url.clone(),
                    message: format!(
                        "giving up after {failures} failed attempts; last: {last_error}"
                    ),
                });
            }
            if failures > 0 && have > 0 {
                progress.note(&format!("{}: resuming at byte {have}", target.label));
            }
            let range = (have > 0).then_some((have, None));
            let response = match self.get(target, range) {
                Ok(r) => r,
                Err(msg) => {
                    failures += 1;
                    last_error = msg;
                    self.wait(failures, None, &last_error, progress);
                    continue;
                }
            };
            let status = response.status();
            match classify(status) {
                Class::Body => {}
                Class::Retry => {
                    failures += 1;
                    last_error = format!("HTTP {status}");
                    let after = retry_after(&response);
                    self.wait(failures, after, &last_error, progress);
                    continue;
                }
                Class::RangeNotSatisfiable => {
                    // The partial file is longer than the resource, or the resource
                    // changed: start over.
                    file.set_len(0)
                        .map_err(FetchError::io("cannot truncate", partial))?;
                    have = 0;
                    hasher = Sha256::new();
                    failures += 1;
                    last_error = "HTTP 416 on resume; restarting".to_owned();
                    continue;
                }
                Class::Fatal => {
                    return Err(FetchError::Http {
                        url: target.url.clone(),
                        message: http_error_message(status, &response),
                    });
                }
            }
            if have > 0 && status == StatusCode::OK {
                // The server ignored our Range header and sends everything again.
                file.set_len(0)
                    .map_err(FetchError::io("cannot truncate", partial))?;
                have = 0;
                hasher = Sha256::new();
                progress.note(&format!(
                    "{}: server does not resume; starting over",
                    target.label
                ));
            } else if status == StatusCode::PARTIAL_CONTENT
                && !content_range_starts_at(&response, have)
            {
                failures += 1;
                last_error = "server answered a different range".to_owned();
                continue;
            }
            let before = have;
            let result = stream_body(
                response,
                &mut file,
                &mut hasher,
                &mut have,
                target.size,
                |n| progress.file_advance(&target.label, n),
            );
            transferred += have - before;
            if have > before {
                failures = 0;
            }
            match result {
                Ok(()) if target.size.is_none_or(|s| s == have) => break,
                Ok(()) => {
                    failures += 1;
                    last_error = format!("connection ended at byte {have}");
                }
                Err(StreamError::Io(e)) => return Err(FetchError::io("cannot write", partial)(e)),
                Err(StreamError::Network(msg)) => {
                    failures += 1;
                    last_error = msg;
                }
                Err(StreamError::TooLong) => {
                    return Err(FetchError::SizeMismatch {
                        path: target.label.clone(),
                        source_desc: target.url.clone(),
                        expected: target.size.unwrap_or(0),
                        actual: have,
                    });
                }
            }
            self.wait(failures, None, &last_error, progress);
        }
        file.flush()
            .map_err(FetchError::io("cannot write", partial))?;
        Ok(Fetched {
            sha256: hex_digest(hasher),
            size: have,
            transferred,
        })
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

    pub(crate) fn get_range(
        &self,
        target: &Target,
        start: u64,
        end: u64,
    ) -> Result<Response, String> {
        self.get(target, Some((start, Some(end))))
    }
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
    if let Ok(secs) = value.trim().parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.clamp(0.0, 300.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Some(wait.min(Duration::from_secs(300)))
}

fn content_range_starts_at(response: &Response, start: u64) -> bool {
    let Some(value) = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .strip_prefix("bytes ")
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<u64>().ok())
        == Some(start)
}

pub(crate) enum StreamError {
    Io(std::io::Error),
    Network(String),
    TooLong,
}

/// Copy a response body to `out`, hashing as it goes. Every byte written is
/// counted in `have` even when the stream fails, so the caller can resume.
fn stream_body(
    mut response: Response,
    out: &mut File,
    hasher: &mut Sha256,
    have: &mut u64,
    size: Option<u64>,
    mut on_bytes: impl FnMut(u64),
) -> Result<(), StreamError> {
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                return Err(StreamError::Network(format!(
                    "connection failed: {}",
                    describe_io(&e)
                )));
            }
        };
        if size.is_some_and(|s| *have + n as u64 > s) {
            return Err(StreamError::TooLong);
        }
        out.write_all(&buf[..n]).map_err(StreamError::Io)?;
        hasher.update(&buf[..n]);
        *have += n as u64;
        on_bytes(n as u64);
    }
}

/// Copy a ranged response body into `out` at `offset`, advancing `done`.
pub(crate) fn stream_range(
    mut response: Response,
    out: &File,
    offset: u64,
    limit: u64,
    done: &AtomicU64,
    mut on_bytes: impl FnMut(u64),
) -> Result<(), StreamError> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                return Err(StreamError::Network(format!(
                    "connection failed: {}",
                    describe_io(&e)
                )));
            }
        };
        let pos = done.load(Ordering::Relaxed);
        if pos + n as u64 > limit {
            return Err(StreamError::TooLong);
        }
        out.write_all_at(&buf[..n], offset + pos)
            .map_err(StreamError::Io)?;
        done.store(pos + n as u64, Ordering::Relaxed);
        on_bytes(n as u64);
    }
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
        msg = format!("timed out ({msg})");
    }
    msg
}

fn describe_io(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut {
        "stalled: no data within the stall timeout (ZOO_STALL_TIMEOUT)".to_owned()
    } else {
        e.to_string()
    }
}

fn env_secs(name: &str, default: f64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(secs)
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
