//! Just enough HTTP/1.1 to serve the Hub protocol by hand.
//!
//! The server writes every byte itself (no HTTP framework) so that faults such as
//! a cut connection or a lying `Content-Length` can be produced exactly.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest request head accepted; the Hub clients send far less.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed request head. The body, if any, has already been read and dropped:
/// no Hub endpoint served here needs it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as received: raw path plus `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// Whether the client asked to keep the connection open afterwards.
    pub keep_alive: bool,
}

impl Request {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The raw path, without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// Decoded `key=value` pairs of the query string.
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode_query(k), decode_query(v))
            })
            .collect()
    }

    /// Whether the query has `key` set to a true-ish value (`true`, `True`, `1`).
    pub fn query_flag(&self, key: &str) -> bool {
        self.query()
            .iter()
            .any(|(k, v)| k == key && matches!(v.as_str(), "true" | "True" | "1"))
    }
}

/// Outcome of waiting for the next request on a connection.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    Request(Request),
    /// The client closed the connection, idled out, or the server is stopping.
    Closed,
    /// The bytes were not HTTP; answer 400 and close.
    Malformed(&'static str),
}

/// Reads one request head from `stream`, keeping any bytes after it in `buf`
/// (pipelined requests). `stream` must have a short read timeout so `stop` can
/// be polled while the connection idles.
pub(crate) fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    idle_limit: Duration,
    stop: &dyn Fn() -> bool,
) -> ReadOutcome {
    let started = Instant::now();
    let head_len = loop {
        if let Some(pos) = find_head_end(buf) {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return ReadOutcome::Malformed("request head too large");
        }
        if stop() || started.elapsed() > idle_limit {
            return ReadOutcome::Closed;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(0) => return ReadOutcome::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return ReadOutcome::Closed,
        }
    };
    let head: Vec<u8> = buf.drain(..head_len + 4).collect();
    let Ok(head) = String::from_utf8(head) else {
        return ReadOutcome::Malformed("request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return ReadOutcome::Malformed("bad request line");
    };
    if !version.starts_with("HTTP/1.") {
        return ReadOutcome::Malformed("only HTTP/1.x is spoken here");
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return ReadOutcome::Malformed("bad header line");
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        keep_alive: false,
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    if req.header("transfer-encoding").is_some() {
        return ReadOutcome::Malformed("chunked request bodies are not supported");
    }
    let body_len: usize = match req.header("content-length").map(str::parse) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return ReadOutcome::Malformed("bad Content-Length"),
    };
    if discard_body(stream, buf, body_len).is_err() {
        return ReadOutcome::Closed;
    }
    ReadOutcome::Request(req)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Drops a request body (no endpoint here reads one) so the next request parses.
fn discard_body(stream: &mut TcpStream, buf: &mut Vec<u8>, mut len: usize) -> io::Result<()> {
    let from_buf = len.min(buf.len());
    buf.drain(..from_buf);
    len -= from_buf;
    let mut chunk = [0u8; 8192];
    while len > 0 {
        match stream.read(&mut chunk[..len.min(8192)]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => len -= n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Read timeouts surface as either kind depending on the platform.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Writes a status line and headers (the caller supplies `Content-Length`).
pub(crate) fn write_head(
    out: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A `Range` header, resolved against a body of known length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// No usable range: serve everything (RFC 9110 lets servers ignore odd ones).
    Full,
    /// Serve `start..start+len` with 206.
    Part { start: u64, len: u64 },
    /// 416, with `Content-Range: bytes */total`.
    Unsatisfiable,
}

/// Resolves `bytes=a-b`, `bytes=a-` and `bytes=-n` against `total` bytes.
/// Multiple ranges and malformed values are ignored (full body), as many
/// real servers do.
pub(crate) fn parse_range(header: Option<&str>, total: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix range: the last n bytes.
        return match b.parse::<u64>() {
            Ok(0) => RangeSpec::Unsatisfiable,
            Ok(_) if total == 0 => RangeSpec::Unsatisfiable,
            Ok(n) => {
                let len = n.min(total);
                RangeSpec::Part {
                    start: total - len,
                    len,
                }
            }
            Err(_) => RangeSpec::Full,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        None
    } else {
        match b.parse::<u64>() {
            Ok(end) if end >= start => Some(end),
            _ => return RangeSpec::Full,
        }
    };
    if start >= total {
        return RangeSpec::Unsatisfiable;
    }
    let last = end.unwrap_or(total - 1).min(total - 1);
    RangeSpec::Part {
        start,
        len: last - start + 1,
    }
}

/// Percent-decodes a path segment (`+` stays a plus, as in paths).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_query(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeSpec::Full);
        assert_eq!(
            parse_range(Some("bytes=2-4"), 10),
            RangeSpec::Part { start: 2, len: 3 }
        );
        assert_eq!(
            parse_range(Some("bytes=8-"), 10),
            RangeSpec::Part { start: 8, len: 2 }
        );
        assert_eq!(
            parse_range(Some("bytes=8-100"), 10),
            RangeSpec::Part { start: 8, len: 2 }
        );
        assert_eq!(
            parse_range(Some("bytes=-3"), 10),
            RangeSpec::Part { start: 7, len: 3 }
        );
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeSpec::Full);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("refs%2Fpr%2F1"), "refs/pr/1");
        assert_eq!(percent_decode("a%20b+c"), "a b+c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(decode_query("a+b%3D"), "a b=");
    }
}
