//! A raw HTTP/1.1 client for the server tests: it reports exactly what came
//! over the wire (including short bodies), which a real client would hide.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The whole announced body arrived.
    pub complete: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> u64 {
        self.header("content-length").unwrap().parse().unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One connection, reused for several requests (keep-alive).
pub struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Conn {
    pub fn open(endpoint: &str) -> Conn {
        let addr = endpoint.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn {
            stream,
            pending: Vec::new(),
        }
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.stream.set_read_timeout(Some(t)).unwrap();
    }

    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).unwrap();
        self.read_reply(method == "HEAD", usize::MAX)
    }

    /// A GET that stops reading after about `limit` body bytes, like a client
    /// killed mid-download (drop the `Conn` to hang up).
    pub fn get_partial(&mut self, path: &str, limit: usize) -> Reply {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream.write_all(req.as_bytes()).unwrap();
        self.read_reply(false, limit)
    }

    fn read_reply(&mut self, head_only: bool, limit: usize) -> Reply {
        let head_end = loop {
            if let Some(p) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).expect("read response head");
            assert!(n > 0, "connection closed before a response head");
            self.pending.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(self.pending.drain(..head_end + 4).collect()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
            complete: true,
        };
        if head_only {
            return reply;
        }
        let want = reply.content_length() as usize;
        let mut body = std::mem::take(&mut self.pending);
        while body.len() < want.min(limit) {
            let mut chunk = vec![0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        self.pending = body.split_off(want.min(body.len()));
        reply.complete = body.len() == want;
        reply.body = body;
        reply
    }

    /// True once the server has closed this connection.
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }
}

/// A request on a fresh connection.
pub fn get(endpoint: &str, path: &str) -> Reply {
    Conn::open(endpoint).send("GET", path, &[])
}

pub fn send(endpoint: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    Conn::open(endpoint).send(method, path, headers)
}

/// Where `/resolve` points for an LFS file: the CDN path.
pub fn cdn_path(location: &str) -> String {
    let i = location.find("/cdn/").expect("a CDN location");
    location[i..].to_string()
}
