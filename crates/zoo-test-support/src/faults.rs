//! Faults the server can inject, and the bookkeeping of which ones are used up.
//!
//! Two families, because they act at different moments:
//! - *status* faults ([`Fault::status`], [`Fault::too_many_requests`]) replace the
//!   whole response of any matching request (API calls, `HEAD`s, downloads);
//! - *body* faults (cut, corrupt, stall, wrong length, throttle) alter how the
//!   bytes of a file are sent, so they only apply to `GET` responses carrying file
//!   content (`/resolve` of a plain file, `/cdn/...` of an LFS file), never to a
//!   redirect, a `HEAD` or JSON. Several body faults may apply to one response.
//!   A body fault is only used up by a body it actually changes: `cut_after(1000)`
//!   lets a 1-byte `Range: bytes=0-0` probe (as `hf-hub` sends) through intact
//!   and still fires on the real download.
//!
//! The *hostile* faults play a server that means harm or is badly broken:
//! [`Fault::trickle`] (a body that never quite stalls), [`Fault::endless`] (no
//! `Content-Length`, bytes until the client hangs up), [`Fault::wrong_content_range`]
//! (a 206 for other bytes than asked), [`Fault::huge_headers`],
//! [`Fault::redirect_to`] (another host or port) and [`Fault::error_text`]
//! (an error whose body and `X-Error-Message` carry any text, escape
//! sequences included).

use std::time::Duration;

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Send this many body bytes, then close the connection.
    CutAfter(u64),
    /// Answer with this status (e.g. 500, 503) and a short text body.
    Status(u16),
    /// Answer 429 with `Retry-After: secs`.
    TooManyRequests { retry_after_secs: u64 },
    /// Flip every bit of the body byte at `offset` (counted from the first byte
    /// of this response's body); the length is unchanged. No effect if the body
    /// is shorter.
    Corrupt { offset: u64 },
    /// Send `after` body bytes, then pause `pause` before the rest; `None`
    /// pauses until the client disconnects (or the server stops).
    Stall { after: u64, pause: Option<Duration> },
    /// Announce `extra` more bytes in `Content-Length` than are sent, then close.
    WrongContentLength { extra: u64 },
    /// Send at most this many body bytes per second.
    Throttle { bytes_per_sec: u64 },
    /// Send `bytes` body bytes, then wait `every`, and so on: slower than any
    /// useful rate yet never silent for long.
    Trickle { bytes: u64, every: Duration },
    /// Send the head without `Content-Length`, then body bytes until the client
    /// goes away (the body's real bytes first, then filler).
    Endless,
    /// Answer a ranged request with a 206 for the bytes from `start` instead of
    /// the ones asked for (same length, clipped to the file), with the matching
    /// `Content-Range`: a server that ignores where a resume starts.
    WrongContentRange { start: u64 },
    /// Add an `X-Padding` header of this many bytes to the response head.
    HugeHeaders { bytes: usize },
    /// Answer `302` to the same target on another server (`http://host:port`).
    RedirectTo { endpoint: String },
    /// Answer `status` with `text` as the body and as `X-Error-Message`.
    ErrorText { status: u16, text: String },
}

/// A fault, its scope and how many times it fires.
///
/// ```
/// use zoo_test_support::Fault;
/// let f = Fault::cut_after(1000).on("model.onnx").times(1);
/// assert_eq!(f.times, Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Only requests whose target (raw path and query) or file (`org/name/path`,
    /// also known for `/cdn/{sha256}` requests) contains this substring;
    /// `None` matches every request.
    pub scope: Option<String>,
    /// Fire for the first `k` matching requests (for body faults: responses
    /// whose body it changes), then stay inert; `None` fires for every one
    /// until [`crate::HubServer::clear_faults`].
    pub times: Option<u32>,
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            scope: None,
            times: None,
        }
    }

    /// Close the connection after `bytes` body bytes.
    pub fn cut_after(bytes: u64) -> Self {
        Self::new(FaultKind::CutAfter(bytes))
    }

    /// Answer with `code` (500, 503, ...) instead of the real response.
    pub fn status(code: u16) -> Self {
        Self::new(FaultKind::Status(code))
    }

    /// Answer 429 with `Retry-After: retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(FaultKind::TooManyRequests { retry_after_secs })
    }

    /// Flip the body byte at `offset`, keeping the length.
    pub fn corrupt_at(offset: u64) -> Self {
        Self::new(FaultKind::Corrupt { offset })
    }

    /// Send `after` bytes, pause for `pause`, then send the rest.
    pub fn stall(after: u64, pause: Duration) -> Self {
        Self::new(FaultKind::Stall {
            after,
            pause: Some(pause),
        })
    }

    /// Send `after` bytes, then nothing until the client gives up.
    pub fn stall_forever(after: u64) -> Self {
        Self::new(FaultKind::Stall { after, pause: None })
    }

    /// Claim `extra` more bytes in `Content-Length` than are sent, then close.
    pub fn wrong_content_length(extra: u64) -> Self {
        Self::new(FaultKind::WrongContentLength { extra })
    }

    /// Limit the body to `bytes_per_sec` (so a test can kill a client mid-download).
    pub fn throttle(bytes_per_sec: u64) -> Self {
        Self::new(FaultKind::Throttle { bytes_per_sec })
    }

    /// Send `bytes` body bytes every `every`.
    pub fn trickle(bytes: u64, every: Duration) -> Self {
        Self::new(FaultKind::Trickle { bytes, every })
    }

    /// No `Content-Length`, and body bytes until the client hangs up.
    pub fn endless() -> Self {
        Self::new(FaultKind::Endless)
    }

    /// Serve ranged requests from `start` instead of where they asked.
    pub fn wrong_content_range(start: u64) -> Self {
        Self::new(FaultKind::WrongContentRange { start })
    }

    /// Pad the response head with `bytes` bytes of header.
    pub fn huge_headers(bytes: usize) -> Self {
        Self::new(FaultKind::HugeHeaders { bytes })
    }

    /// Redirect to the same target on `endpoint` (e.g. another [`crate::HubServer`]).
    pub fn redirect_to(endpoint: impl Into<String>) -> Self {
        Self::new(FaultKind::RedirectTo {
            endpoint: endpoint.into(),
        })
    }

    /// Answer `status` with `text` (any bytes a header line can carry) as body
    /// and `X-Error-Message`.
    pub fn error_text(status: u16, text: impl Into<String>) -> Self {
        Self::new(FaultKind::ErrorText {
            status,
            text: text.into(),
        })
    }

    /// Restrict to requests whose target or file contains `path_substring`.
    pub fn on(mut self, path_substring: impl Into<String>) -> Self {
        self.scope = Some(path_substring.into());
        self
    }

    /// Fire for the first `k` matching requests only.
    pub fn times(mut self, k: u32) -> Self {
        self.times = Some(k);
        self
    }

    /// Replaces the whole response.
    fn is_status(&self) -> bool {
        matches!(
            self.kind,
            FaultKind::Status(_)
                | FaultKind::TooManyRequests { .. }
                | FaultKind::RedirectTo { .. }
                | FaultKind::ErrorText { .. }
        )
    }

    /// Changes the response head or the range served, before the body plan.
    fn is_head(&self) -> bool {
        matches!(
            self.kind,
            FaultKind::WrongContentRange { .. } | FaultKind::HugeHeaders { .. }
        )
    }

    fn matches(&self, keys: &[&str]) -> bool {
        self.scope
            .as_deref()
            .is_none_or(|s| keys.iter().any(|k| k.contains(s)))
    }
}

/// How the body of one response must be mangled: the union of the matching
/// body faults.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BodyPlan {
    pub cut_after: Option<u64>,
    pub corrupt: Vec<u64>,
    pub stall: Option<(u64, Option<Duration>)>,
    pub extra_length: u64,
    pub throttle: Option<u64>,
    /// `(bytes, every)`: see [`FaultKind::Trickle`].
    pub trickle: Option<(u64, Duration)>,
    /// See [`FaultKind::Endless`].
    pub endless: bool,
    /// For the request log.
    pub applied: Vec<FaultKind>,
}

/// The faults currently set on a server, with use counts.
#[derive(Debug, Default)]
pub(crate) struct Armed {
    faults: Vec<(Fault, u32)>,
}

impl Armed {
    pub fn set(&mut self, faults: Vec<Fault>) {
        self.faults = faults.into_iter().map(|f| (f, 0)).collect();
    }

    /// Consumes the first live status fault matching `keys`.
    pub fn take_status(&mut self, keys: &[&str]) -> Option<FaultKind> {
        let (fault, used) = self
            .faults
            .iter_mut()
            .find(|(f, used)| f.is_status() && live(f, *used) && f.matches(keys))?;
        *used += 1;
        Some(fault.kind.clone())
    }

    /// Consumes the first live head fault matching `keys` for which `applies`
    /// holds (e.g. a wrong range only for ranged answers).
    pub fn take_head(
        &mut self,
        keys: &[&str],
        applies: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let (fault, used) = self.faults.iter_mut().find(|(f, used)| {
            f.is_head() && live(f, *used) && f.matches(keys) && applies(&f.kind)
        })?;
        *used += 1;
        Some(fault.kind.clone())
    }

    /// Consumes every live body fault matching `keys` that changes a body of
    /// `len` bytes, and merges them.
    pub fn take_body(&mut self, keys: &[&str], len: u64) -> BodyPlan {
        let mut plan = BodyPlan::default();
        for (fault, used) in &mut self.faults {
            if fault.is_status()
                || fault.is_head()
                || !live(fault, *used)
                || !fault.matches(keys)
                || !changes_body(&fault.kind, len)
            {
                continue;
            }
            *used += 1;
            match fault.kind {
                FaultKind::CutAfter(n) => {
                    plan.cut_after = Some(plan.cut_after.map_or(n, |c| c.min(n)));
                }
                FaultKind::Corrupt { offset } => plan.corrupt.push(offset),
                FaultKind::Stall { after, pause } => plan.stall = Some((after, pause)),
                FaultKind::WrongContentLength { extra } => plan.extra_length += extra,
                FaultKind::Throttle { bytes_per_sec } => {
                    plan.throttle = Some(bytes_per_sec.max(1));
                }
                FaultKind::Trickle { bytes, every } => plan.trickle = Some((bytes.max(1), every)),
                FaultKind::Endless => plan.endless = true,
                _ => {}
            }
            plan.applied.push(fault.kind.clone());
        }
        plan
    }
}

/// Whether a body fault would alter a body of `len` bytes.
fn changes_body(kind: &FaultKind, len: u64) -> bool {
    match *kind {
        FaultKind::CutAfter(n) => n < len,
        FaultKind::Corrupt { offset } => offset < len,
        FaultKind::Stall { after, .. } => after < len,
        _ => true,
    }
}

fn live(fault: &Fault, used: u32) -> bool {
    fault.times.is_none_or(|k| used < k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_and_counted() {
        let mut armed = Armed::default();
        armed.set(vec![
            Fault::status(503).on("a.bin").times(2),
            Fault::cut_after(10).on("a.bin").times(1),
            Fault::throttle(100),
        ]);
        assert_eq!(armed.take_status(&["/x/b.bin"]), None);
        assert_eq!(
            armed.take_status(&["/x/a.bin"]),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            armed.take_status(&["/cdn/00", "x/a.bin"]),
            Some(FaultKind::Status(503))
        );
        assert_eq!(armed.take_status(&["/x/a.bin"]), None);

        // Too short to be cut: the cut waits for a longer body.
        let plan = armed.take_body(&["/x/a.bin"], 10);
        assert_eq!(plan.cut_after, None);
        let plan = armed.take_body(&["/x/a.bin"], 1000);
        assert_eq!(plan.cut_after, Some(10));
        assert_eq!(plan.throttle, Some(100));
        let plan = armed.take_body(&["/x/a.bin"], 1000);
        assert_eq!(plan.cut_after, None);
        assert_eq!(plan.throttle, Some(100));
    }

    #[test]
    fn hostile_kinds_land_in_their_family() {
        let mut armed = Armed::default();
        armed.set(vec![
            Fault::redirect_to("http://127.0.0.1:9").times(1),
            Fault::wrong_content_range(0).times(1),
            Fault::huge_headers(10),
            Fault::trickle(1, Duration::from_millis(5)).times(1),
            Fault::endless().times(1),
        ]);
        assert!(matches!(
            armed.take_status(&["/a"]),
            Some(FaultKind::RedirectTo { .. })
        ));
        assert_eq!(armed.take_status(&["/a"]), None);
        // A head fault that does not apply is not used up.
        assert_eq!(armed.take_head(&["/a"], |_| false), None);
        assert_eq!(
            armed.take_head(&["/a"], |k| matches!(
                k,
                FaultKind::WrongContentRange { .. }
            )),
            Some(FaultKind::WrongContentRange { start: 0 })
        );
        assert_eq!(
            armed.take_head(&["/a"], |_| true),
            Some(FaultKind::HugeHeaders { bytes: 10 })
        );
        let plan = armed.take_body(&["/a"], 100);
        assert_eq!(plan.trickle, Some((1, Duration::from_millis(5))));
        assert!(plan.endless);
        assert!(!armed.take_body(&["/a"], 100).endless);
    }
}
