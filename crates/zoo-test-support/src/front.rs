//! A front for an [`crate::OciRegistry`]: a second origin on 127.0.0.1 that
//! relays every request (bodies included) to the registry, records it, and on
//! demand plays a registry with the Bearer token flow, or a broken or hostile
//! one.
//!
//! - [`RegistryFront::require_token`]: `/v2/*` without `Authorization: Bearer
//!   <token>` is answered 401 with `WWW-Authenticate: Bearer
//!   realm="<front>/token",service="test",scope="repository:<repo>:pull"`
//!   (`pull,push` for writes); `GET /token` hands out the token for Basic
//!   `user:password` only, as Docker Hub's and Harbor's token services do.
//! - [`RegistryFront::corrupt_blob`]: the blob's bytes are changed on the way
//!   (same length), so they no longer match its digest.
//! - [`RegistryFront::oversize_manifests`]: every manifest GET is answered
//!   with a body of that many bytes.
//! - [`RegistryFront::throttle_blobs`]: blob downloads trickle, so a pull can
//!   be killed in the middle of one.
//!
//! The registry builds its `Location` headers from the `Host` a client sent,
//! which the front passes on: uploads stay on the front.
//!
//! ```no_run
//! use zoo_test_support::{OciRegistry, RegistryFront};
//!
//! let Some(registry) = OciRegistry::start() else { return };
//! let front = RegistryFront::start(&registry.host());
//! let token = front.require_token("alice", "s3cret");
//! // zoo push ... {front.host()}/team/m:v1 with a Docker config for front.host()
//! assert!(front.log().iter().any(|r| r.path.starts_with("/token?")));
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::server::lock;

/// Largest request or response head handled.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body relayed (a test's blobs are tens of MiB at most).
const MAX_BODY: usize = 256 << 20;
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// The realm's `service`.
pub const FRONT_SERVICE: &str = "test";

/// One request as the front saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontRecord {
    pub method: String,
    /// The request target: raw path plus `?query`.
    pub path: String,
    /// Every request header, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The status the client got (0 when nothing was answered).
    pub status: u16,
    /// Request body bytes (what a client uploaded).
    pub request_bytes: u64,
    /// Response body bytes sent back (what a client downloaded).
    pub response_bytes: u64,
}

impl FrontRecord {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a GET of the blob `sha256:<hex>`.
    pub fn is_blob_get(&self, hex: &str) -> bool {
        self.method == "GET" && self.path.contains(&format!("/blobs/sha256:{hex}"))
    }
}

#[derive(Debug, Default)]
struct Settings {
    /// (user, password, token) when the token flow is on.
    auth: Option<(String, String, String)>,
    corrupt: Vec<String>,
    oversize_manifests: Option<usize>,
    /// Bytes per second for blob downloads.
    throttle: Option<u64>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    port: u16,
    settings: Mutex<Settings>,
    log: Mutex<Vec<FrontRecord>>,
    stop: AtomicBool,
}

/// Relays to a registry on `127.0.0.1:PORT`, one request per connection.
/// Dropping it stops accepting.
#[derive(Debug)]
pub struct RegistryFront {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl RegistryFront {
    /// Starts on a free port, in front of `upstream` (`127.0.0.1:PORT`, or
    /// `http://127.0.0.1:PORT`).
    ///
    /// # Panics
    /// If binding fails.
    pub fn start(upstream: &str) -> RegistryFront {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the registry front");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            upstream,
            port,
            settings: Mutex::new(Settings::default()),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("zoo-front-accept".into())
                .spawn(move || accept_loop(&shared, &listener))
                .unwrap()
        };
        RegistryFront {
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.shared.port)
    }

    /// Turn the Bearer token flow on: only `user:password` gets a token,
    /// `<token>-pull` or `<token>-push` by the scope asked for (a pull token
    /// is refused for writes). Returns `<token>`, the prefix of both (a test
    /// checks it is never printed).
    pub fn require_token(&self, user: &str, password: &str) -> String {
        let token = format!("zoo-test-token-{}-{}", std::process::id(), self.shared.port);
        lock(&self.shared.settings).auth =
            Some((user.to_owned(), password.to_owned(), token.clone()));
        token
    }

    /// Change the bytes of every GET of blob `sha256:<hex>` (same length).
    pub fn corrupt_blob(&self, hex: &str) {
        lock(&self.shared.settings).corrupt.push(hex.to_owned());
    }

    /// Answer every manifest GET with a `bytes`-long manifest-typed body.
    pub fn oversize_manifests(&self, bytes: usize) {
        lock(&self.shared.settings).oversize_manifests = Some(bytes);
    }

    /// Send blob downloads at `bytes_per_second` (`None`: full speed), so a
    /// test can kill a pull in the middle of a blob. The record of a throttled
    /// download counts the bytes the socket accepted (some may have been in
    /// its buffers when the client died).
    pub fn throttle_blobs(&self, bytes_per_second: Option<u64>) {
        lock(&self.shared.settings).throttle = bytes_per_second;
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<FrontRecord> {
        lock(&self.shared.log).clone()
    }

    /// Forget the requests so far.
    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Response body bytes of the GETs of blob `sha256:<hex>`.
    pub fn blob_bytes_served(&self, hex: &str) -> u64 {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.is_blob_get(hex))
            .map(|r| r.response_bytes)
            .sum()
    }

    /// Request body bytes clients uploaded (PATCH, PUT and POST bodies).
    pub fn bytes_uploaded(&self) -> u64 {
        lock(&self.shared.log).iter().map(|r| r.request_bytes).sum()
    }
}

impl Drop for RegistryFront {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                let _ = thread::Builder::new()
                    .name("zoo-front-conn".into())
                    .spawn(move || {
                        let _ = serve_one(&shared, stream);
                    });
            }
            Err(_) => thread::sleep(crate::server::POLL),
        }
    }
}

/// An HTTP message head: the first line and the headers.
struct Head {
    line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut raw = Vec::new();
    while !raw.ends_with(b"\r\n\r\n") {
        if raw.len() > MAX_HEAD {
            return Err(bad("head too large"));
        }
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Err(bad("no head"));
        }
        raw.extend_from_slice(&line);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Head { line, headers })
}

/// A message body: `Content-Length` bytes, chunked, or (for responses) up to
/// the end of the connection.
fn read_body(r: &mut impl BufRead, head: &Head, to_eof: bool) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if head
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if n == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t == "\r\n" {
                        return Ok(body);
                    }
                }
            }
            if body.len() + n > MAX_BODY {
                return Err(bad("body too large"));
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    }
    if let Some(len) = head.get("content-length") {
        let n: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if to_eof {
        r.take(MAX_BODY as u64).read_to_end(&mut body)?;
    }
    Ok(body)
}

/// The repository of a `/v2/<repo>/(blobs|manifests|tags)/...` path.
fn repository(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    ["/blobs/", "/manifests/", "/tags/"]
        .iter()
        .filter_map(|k| rest.find(k))
        .min()
        .map(|i| &rest[..i])
}

/// A response made by the front itself.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json_answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn serve_one(shared: &Shared, stream: TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut client = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    let mut parts = head.line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    if head
        .get("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &head, false)?;
    let mut record = FrontRecord {
        method: method.clone(),
        path: path.clone(),
        headers: head.headers.clone(),
        status: 0,
        request_bytes: body.len() as u64,
        response_bytes: 0,
    };
    let result = answer(shared, &head, &method, &path, body);
    let (status, mut headers, mut body) = match result {
        Ok(a) => (a.status, a.headers, a.body),
        Err(e) => {
            lock(&shared.log).push(record);
            return Err(e);
        }
    };
    record.status = status;
    {
        let settings = lock(&shared.settings);
        if method == "GET"
            && (status == 200 || status == 206)
            && settings.corrupt.iter().any(|d| record.is_blob_get(d))
            && !body.is_empty()
        {
            let mid = body.len() / 2;
            body[mid] ^= 0xff;
        }
    }
    // HEAD answers keep the upstream's Content-Length and carry no body.
    let length = if method == "HEAD" {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or_else(|| "0".to_owned(), |(_, v)| v.clone())
    } else {
        body.len().to_string()
    };
    headers.retain(|(n, _)| {
        !["connection", "transfer-encoding", "content-length"]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
    });
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in &headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    if method == "HEAD" {
        body.clear();
    }
    let throttle = lock(&shared.settings)
        .throttle
        .filter(|_| method == "GET" && path.contains("/blobs/sha256:"));
    let Some(rate) = throttle else {
        record.response_bytes = body.len() as u64;
        lock(&shared.log).push(record);
        client.write_all(out.as_bytes())?;
        // A client that stops reading (a refused oversized answer) ends it here.
        client.write_all(&body)?;
        return client.flush();
    };
    let mut written = 0;
    let sent = client.write_all(out.as_bytes()).and_then(|()| {
        for piece in body.chunks(64 << 10) {
            client.write_all(piece)?;
            client.flush()?;
            written += piece.len() as u64;
            thread::sleep(Duration::from_secs_f64(
                piece.len() as f64 / rate.max(1) as f64,
            ));
        }
        Ok(())
    });
    record.response_bytes = written;
    lock(&shared.log).push(record);
    sent
}

/// The front's own answer (auth, faults), or the upstream's.
fn answer(
    shared: &Shared,
    head: &Head,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> io::Result<Answer> {
    let (auth, oversize) = {
        let s = lock(&shared.settings);
        (s.auth.clone(), s.oversize_manifests)
    };
    if let Some((user, password, token)) = &auth {
        if path == "/token" || path.starts_with("/token?") {
            let expected = format!("Basic {}", base64_basic(&format!("{user}:{password}")));
            // The token says what it allows: a pull token cannot push.
            let push = path.contains("push");
            let token = format!("{token}-{}", if push { "push" } else { "pull" });
            return Ok(if head.get("authorization") == Some(expected.as_str()) {
                json_answer(
                    200,
                    &format!(r#"{{"token":"{token}","access_token":"{token}","expires_in":300}}"#),
                )
            } else {
                json_answer(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                )
            });
        }
        let read = method == "GET" || method == "HEAD";
        let allowed =
            |kind: &str| head.get("authorization") == Some(&format!("Bearer {token}-{kind}"));
        if path.starts_with("/v2/") && !(allowed("push") || read && allowed("pull")) {
            let actions = if read { "pull" } else { "pull,push" };
            let mut challenge = format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"{FRONT_SERVICE}\"",
                shared.port
            );
            if let Some(repo) = repository(path) {
                challenge.push_str(&format!(",scope=\"repository:{repo}:{actions}\""));
            }
            let mut a = json_answer(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            );
            a.headers.push(("WWW-Authenticate".into(), challenge));
            a.headers.push((
                "Docker-Distribution-Api-Version".into(),
                "registry/2.0".into(),
            ));
            return Ok(a);
        }
    }
    if let Some(size) = oversize
        && method == "GET"
        && path.contains("/manifests/")
    {
        let prefix = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":""#;
        let suffix = r#""}}"#;
        let mut body = prefix.as_bytes().to_vec();
        body.resize(size.saturating_sub(suffix.len()).max(prefix.len()), b'a');
        body.extend_from_slice(suffix.as_bytes());
        return Ok(Answer {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            )],
            body,
        });
    }
    forward(shared, head, method, &body)
}

fn forward(shared: &Shared, head: &Head, method: &str, body: &[u8]) -> io::Result<Answer> {
    let mut out = format!("{}\r\n", head.line);
    for (n, v) in &head.headers {
        // The registry behind has no auth: the front's token is not its.
        if ![
            "connection",
            "transfer-encoding",
            "content-length",
            "expect",
            "authorization",
        ]
        .iter()
        .any(|h| n.eq_ignore_ascii_case(h))
        {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let up = TcpStream::connect(&shared.upstream)?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut w = up.try_clone()?;
    w.write_all(out.as_bytes())?;
    w.write_all(body)?;
    w.flush()?;
    let mut r = BufReader::new(up);
    let resp = read_head(&mut r)?;
    let status = resp
        .line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else {
        read_body(&mut r, &resp, true)?
    };
    Ok(Answer {
        status,
        headers: resp.headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    }
}

/// Standard base64 with padding, for a Basic `Authorization` value.
fn base64_basic(text: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64_basic("u:hunter2"), "dTpodW50ZXIy");
        assert_eq!(base64_basic("a"), "YQ==");
        assert_eq!(base64_basic("ab"), "YWI=");
        assert_eq!(base64_basic("abc"), "YWJj");
    }

    #[test]
    fn repositories_are_read_from_paths() {
        assert_eq!(repository("/v2/team/m/blobs/sha256:ab"), Some("team/m"));
        assert_eq!(repository("/v2/a/b/c/manifests/v1"), Some("a/b/c"));
        assert_eq!(repository("/v2/x/blobs/uploads/?mount=1"), Some("x"));
        assert_eq!(repository("/v2/"), None);
    }
}
