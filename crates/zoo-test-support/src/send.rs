//! Writing one response, byte by byte, under a fault plan.
//!
//! The log entry is created before the first byte goes out and updated before
//! each chunk is written, so by the time a client has seen bytes the log
//! already counts them; a failed write takes them back.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::catalog::Source;
use crate::faults::BodyPlan;
use crate::http::{self, Request};
use crate::routes::{Body, Response};
use crate::server::{POLL, RequestRecord, lock};

const CHUNK: usize = 64 * 1024;

/// The connection being answered, with what sending needs of the server.
pub(crate) struct Conn<'a> {
    pub stream: &'a mut TcpStream,
    pub log: &'a Mutex<Vec<RequestRecord>>,
    pub stop: &'a AtomicBool,
}

/// Index of a log entry, updated as bytes go out so that the log is right by
/// the time the client has seen them.
struct LogSlot<'a> {
    log: &'a Mutex<Vec<RequestRecord>>,
    index: usize,
}

impl LogSlot<'_> {
    fn update(&self, f: impl FnOnce(&mut RequestRecord)) {
        if let Some(r) = lock(self.log).get_mut(self.index) {
            f(r);
        }
    }
}

/// Sends `resp` (only its head for `HEAD`) as `plan` says and logs it.
/// Returns whether the connection can carry another request.
pub(crate) fn respond(
    conn: Conn<'_>,
    req: &Request,
    resp: Response,
    plan: &BodyPlan,
    record: RequestRecord,
) -> bool {
    let Conn { stream, log, stop } = conn;
    let is_head = req.method == "HEAD";
    let body_len = resp.body.len();
    let announced = body_len + plan.extra_length;
    let to_send = if is_head {
        0
    } else if plan.endless {
        u64::MAX
    } else {
        plan.cut_after.map_or(body_len, |c| c.min(body_len))
    };
    let mut headers = resp.headers;
    if plan.endless {
        // No length: the body ends when the connection does, which is never.
        headers.push(("Connection".into(), "close".into()));
    } else {
        headers.push(("Content-Length".into(), announced.to_string()));
        if !req.keep_alive {
            headers.push(("Connection".into(), "close".into()));
        }
    }
    let cut_planned = !is_head && (plan.endless || to_send < announced);

    // Open the file before the head goes out, so a vanished file can still be a 500.
    let mut reader = match &resp.body {
        Body::File { source, start, .. } if !is_head => match open_at(source, *start) {
            Ok(r) if plan.endless => {
                Some(Box::new(r.chain(io::repeat(0x5a))) as Box<dyn Read + Send>)
            }
            Ok(r) => Some(r),
            Err(e) => {
                let msg = format!("cannot read fixture file: {e}\n");
                let _ = http::write_head(
                    stream,
                    500,
                    &[("Content-Length".into(), msg.len().to_string())],
                );
                let _ = stream.write_all(msg.as_bytes());
                return false;
            }
        },
        _ => None,
    };

    let slot = {
        let mut entries = lock(log);
        entries.push(RequestRecord {
            cut: cut_planned,
            ..record
        });
        LogSlot {
            log,
            index: entries.len() - 1,
        }
    };
    let mut head = Vec::new();
    let _ = http::write_head(&mut head, resp.status, &headers);
    let ok = match (&resp.body, reader.as_mut()) {
        (Body::Bytes(bytes), _) => {
            if !is_head {
                head.extend_from_slice(&bytes[..to_send as usize]);
                slot.update(|r| r.body_bytes = to_send);
            }
            stream.write_all(&head).is_ok()
        }
        (Body::File { .. }, Some(reader)) => {
            stream.write_all(&head).is_ok()
                && send_file(stream, stop, reader.as_mut(), to_send, plan, &slot)
        }
        (Body::File { .. }, None) => stream.write_all(&head).is_ok(),
    };
    if !ok {
        slot.update(|r| r.cut = true);
        return false;
    }
    !cut_planned
}

fn open_at(source: &Source, start: u64) -> io::Result<Box<dyn Read + Send>> {
    Ok(match source {
        Source::Mem(bytes) => Box::new(SharedReader {
            bytes: Arc::clone(bytes),
            pos: usize::try_from(start).unwrap_or(usize::MAX),
        }),
        Source::Disk(path) => {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(start))?;
            Box::new(file)
        }
    })
}

/// Reads an in-memory fixture without copying it per request.
struct SharedReader {
    bytes: Arc<Vec<u8>>,
    pos: usize,
}

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Streams `to_send` bytes with the plan's corruption, stall and throttle.
/// Returns false if the client went away.
fn send_file(
    stream: &mut TcpStream,
    stop: &AtomicBool,
    reader: &mut dyn Read,
    to_send: u64,
    plan: &BodyPlan,
    slot: &LogSlot<'_>,
) -> bool {
    let chunk = match (plan.trickle, plan.throttle) {
        (Some((bytes, _)), _) => bytes.clamp(1, CHUNK as u64) as usize,
        (None, Some(rate)) => (rate / 20).clamp(1, CHUNK as u64) as usize,
        (None, None) => CHUNK,
    };
    let mut buf = vec![0u8; chunk];
    let started = Instant::now();
    let mut sent = 0u64;
    let mut stalled = false;
    while sent < to_send {
        let mut n = (to_send - sent).min(chunk as u64);
        if let Some((after, pause)) = plan.stall
            && !stalled
        {
            if sent == after {
                stalled = true;
                if !pause_while_connected(stream, stop, pause) {
                    return false;
                }
            } else if sent < after {
                n = n.min(after - sent);
            }
        }
        let piece = &mut buf[..n as usize];
        if reader.read_exact(piece).is_err() {
            return false;
        }
        for &offset in &plan.corrupt {
            if (sent..sent + n).contains(&offset) {
                piece[(offset - sent) as usize] ^= 0xFF;
            }
        }
        if let Some((_, every)) = plan.trickle
            && sent > 0
            && !pause_while_connected(stream, stop, Some(every))
        {
            return false;
        }
        if let Some(rate) = plan.throttle {
            let due = Duration::from_secs_f64((sent + n) as f64 / rate as f64);
            if !pause_while_connected(stream, stop, Some(due.saturating_sub(started.elapsed()))) {
                return false;
            }
        }
        // Count before writing: once the client holds the bytes, the log does too.
        slot.update(|r| r.body_bytes += n);
        if stream.write_all(piece).is_err() {
            slot.update(|r| r.body_bytes -= n);
            return false;
        }
        sent += n;
    }
    true
}

/// Sleeps for `pause` (`None`: until the client or server ends the connection).
/// Returns false if the client disconnected or the server is stopping.
fn pause_while_connected(stream: &TcpStream, stop: &AtomicBool, pause: Option<Duration>) -> bool {
    let until = pause.map(|p| Instant::now() + p);
    loop {
        let now = Instant::now();
        if until.is_some_and(|u| now >= u) {
            return true;
        }
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let step = until.map_or(POLL, |u| (u - now).min(POLL));
        if pause.is_none_or(|p| p >= POLL) {
            // A zero-length peek means the client closed its end.
            let mut probe = [0u8; 1];
            match stream.peek(&mut probe) {
                Ok(0) => return false,
                Ok(_) => thread::sleep(step),
                Err(e) if http::is_timeout(&e) => {}
                Err(_) => return false,
            }
        } else {
            thread::sleep(step);
        }
    }
}
