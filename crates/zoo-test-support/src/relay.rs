//! A recording relay: a second origin on 127.0.0.1 in front of a server.
//!
//! A test puts a [`Relay`] in front of a [`crate::HubServer`] to see every
//! request header a client sent (the Hub server's own log keeps no headers),
//! and to make the Hub's LFS redirects point at another host, as the real Hub's
//! CDN does: a client must not carry the user's token there.
//!
//! ```no_run
//! use zoo_test_support::{FixtureRepo, HubServer, Relay};
//!
//! let repos = || vec![FixtureRepo::new("org/tiny").lfs_file("m.bin", vec![1; 2 << 20])];
//! let (hub, cdn_hub) = (HubServer::start(repos()), HubServer::start(repos()));
//! let cdn = Relay::start(&cdn_hub.endpoint());
//! let front = Relay::start(&hub.endpoint());
//! front.redirect_location(&hub.endpoint(), &cdn.endpoint());
//! // HF_ENDPOINT=front.endpoint(): LFS downloads now go to `cdn`, which logs them.
//! assert!(cdn.log().iter().all(|r| r.header("authorization").is_none()));
//! ```

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::server::lock;

/// Largest request head relayed.
const MAX_HEAD: usize = 64 * 1024;
/// A stuck client or upstream fails the request after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the relay received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRecord {
    pub method: String,
    /// Request target as received: raw path plus `?query`.
    pub path: String,
    /// Every header, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The upstream's status (0 when the upstream did not answer).
    pub status: u16,
    /// When the request head had arrived.
    pub started: Instant,
    /// When the upstream's whole response had arrived (the relay sends it on
    /// after that), so two records whose spans overlap were in flight together.
    pub finished: Instant,
}

impl RelayRecord {
    /// Whether both were in flight at some same moment.
    pub fn overlaps(&self, other: &RelayRecord) -> bool {
        self.started < other.finished && other.started < self.finished
    }

    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Shared {
    upstream: String,
    /// `Location` prefixes to rewrite: (from, to).
    redirects: Mutex<Vec<(String, String)>>,
    log: Mutex<Vec<RelayRecord>>,
    stop: AtomicBool,
}

/// Forwards each request to an upstream `http://127.0.0.1:PORT`, one request
/// per connection, recording it. Dropping it stops accepting.
#[derive(Debug)]
pub struct Relay {
    shared: Arc<Shared>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts on a free port, in front of `upstream` (`http://127.0.0.1:PORT`).
    ///
    /// # Panics
    /// If `upstream` is not such an address or binding fails.
    pub fn start(upstream: &str) -> Relay {
        let addr = upstream
            .strip_prefix("http://")
            .expect("upstream is http://127.0.0.1:PORT")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            upstream: addr,
            ..Shared::default()
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("zoo-relay-accept".into())
                .spawn(move || accept_loop(&shared, &listener))
                .unwrap()
        };
        Relay {
            shared,
            port,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Rewrite `Location` headers starting with `from` to start with `to`.
    pub fn redirect_location(&self, from: &str, to: &str) {
        lock(&self.shared.redirects).push((from.to_owned(), to.to_owned()));
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<RelayRecord> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for Relay {
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
                    .name("zoo-relay-conn".into())
                    .spawn(move || {
                        let _ = relay_one(&shared, stream);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(crate::server::POLL);
            }
            Err(_) => thread::sleep(crate::server::POLL),
        }
    }
}

/// Reads bytes up to and including the blank line ending an HTTP head.
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no request head",
            ));
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn relay_one(shared: &Shared, mut client: TcpStream) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    let head = String::from_utf8_lossy(&read_head(&mut client)?).into_owned();
    let started = Instant::now();
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut record = RelayRecord {
        method,
        path,
        headers,
        status: 0,
        started,
        finished: started,
    };

    // Upstream: the same request, one per connection.
    let mut out = format!("{request_line}\r\n");
    for (n, v) in &record.headers {
        if !n.eq_ignore_ascii_case("connection") {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut response = Vec::new();
    let upstream = TcpStream::connect(&shared.upstream).and_then(|mut up| {
        up.set_read_timeout(Some(IO_TIMEOUT))?;
        up.write_all(out.as_bytes())?;
        up.read_to_end(&mut response)
    });
    record.finished = Instant::now();
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        lock(&shared.log).push(record);
        upstream?;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no response head",
        ));
    };
    let (resp_head, body) = (
        String::from_utf8_lossy(&response[..split]).into_owned(),
        &response[split + 4..],
    );
    let mut resp_lines = resp_head.split("\r\n");
    let status_line = resp_lines.next().unwrap_or_default().to_owned();
    record.status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    lock(&shared.log).push(record);

    let redirects = lock(&shared.redirects).clone();
    let mut back = format!("{status_line}\r\n");
    for line in resp_lines {
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        let (n, mut v) = (n.trim(), v.trim().to_owned());
        if n.eq_ignore_ascii_case("connection") {
            continue;
        }
        if n.eq_ignore_ascii_case("location")
            && let Some((from, to)) = redirects.iter().find(|(f, _)| v.starts_with(f.as_str()))
        {
            v = format!("{to}{}", &v[from.len()..]);
        }
        back.push_str(&format!("{n}: {v}\r\n"));
    }
    back.push_str("Connection: close\r\n\r\n");
    client.write_all(back.as_bytes())?;
    client.write_all(body)?;
    client.flush()
}
