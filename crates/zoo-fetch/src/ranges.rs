//! Large files as several HTTP ranges at once, written in place into one
//! preallocated partial file. A small JSON sidecar records how far each part got,
//! so a restarted pull (even after `kill -9`) fetches only what is missing. The
//! digest is computed in one pass once every part is in.

use std::collections::VecDeque;
use std::fs::File;
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
    Class, Fetched, Http, StreamError, Target, classify, http_error_message, plan_parts,
    retry_after, stream_range,
};
use crate::progress::Progress;

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

pub(crate) fn remove_meta(partial: &Path) {
    let _ = std::fs::remove_file(meta_path(partial));
}

fn load_meta(partial: &Path, target: &Target, size: u64) -> Option<Meta> {
    let text = std::fs::read_to_string(meta_path(partial)).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    let file_len = std::fs::metadata(partial).ok()?.len();
    (meta.size == size && meta.url == target.url && file_len == size).then_some(meta)
}

fn save_meta(partial: &Path, meta: &Meta) {
    let path = meta_path(partial);
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, serde_json::to_vec(meta).expect("meta serializes")).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

pub(crate) fn download_ranges(
    http: &Http,
    target: &Target,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<Fetched, FetchError> {
    let size = target.size.expect("ranged downloads need a known size");
    let meta = match load_meta(partial, target, size) {
        Some(meta) => meta,
        None => {
            let file = File::create(partial).map_err(FetchError::io("cannot create", partial))?;
            file.set_len(size)
                .map_err(FetchError::io("cannot allocate", partial))?;
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
    let failure: Mutex<Option<FetchError>> = Mutex::new(None);
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

    std::thread::scope(|scope| {
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
                        if let Err(e) =
                            fetch_part(http, target, &file, meta.parts[i], &done[i], progress)
                        {
                            failure.lock().expect("lock").get_or_insert(e);
                            return;
                        }
                    }
                })
            })
            .collect();
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
        finished.store(true, Ordering::Relaxed);
    });
    save_meta(partial, &snapshot());
    if let Some(e) = failure.into_inner().expect("lock") {
        return Err(e);
    }
    let transferred = done.iter().map(|d| d.load(Ordering::Relaxed)).sum::<u64>() - resumed;
    let mut hasher = Sha256::new();
    let reader = File::open(partial).map_err(FetchError::io("cannot read", partial))?;
    let hashed = update_from_reader(&mut hasher, reader, None)
        .map_err(FetchError::io("cannot read", partial))?;
    remove_meta(partial);
    Ok(Fetched {
        sha256: hex_digest(hasher),
        size: hashed,
        transferred,
    })
}

fn fetch_part(
    http: &Http,
    target: &Target,
    file: &File,
    part: PartState,
    done: &AtomicU64,
    progress: &dyn Progress,
) -> Result<(), FetchError> {
    let mut failures = 0u32;
    let mut last_error = String::new();
    loop {
        let have = done.load(Ordering::Relaxed);
        if have >= part.len {
            return Ok(());
        }
        if failures >= Http::max_attempts() {
            return Err(FetchError::Http {
                url: target.url.clone(),
                message: format!("giving up after {failures} failed attempts; last: {last_error}"),
            });
        }
        let response = match http.get_range(target, part.start + have, part.start + part.len - 1) {
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
                return Err(FetchError::Http {
                    url: target.url.clone(),
                    message: "server ignores Range requests; cannot fetch in parts".to_owned(),
                });
            }
            Class::Retry => {
                failures += 1;
                last_error = format!("HTTP {status}");
                http.wait(failures, retry_after(&response), &last_error, progress);
                continue;
            }
            Class::RangeNotSatisfiable | Class::Fatal => {
                return Err(FetchError::Http {
                    url: target.url.clone(),
                    message: http_error_message(status, &response),
                });
            }
        }
        match stream_range(response, file, part.start, part.len, done, |n| {
            progress.file_advance(&target.label, n)
        }) {
            Ok(()) if done.load(Ordering::Relaxed) >= part.len => return Ok(()),
            Ok(()) => {
                last_error = "connection ended early".to_owned();
            }
            Err(StreamError::Io(e)) => {
                return Err(FetchError::Io {
                    context: "cannot write",
                    path: PathBuf::from(&target.label),
                    source: e,
                });
            }
            Err(StreamError::Network(msg)) => last_error = msg,
            Err(StreamError::TooLong) => last_error = "server sent more than the range".to_owned(),
        }
        if done.load(Ordering::Relaxed) > have {
            failures = 0;
        }
        failures += 1;
        http.wait(failures, None, &last_error, progress);
    }
}
