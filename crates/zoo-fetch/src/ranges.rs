//! Large files as several HTTP ranges at once, written in place into one
//! preallocated partial file. A small JSON sidecar records how far each part got,
//! so a restarted pull (even after `kill -9`) fetches only what is missing. The
//! digest is computed while the parts arrive: a hashing thread follows the
//! contiguous prefix of the file (every part before the first unfinished one,
//! and that one's bytes so far), so when the last byte lands only the tail is
//! left to hash, instead of the whole file in a second pass. Every part's answer
//! must carry the `Content-Range` asked for; any error but a network failure
//! (whose bytes stay valid for a resume) deletes the partial file and sidecar.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::FetchError;
use crate::hash::{hex_digest, update_from_reader};
use crate::http::{
    Class, Fetched, Http, Target, check_content_range, classify, describe_io, http_error_message,
    plan_parts, retry_after, too_slow,
};
use crate::progress::Progress;
use crate::verify::{CopyError, Expected, Sink, SinkError, copy};

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    url: String,
    size: u64,
    parts: Vec<PartState>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct PartState {
    start: u64,
    len: u64,
    done: u64,
}

fn meta_path(partial: &Path) -> PathBuf {
    let mut name = partial.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn meta_tmp_path(partial: &Path) -> PathBuf {
    meta_path(partial).with_extension("json.tmp")
}

pub(crate) fn remove_meta(partial: &Path) {
    let _ = std::fs::remove_file(meta_path(partial));
    let _ = std::fs::remove_file(meta_tmp_path(partial));
}

/// The partial file, its sidecar and the sidecar's temporary file.
fn remove_all(partial: &Path) {
    let _ = std::fs::remove_file(partial);
    remove_meta(partial);
}

/// The sidecar of an earlier run, if it describes this very download and its
/// parts tile the file (a hand-edited or stale one is ignored).
fn load_meta(partial: &Path, target: &Target, size: u64) -> Option<Meta> {
    let text = std::fs::read_to_string(meta_path(partial)).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    let file_len = std::fs::metadata(partial).ok()?.len();
    let mut next = 0u64;
    for p in &meta.parts {
        if p.start != next || p.len == 0 || p.done > p.len {
            return None;
        }
        next = p.start.checked_add(p.len)?;
    }
    (meta.size == size && meta.url == target.url && file_len == size && next == size)
        .then_some(meta)
}

fn save_meta(partial: &Path, meta: &Meta) {
    let path = meta_path(partial);
    let tmp = meta_tmp_path(partial);
    if std::fs::write(&tmp, serde_json::to_vec(meta).expect("meta serializes")).is_err()
        || std::fs::rename(&tmp, &path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Why a part failed, and whether the bytes on disk are still worth resuming.
struct PartFailure {
    error: FetchError,
    resumable: bool,
}

impl PartFailure {
    fn fatal(error: FetchError) -> PartFailure {
        PartFailure {
            error,
            resumable: false,
        }
    }
}

pub(crate) fn download_ranges(
    http: &Http,
    target: &Target,
    expected: &Expected,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<Fetched, FetchError> {
    let size = expected.size.expect("ranged downloads need a known size");
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    }
    let meta = match load_meta(partial, target, size) {
        Some(meta) => meta,
        None => {
            let created = File::create(partial).and_then(|f| f.set_len(size));
            if let Err(e) = created {
                remove_all(partial);
                return Err(FetchError::write_failed(&target.label, partial, e));
            }
            let parts = plan_parts(size)
                .into_iter()
                .map(|(start, len)| PartState {
                    start,
                    len,
                    done: 0,
                })
                .collect();
            let meta = Meta {
                url: target.url.clone(),
                size,
                parts,
            };
            save_meta(partial, &meta);
            meta
        }
    };
    let resumed: u64 = meta.parts.iter().map(|p| p.done).sum();
    progress.file_start(&target.label, Some(size), resumed);

    let file = File::options()
        .write(true)
        .open(partial)
        .map_err(FetchError::io("cannot open", partial))?;
    let done: Vec<AtomicU64> = meta.parts.iter().map(|p| AtomicU64::new(p.done)).collect();
    let queue: Mutex<VecDeque<usize>> = Mutex::new(
        (0..meta.parts.len())
            .filter(|&i| meta.parts[i].done < meta.parts[i].len)
            .collect(),
    );
    let failure: Mutex<Option<PartFailure>> = Mutex::new(None);
    let finished = AtomicBool::new(false);
    let snapshot = || Meta {
        url: meta.url.clone(),
        size,
        parts: meta
            .parts
            .iter()
            .zip(&done)
            .map(|(p, d)| PartState {
                done: d.load(Ordering::Relaxed),
                ..*p
            })
            .collect(),
    };

    let hashed_while_arriving = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..crate::http::parallelism())
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        if failure.lock().expect("lock").is_some() {
                            return;
                        }
                        let Some(i) = queue.lock().expect("lock").pop_front() else {
                            return;
                        };
                        let part = Part {
                            file: &file,
                            path: partial,
                            state: meta.parts[i],
                            total: size,
                            done: &done[i],
                        };
                        if let Err(e) = fetch_part(http, target, part, progress) {
                            failure.lock().expect("lock").get_or_insert(e);
                            return;
                        }
                    }
                })
            })
            .collect();
        let hashing = scope.spawn(|| hash_prefix(partial, &meta.parts, &done, &failure, &finished));
        scope.spawn(|| {
            // Persist progress often enough that a killed pull loses little.
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                save_meta(partial, &snapshot());
            }
        });
        for w in workers {
            let _ = w.join();
        }
        finished.store(true, Ordering::Release);
        hashing.join().ok()
    });
    drop(file);
    if let Some(f) = failure.into_inner().expect("lock") {
        let received = done.iter().any(|d| d.load(Ordering::Relaxed) > 0);
        if f.resumable && received {
            save_meta(partial, &snapshot());
            return Err(f.error);
        }
        remove_all(partial);
        return Err(match f.error {
            FetchError::Http { url, message } => FetchError::Http {
                url,
                message: format!("{message}; the partial download was deleted"),
            },
            other => other,
        });
    }
    let transferred = done.iter().map(|d| d.load(Ordering::Relaxed)).sum::<u64>() - resumed;
    let hashed = match hashed_while_arriving {
        Some(Ok((hasher, n))) if n == size => Ok((hasher, n)),
        // The follower stopped early (it could not read): one pass now.
        _ => {
            let mut hasher = Sha256::new();
            File::open(partial)
                .and_then(|reader| update_from_reader(&mut hasher, reader, None))
                .map(|n| (hasher, n))
                .map_err(FetchError::io("cannot read", partial))
        }
    };
    // Whatever the outcome, the sidecar has served its purpose.
    remove_meta(partial);
    let checked = hashed.and_then(|(hasher, hashed)| {
        let sha256 = hex_digest(hasher);
        expected
            .check(hashed, &sha256)
            .and_then(|()| expected.check_git_file(partial))
            .map(|()| (sha256, hashed))
    });
    match checked {
        Ok((sha256, size)) => Ok(Fetched {
            sha256,
            size,
            transferred,
        }),
        Err(e) => {
            remove_all(partial);
            Err(e)
        }
    }
}

/// Bytes from the start of the file that every part has written: the parts
/// tile the file in order and each is written front to back, so this is every
/// finished part before the first unfinished one, plus that one's bytes.
fn contiguous_prefix(parts: &[PartState], done: &[AtomicU64]) -> u64 {
    let mut end = 0;
    for (p, d) in parts.iter().zip(done) {
        let have = d.load(Ordering::Acquire);
        end = p.start + have;
        if have < p.len {
            break;
        }
    }
    end
}

/// Hash the file as its contiguous prefix grows, until every byte is hashed
/// or the download stops (finished short, or failed). Returns the hasher and
/// how many bytes it took.
fn hash_prefix(
    partial: &Path,
    parts: &[PartState],
    done: &[AtomicU64],
    failure: &Mutex<Option<PartFailure>>,
    finished: &AtomicBool,
) -> std::io::Result<(Sha256, u64)> {
    let size = parts.last().map_or(0, |p| p.start + p.len);
    let reader = File::open(partial)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; crate::hash::BUF_SIZE];
    let mut pos = 0u64;
    while pos < size {
        let prefix = contiguous_prefix(parts, done);
        if pos < prefix {
            let want = (prefix - pos).min(buf.len() as u64) as usize;
            reader.read_exact_at(&mut buf[..want], pos)?;
            hasher.update(&buf[..want]);
            pos += want as u64;
            continue;
        }
        // Caught up: stop when nothing more will come, else wait for bytes.
        let stopped = finished.load(Ordering::Acquire) && contiguous_prefix(parts, done) == pos;
        if stopped || failure.lock().expect("lock").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok((hasher, pos))
}

/// One part of the preallocated file, as a [`Sink`] that never writes outside it.
struct Part<'a> {
    file: &'a File,
    path: &'a Path,
    state: PartState,
    /// Size of the whole file, which every `Content-Range` must announce.
    total: u64,
    done: &'a AtomicU64,
}

impl Sink for Part<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let pos = self.done.load(Ordering::Relaxed);
        let n = bytes.len() as u64;
        if pos + n > self.state.len {
            return Err(SinkError::TooLong { at: pos + n });
        }
        self.file
            .write_all_at(bytes, self.state.start + pos)
            .map_err(SinkError::Io)?;
        // Release: the hashing thread reads these bytes once it sees the count.
        self.done.store(pos + n, Ordering::Release);
        Ok(())
    }
}

fn fetch_part(
    http: &Http,
    target: &Target,
    mut part: Part<'_>,
    progress: &dyn Progress,
) -> Result<(), PartFailure> {
    let mut failures = 0u32;
    let mut attempts = 0u32;
    let mut last_error = String::new();
    // A failure of the server's own making (a wrong range) poisons nothing on
    // disk, but giving up after it leaves no reason to keep the partial file.
    let mut resumable = true;
    let last = part.state.start + part.state.len - 1;
    loop {
        let have = part.done.load(Ordering::Relaxed);
        if have >= part.state.len {
            return Ok(());
        }
        if failures >= Http::max_attempts() || attempts >= Http::max_total_attempts() {
            return Err(PartFailure {
                error: FetchError::Http {
                    url: target.url.clone(),
                    message: format!(
                        "giving up after {attempts} attempts on bytes {}-{last}; last: {last_error}",
                        part.state.start
                    ),
                },
                resumable,
            });
        }
        attempts += 1;
        let from = part.state.start + have;
        let mut response = match http.get_range(target, from, last) {
            Ok(r) => r,
            Err(msg) => {
                failures += 1;
                last_error = msg;
                http.wait(failures, None, &last_error, progress);
                continue;
            }
        };
        let status = response.status();
        match classify(status) {
            Class::Body if status == StatusCode::PARTIAL_CONTENT => {}
            Class::Body => {
                return Err(PartFailure::fatal(FetchError::Http {
                    url: target.url.clone(),
                    message: "server ignores Range requests; cannot fetch in parts".to_owned(),
                }));
            }
            Class::Retry => {
                failures += 1;
                last_error = format!("HTTP {status}");
                http.wait(failures, retry_after(&response), &last_error, progress);
                continue;
            }
            Class::RangeNotSatisfiable | Class::Fatal => {
                return Err(PartFailure::fatal(FetchError::Http {
                    url: target.url.clone(),
                    message: http_error_message(status, &response),
                }));
            }
        }
        if let Err(answer) = check_content_range(&response, from, Some(last), Some(part.total)) {
            failures += 1;
            resumable = false;
            last_error = format!("asked for bytes {from}-{last}, the server sent {answer}");
            http.wait(failures, None, &last_error, progress);
            continue;
        }
        let result = copy(&mut response, &mut part, http.floor(), &mut |n| {
            progress.file_advance(&target.label, n)
        });
        let progressed = part.done.load(Ordering::Relaxed) > have;
        match result {
            Ok(_) if part.done.load(Ordering::Relaxed) >= part.state.len => return Ok(()),
            Ok(_) => {
                failures = if progressed { 1 } else { failures + 1 };
                last_error = "connection ended early".to_owned();
            }
            Err(CopyError::Read(e)) => {
                failures = if progressed { 1 } else { failures + 1 };
                last_error = format!("connection failed: {}", describe_io(&e));
            }
            Err(CopyError::TooSlow { bytes, window }) => {
                failures += 1;
                last_error = too_slow(bytes, window, http.floor().min_rate);
            }
            Err(CopyError::Write(e)) => {
                return Err(PartFailure::fatal(FetchError::write_failed(
                    &target.label,
                    part.path,
                    e,
                )));
            }
            Err(CopyError::TooLong { .. }) => {
                failures += 1;
                last_error = "server sent more than the range".to_owned();
            }
        }
        http.wait(failures, None, &last_error, progress);
    }
}
