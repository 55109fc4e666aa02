//! Response headers zoo acts on, parsed strictly: a server's `Content-Range`
//! decides where bytes land, and its `Retry-After` how long zoo sleeps.

use std::time::{Duration, SystemTime};

/// The longest zoo waits on a server's `Retry-After`.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub start: u64,
    /// Inclusive, as on the wire.
    pub end: u64,
    pub total: Option<u64>,
}

impl ContentRange {
    /// Strict: the `bytes` unit, plain decimal numbers (no sign, no spaces inside),
    /// `START <= END`, and `END < TOTAL` when the total is known. Anything else,
    /// including the unsatisfied form `bytes */TOTAL`, is `None`.
    pub fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let (start, end) = range.split_once('-')?;
        let start = decimal(start)?;
        let end = decimal(end)?;
        let total = match total {
            "*" => None,
            t => Some(decimal(t)?),
        };
        if start > end || total.is_some_and(|t| end >= t) {
            return None;
        }
        Some(ContentRange { start, end, total })
    }
}

fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Retry-After` as seconds or as an HTTP date, relative to `now`, capped at
/// [`MAX_RETRY_AFTER`]. A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if !secs.is_finite() {
            return None;
        }
        return Some(Duration::from_secs_f64(
            secs.clamp(0.0, MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when.duration_since(now).unwrap_or_default();
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_table() {
        let cr = |start, end, total| Some(ContentRange { start, end, total });
        for (text, want) in [
            ("bytes 0-9/10", cr(0, 9, Some(10))),
            ("bytes 5-9/10", cr(5, 9, Some(10))),
            ("bytes 5-9/*", cr(5, 9, None)),
            ("  bytes 0-0/1 ", cr(0, 0, Some(1))),
            (
                "bytes 0-18446744073709551614/18446744073709551615",
                cr(0, u64::MAX - 1, Some(u64::MAX)),
            ),
            ("bytes 9-5/10", None),
            ("bytes 0-10/10", None),
            ("bytes */10", None),
            ("bytes 0-9", None),
            ("bytes -1-9/10", None),
            ("bytes +1-9/10", None),
            ("bytes 1 -9/10", None),
            ("bytes 0x1-9/10", None),
            ("bytes 0-9/ten", None),
            ("items 0-9/10", None),
            ("bytes=0-9/10", None),
            ("bytes 0-99999999999999999999/10", None),
            ("", None),
        ] {
            assert_eq!(ContentRange::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn retry_after_table() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        for (text, want) in [
            ("2", Some(Duration::from_secs(2))),
            (" 0.5 ", Some(Duration::from_millis(500))),
            ("0", Some(Duration::ZERO)),
            ("-3", Some(Duration::ZERO)),
            ("100000", Some(MAX_RETRY_AFTER)),
            ("inf", None),
            ("NaN", None),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("Thu, 22 Oct 2015 07:28:00 GMT", Some(MAX_RETRY_AFTER)),
            (
                "Wednesday, 21-Oct-15 07:28:10 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("soon", None),
            ("", None),
        ] {
            assert_eq!(parse_retry_after(text, now), want, "{text:?}");
        }
    }
}
